package tlvwire

import (
	"errors"
	"fmt"

	"github.com/bulwark-go/bulwark/tlv/internal/decstate"
)

// Sentinel errors. Package tlv exports the same values under the same names, so
// errors.Is works whichever package a caller tests against.
var (
	// ErrTruncated: the input ends inside a key, a varint or a fixed-size value.
	ErrTruncated = errors.New("tlv: truncated input")
	// ErrOverflow: a varint is longer than 10 bytes or exceeds 2^64-1.
	ErrOverflow = errors.New("tlv: varint overflows 64 bits")
	// ErrTag: a key carries tag 0 or a tag above MaxTag.
	ErrTag = errors.New("tlv: invalid tag")
	// ErrLength: a declared length exceeds the bytes that remain.
	ErrLength = errors.New("tlv: declared length exceeds input")
	// ErrWireType: a known field arrived with a wire type its Go type cannot read (in
	// both modes: reading on would drop or misplace the value).
	ErrWireType = errors.New("tlv: wire type does not match field type")
	// ErrRange: a value does not fit the Go field (narrowing: int64 wire value into int32,
	// float64 not exactly representable as float32, bool other than 0/1, bad time).
	ErrRange = errors.New("tlv: value out of range for field")
	// ErrMalformed: the content of a packed array or of a time value is malformed.
	ErrMalformed = errors.New("tlv: malformed value")
	// ErrNonCanonical: strict mode found a non-minimal varint, fields out of tag order, a
	// duplicate singular field or map key, or an unpacked repeated scalar.
	ErrNonCanonical = errors.New("tlv: non-canonical encoding")
	// ErrDeclaredTag: Marshal found, in a struct's Unknown, a field whose tag the struct
	// declares; writing it would give bytes a strict decoder of that struct rejects (or
	// that decode into the known field), so Marshal refuses.
	ErrDeclaredTag = errors.New("tlv: Unknown holds a field the struct declares")
	// ErrUnknownField: strict mode found a tag the struct does not declare and the struct
	// has no Unknown field to keep it in.
	ErrUnknownField = errors.New("tlv: unknown field")
	// ErrDepth: messages are nested deeper than the depth limit.
	ErrDepth = errors.New("tlv: nesting too deep")
	// ErrTooLarge: the input or a stream frame is longer than the size limit.
	ErrTooLarge = errors.New("tlv: input too large")
	// ErrTooManyElements: more fields and elements than the element limit.
	ErrTooManyElements = decstate.ErrTooManyElements
	// ErrMemoryLimit: decoding would allocate more than the memory budget
	// (by default 8 × len(input) + 64 KiB).
	ErrMemoryLimit = decstate.ErrMemoryLimit
	// ErrUnsupportedType: a Go type or value the codec cannot represent (generated code
	// returns it for a nil receiver).
	ErrUnsupportedType = errors.New("tlv: unsupported type")
)

// DecodeError reports where decoding failed. Offset counts bytes from the start of the
// input given to the decoder (or of the frame, for a stream); Tag is the tag of the field
// being decoded, 0 if the key itself was unreadable. Package tlv's DecodeError is this
// type.
type DecodeError struct {
	Offset int
	Tag    uint32
	Err    error // one of the sentinels above, possibly wrapped
}

func (e *DecodeError) Error() string {
	if e.Tag == 0 {
		return fmt.Sprintf("%v (offset %d)", e.Err, e.Offset)
	}
	return fmt.Sprintf("%v (offset %d, tag %d)", e.Err, e.Offset, e.Tag)
}

// Unwrap returns the underlying sentinel.
func (e *DecodeError) Unwrap() error { return e.Err }

// decodeErr wraps err at offset off unless it already is a *DecodeError.
func decodeErr(off int, tag uint32, err error) error {
	var de *DecodeError
	if errors.As(err, &de) {
		return err
	}
	return &DecodeError{Offset: off, Tag: tag, Err: err}
}
