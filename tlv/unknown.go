package tlv

import "github.com/bulwark-go/bulwark/tlv/tlvwire"

// Unknown holds encoded fields a struct does not declare, kept byte for byte in ascending
// tag order (fields with equal tags in arrival order). A struct field of type Unknown,
// whatever its name and with no tlv tag, receives every field Unmarshal does not recognise;
// Marshal writes them back, each at its canonical position among the known fields.
//
// The bytes are a concatenation of complete fields (key and value), so tlvwire.NewIter, Dump
// and Get all work on an Unknown.
type Unknown []byte

// Add appends the complete encoded field f (copied, not validated). Fields may be added in
// any order; Sorted restores tag order, and Marshal and Unmarshal always leave or write
// Unknown fields sorted. A field whose tag the struct declares does not belong here:
// Marshal refuses it with ErrDeclaredTag (Unmarshal never puts one here: a declared tag
// with a wire type its field cannot read is ErrWireType).
func (u *Unknown) Add(f []byte) { *u = append(*u, f...) }

// Sorted returns u if its fields are in ascending tag order, and otherwise a copy with the
// fields stably sorted by tag (tlvwire.SortFields). Malformed trailing bytes are kept at
// the end unchanged.
func (u Unknown) Sorted() Unknown { return tlvwire.SortFields(u) }

// AppendBefore appends to dst the leading fields of u whose tag is below tag and returns
// the rest of u. Encoders call it before each known tag, in ascending order, to merge
// unknown fields into canonical position.
func (u Unknown) AppendBefore(dst []byte, tag uint32) ([]byte, Unknown) {
	off := 0
	for off < len(u) {
		t, _, n := tlvwire.ConsumeField(u[off:])
		if n < 0 || t >= tag {
			break
		}
		off += n
	}
	if off == 0 {
		return dst, u
	}
	return append(dst, u[:off]...), u[off:]
}

// Valid reports whether u is a sequence of well-formed fields in ascending tag order.
func (u Unknown) Valid() bool {
	var prev uint32
	for b := []byte(u); len(b) > 0; {
		tag, _, n := tlvwire.ConsumeField(b)
		if n < 0 || tag < prev {
			return false
		}
		prev = tag
		b = b[n:]
	}
	return true
}
