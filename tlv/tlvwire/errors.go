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
// input given to the decoder (for a stream Decoder: of the frame, or of the stream for a
// framing error); nested messages and map entries do not restart the count. Package tlv's
// DecodeError is this type. The reflection decoder and generated code report the same
// Offset and Tag for every input (SPEC.md §7), by this rule.
//
// Offset is the first byte of the element that is wrong, which is one of:
//
//   - a field's key: for an error reading the key (ErrTag, and ErrTruncated, ErrOverflow
//     or, strict, ErrNonCanonical inside it) and for an error about the field as a whole:
//     strict tag order or a duplicate singular field (ErrNonCanonical), ErrWireType,
//     ErrUnknownField, strict form (an unpacked repeated scalar, an empty packed field:
//     ErrNonCanonical), and a limit the field exceeds when it is counted or stored
//     (ErrTooManyElements, ErrMemoryLimit). A map entry wrong as a whole (strict: its
//     value field missing, its key not above the previous one) points at its map field's
//     key.
//   - a field's value, which starts right after the key (its varint, its fixed bytes, or
//     the length of a length-delimited value): for an error reading it (ErrTruncated,
//     ErrOverflow, ErrLength, ErrRange, ErrMalformed, and strict ErrNonCanonical of its
//     varint or length). A time value counts as one value, whatever fails inside it.
//   - one element of packed content: for an error about that element (ErrOverflow,
//     ErrRange, strict ErrNonCanonical).
//   - the first byte of a nested message's content, for ErrDepth.
//   - the end of a message's data, for ErrMemoryLimit while sorting its unknown fields.
//   - for the input as a whole: the size limit for ErrTooLarge, and 0 for ErrMemoryLimit
//     when the decode state cannot be handed to the message's own UnmarshalTLV.
//
// The two decoders charge the element and memory limits a little differently (generated
// code does not count a map entry's key and value fields as elements; tlv.Unmarshal
// charges the state it hands to a generated type), so under a tight limit they may stop
// at different fields, each reporting where it stopped by this rule, and an input within a
// few elements or bytes of the limit may be accepted by one and refused by the other. With the default
// limits, TestMutatedInputsAgree, FuzzGeneratedVsReflection and the conformance suite
// hold them to the same sentinel, Offset and Tag. Iter, and package tlv's Validate, Walk
// and Dump, which read without a schema, place the errors they detect by the same rule.
//
// Tag is the tag of the innermost field whose bytes hold Offset: the field whose key,
// value or packed element Offset points at, or for ErrDepth the field holding the nested
// message. A map entry is a message with the key in field 1 and the value in field 2, so
// an error inside an entry carries tag 1 or 2. Tag is 0 when the key at Offset cannot be
// read (ErrTag, a truncated or overflowing key), at the end of a message and for errors
// about the input as a whole.
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
