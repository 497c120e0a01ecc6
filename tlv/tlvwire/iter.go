package tlvwire

import "math"

// Field is one field as seen by Iter. Value and Raw alias the iterated buffer.
type Field struct {
	Tag    uint32
	Type   WireType
	Offset int    // offset of the key from the start of the buffer given to NewIter
	Num    uint64 // the number of a Varint, Fixed32 or Fixed64 field
	Value  []byte // encoded value: varint bytes, 4 or 8 fixed bytes, or length-delimited content
	Raw    []byte // the whole field, key included
}

// Int returns the zigzag-decoded value of a Varint field.
func (f Field) Int() int64 { return Unzigzag(f.Num) }

// Float64 returns the value of a Fixed64 field as a float64, or of a Fixed32 field widened.
func (f Field) Float64() float64 {
	if f.Type == Fixed32 {
		return float64(math.Float32frombits(uint32(f.Num)))
	}
	return math.Float64frombits(f.Num)
}

// Iter iterates over the fields of one message without allocating. The zero Iter is empty.
//
//	it := tlvwire.NewIter(data)
//	for it.Next() {
//		f := it.Field()
//		...
//	}
//	if err := it.Err(); err != nil { ... }
type Iter struct {
	data  []byte
	off   int
	err   error
	field Field
}

// NewIter returns an iterator over the fields encoded in data.
func NewIter(data []byte) Iter { return Iter{data: data} }

// Next advances to the next field. It returns false at the end of the data or on a
// malformed field; Err tells which.
func (it *Iter) Next() bool {
	if it.err != nil || it.off >= len(it.data) {
		return false
	}
	b := it.data[it.off:]
	tag, wt, n := ConsumeTag(b)
	if n < 0 {
		it.fail(n, it.off, 0)
		return false
	}
	f := Field{Tag: tag, Type: wt, Offset: it.off}
	var m int
	switch wt {
	case Varint:
		f.Num, m = ConsumeVarint(b[n:])
		if m > 0 {
			f.Value = b[n : n+m]
		}
	case Fixed32:
		var v uint32
		v, m = ConsumeFixed32(b[n:])
		f.Num = uint64(v)
		if m > 0 {
			f.Value = b[n : n+m]
		}
	case Fixed64:
		f.Num, m = ConsumeFixed64(b[n:])
		if m > 0 {
			f.Value = b[n : n+m]
		}
	default:
		f.Value, m = ConsumeBytes(b[n:])
	}
	if m < 0 {
		it.fail(m, it.off+n, tag) // the value, just after the key (DecodeError's rule)
		return false
	}
	f.Raw = b[: n+m : n+m]
	it.off += n + m
	it.field = f
	return true
}

func (it *Iter) fail(code, off int, tag uint32) {
	it.err = &DecodeError{Offset: off, Tag: tag, Err: CodeError(code)}
}

// Field returns the current field.
func (it *Iter) Field() Field { return it.field }

// Offset returns the offset of the next unread byte.
func (it *Iter) Offset() int { return it.off }

// Err returns the *DecodeError that stopped the iteration, or nil at a clean end.
func (it *Iter) Err() error { return it.err }
