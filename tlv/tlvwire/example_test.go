package tlvwire_test

import (
	"fmt"

	"github.com/bulwark-go/bulwark/tlv"
	"github.com/bulwark-go/bulwark/tlv/tlvwire"
)

// Point encodes itself: tags 1 and 2, zigzag varints, always written.
type Point struct{ X, Y int64 }

func (p *Point) SizeTLV() int {
	return 2 + tlvwire.SizeZigzag(p.X) + tlvwire.SizeZigzag(p.Y)
}

func (p *Point) AppendTLV(b []byte) ([]byte, error) {
	b = tlvwire.AppendZigzagField(b, 1, p.X)
	return tlvwire.AppendZigzagField(b, 2, p.Y), nil
}

func (p *Point) UnmarshalTLV(data []byte, d *tlvwire.DecodeState) error {
	*p = Point{}
	if d == nil { // called directly: the default limits
		var err error
		if d, err = tlvwire.NewDecodeState(len(data)); err != nil {
			return err
		}
	}
	var last uint32
	for off := 0; off < len(data); {
		tag, wt, n := tlvwire.ConsumeTag(data[off:])
		if n < 0 {
			return d.Error(off, 0, tlvwire.CodeError(n))
		}
		if err := d.Count(1); err != nil {
			return d.Error(off, tag, err)
		}
		if d.Strict() && tag <= last {
			return d.Error(off, tag, tlvwire.ErrNonCanonical)
		}
		last = tag
		if (tag == 1 || tag == 2) && wt == tlvwire.Varint {
			v, m := tlvwire.ConsumeVarint(data[off+n:])
			if m < 0 {
				return d.Error(off+n, tag, tlvwire.CodeError(m))
			}
			if d.Strict() && m != tlvwire.SizeVarint(v) {
				return d.Error(off+n, tag, tlvwire.ErrNonCanonical)
			}
			if tag == 1 {
				p.X = tlvwire.Unzigzag(v)
			} else {
				p.Y = tlvwire.Unzigzag(v)
			}
			off += n + m
			continue
		}
		if d.Strict() {
			return d.Error(off, tag, tlvwire.ErrUnknownField)
		}
		m := tlvwire.ConsumeValue(data[off+n:], wt) // skip a field Point does not know
		if m < 0 {
			return d.Error(off+n, tag, tlvwire.CodeError(m))
		}
		off += n + m
	}
	return nil
}

// A type with its own codec: tlv.Marshal and tlv.Unmarshal call its methods, also when
// it is a field of a tagged struct, and strict mode reaches it through the DecodeState.
func Example() {
	type Segment struct {
		From Point `tlv:"1"`
		To   Point `tlv:"2"`
	}
	b, err := tlv.Marshal(&Segment{From: Point{1, -1}, To: Point{X: 300}})
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", b)

	var s Segment
	err = tlv.DecodeOptions{Strict: true}.Unmarshal(b, &s)
	fmt.Println(s, err)

	// Strict mode rejects an unknown tag 3 inside From; lenient mode skips it.
	odd := []byte{0x0b, 0x06, 0x08, 0x02, 0x10, 0x01, 0x18, 0x07}
	fmt.Println(tlv.DecodeOptions{Strict: true}.Unmarshal(odd, &s))
	fmt.Println(tlv.Unmarshal(odd, &s), s.From)
	// Output:
	// 0b 04 08 02 10 01 13 05 08 d8 04 10 00
	// {{1 -1} {300 0}} <nil>
	// tlv: unknown field (offset 6, tag 3)
	// <nil> {1 -1}
}

func ExampleIter() {
	data := tlvwire.AppendStringField(tlvwire.AppendZigzagField(nil, 1, -3), 2, "x")
	it := tlvwire.NewIter(data)
	for it.Next() {
		f := it.Field()
		fmt.Println(f.Tag, f.Type, f.Offset, len(f.Raw))
	}
	fmt.Println(it.Err())
	// Output:
	// 1 varint 0 2
	// 2 bytes 2 3
	// <nil>
}

func ExampleBeginLen() {
	// A nested message by hand: key, reserved length byte, content, length backfilled.
	b := tlvwire.AppendTag(nil, 5, tlvwire.Message)
	b, mark := tlvwire.BeginLen(b)
	b = tlvwire.AppendStringField(b, 2, "hi")
	b = tlvwire.EndLen(b, mark)
	fmt.Printf("% x\n", b)
	// Output:
	// 2b 04 12 02 68 69
}
