package decstate

import "errors"

// The sentinel errors of decoding. tlvwire and tlv export them under the same names
// (the same values), documented there.
var (
	ErrTruncated       = errors.New("tlv: truncated input")
	ErrOverflow        = errors.New("tlv: varint overflows 64 bits")
	ErrTag             = errors.New("tlv: invalid tag")
	ErrLength          = errors.New("tlv: declared length exceeds input")
	ErrWireType        = errors.New("tlv: wire type does not match field type")
	ErrRange           = errors.New("tlv: value out of range for field")
	ErrMalformed       = errors.New("tlv: malformed value")
	ErrNonCanonical    = errors.New("tlv: non-canonical encoding")
	ErrUnknownField    = errors.New("tlv: unknown field")
	ErrDepth           = errors.New("tlv: nesting too deep")
	ErrTooLarge        = errors.New("tlv: input too large")
	ErrTooManyElements = errors.New("tlv: too many elements")
	ErrMemoryLimit     = errors.New("tlv: memory budget exceeded")
	ErrUnsupportedType = errors.New("tlv: unsupported type")
)
