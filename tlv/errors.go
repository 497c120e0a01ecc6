package tlv

import (
	"errors"

	"github.com/bulwark-go/bulwark/tlv/tlvwire"
)

// Sentinel errors, the same values as tlvwire's. Decoding errors arrive wrapped in a
// *DecodeError; test them with errors.Is.
var (
	// ErrTruncated: the input ends inside a key, a varint or a fixed-size value.
	ErrTruncated = tlvwire.ErrTruncated
	// ErrOverflow: a varint is longer than 10 bytes or exceeds 2^64-1.
	ErrOverflow = tlvwire.ErrOverflow
	// ErrTag: a key carries tag 0 or a tag above 2^29-1.
	ErrTag = tlvwire.ErrTag
	// ErrLength: a declared length exceeds the bytes that remain.
	ErrLength = tlvwire.ErrLength
	// ErrWireType: a known field arrived with a wire type its Go type cannot read (in
	// both modes: reading on would drop or misplace the value).
	ErrWireType = tlvwire.ErrWireType
	// ErrRange: a value does not fit the Go field (narrowing: int64 wire value into int32,
	// float64 not exactly representable as float32, bool other than 0/1, bad time).
	ErrRange = tlvwire.ErrRange
	// ErrMalformed: the content of a packed array or of a time value is malformed.
	ErrMalformed = tlvwire.ErrMalformed
	// ErrNonCanonical: strict mode found a non-minimal varint, fields out of tag order, a
	// duplicate singular field or map key, or an unpacked repeated scalar.
	ErrNonCanonical = tlvwire.ErrNonCanonical
	// ErrDeclaredTag: Marshal found, in a struct's Unknown, a field whose tag the struct
	// declares (see Unknown).
	ErrDeclaredTag = tlvwire.ErrDeclaredTag
	// ErrUnknownField: strict mode found a tag the struct does not declare and the struct
	// has no Unknown field to keep it in.
	ErrUnknownField = tlvwire.ErrUnknownField
	// ErrDepth: messages are nested deeper than MaxDepth.
	ErrDepth = tlvwire.ErrDepth
	// ErrTooLarge: the input or a stream frame is longer than MaxSize.
	ErrTooLarge = tlvwire.ErrTooLarge
	// ErrTooManyElements: more fields and elements than MaxElements.
	ErrTooManyElements = tlvwire.ErrTooManyElements
	// ErrMemoryLimit: decoding would allocate more than the memory budget
	// (MaxMemory, by default 8 × len(input) + 64 KiB).
	ErrMemoryLimit = tlvwire.ErrMemoryLimit
	// ErrUnsupportedType: Marshal or Unmarshal got a Go type the codec cannot represent.
	ErrUnsupportedType = tlvwire.ErrUnsupportedType
	// ErrNotFound: Get found no field at the tag path.
	ErrNotFound = errors.New("tlv: field not found")
)

// DecodeError reports where decoding failed: Offset counts bytes from the start of the
// input given to Unmarshal (or of the frame, for a Decoder's content errors); Tag is the
// tag of the field there; Err is one of the sentinels above, possibly wrapped. It is
// tlvwire.DecodeError, which generated code returns too: for the same input, generated
// code and the reflection decoder return the same sentinel at the same Offset and Tag.
//
// In short (tlvwire.DecodeError has the whole rule): Offset points at the key of the field
// when the key or the field as a whole is wrong (bad tag, tag order, duplicate, wire type,
// unknown field, a limit exceeded storing it), at the value's first byte (just after the
// key) when the value is wrong (truncated, too long, out of range, malformed), and at the
// element itself inside packed content. Tag is the tag of the innermost field containing
// Offset (1 or 2 inside a map entry), 0 when the key there cannot be read. An error a
// type's own UnmarshalTLV returns without a *DecodeError is wrapped at its field's key.
type DecodeError = tlvwire.DecodeError
