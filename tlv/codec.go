package tlv

// Marshaler is implemented by generated code (tlvgen). Marshal and the reflection codec
// call it directly for any value whose pointer implements it.
type Marshaler interface {
	// AppendTLV appends the message's fields (no key or length of its own) in canonical
	// form to dst.
	AppendTLV(dst []byte) ([]byte, error)
	// SizeTLV returns the number of bytes AppendTLV appends.
	SizeTLV() int
}

// Unmarshaler is implemented by generated code. UnmarshalTLV resets the receiver, then
// decodes the message fields in data within the limits and counters of d.
type Unmarshaler interface {
	UnmarshalTLV(data []byte, d *DecodeState) error
}
