// Package tlvwire is the wire layer of package tlv: the functions that append and
// consume keys, varints, fixed-size values and length-delimited values in the tlv
// format (tlv/SPEC.md), the eight wire types, a field iterator, and the decode state that
// carries limits through nested messages. It is to tlv what protowire is to protobuf.
//
// # When to use it instead of tlv
//
// Most programs never import it: tlv.Marshal and tlv.Unmarshal encode Go structs, and
// tlvgen generates reflection-free code for hot paths. Reach for tlvwire to
//
//   - read code that tlvgen generated: it is written against this package;
//   - hand-write a codec for one hot message, or a custom Marshaler/Unmarshaler for a
//     type that tlv cannot describe with struct tags;
//   - build or inspect single fields, for instance the field tlv.Set writes, or iterate
//     over the fields of a record (Iter) without a schema and without allocating.
//
// Functions here do not check canonical form or limits by themselves: the caller does,
// with the DecodeState (strict mode, depth, element and memory limits) when it decodes
// into Go values.
//
// # Quick start
//
// A message is a sequence of fields, each a key (tag and wire type) and a value. A type
// encodes itself by implementing Marshaler and Unmarshaler; tlv.Marshal and
// tlv.Unmarshal then call its methods, also when it is a field of a tagged struct:
//
//	type Point struct{ X, Y int64 }
//
//	func (p *Point) SizeTLV() int {
//		return 2 + tlvwire.SizeZigzag(p.X) + tlvwire.SizeZigzag(p.Y)
//	}
//
//	func (p *Point) AppendTLV(b []byte) ([]byte, error) {
//		b = tlvwire.AppendZigzagField(b, 1, p.X)
//		return tlvwire.AppendZigzagField(b, 2, p.Y), nil
//	}
//
//	func (p *Point) UnmarshalTLV(data []byte, d *tlvwire.DecodeState) error {
//		*p = Point{}
//		for off := 0; off < len(data); {
//			tag, wt, n := tlvwire.ConsumeTag(data[off:])
//			if n < 0 {
//				return d.Error(off, 0, tlvwire.CodeError(n))
//			}
//			if err := d.Count(1); err != nil {
//				return d.Error(off, tag, err)
//			}
//			... // tags 1 and 2: tlvwire.ConsumeVarint, tlvwire.Unzigzag
//			... // other tags: skip with tlvwire.ConsumeValue, or reject if d.Strict()
//		}
//		return nil
//	}
//
// The package example is this codec in full, with strict mode (ascending tags, minimal
// varints, no unknown tags) and a nil DecodeState.
//
// # The contract for generated code
//
// Encoding (append-style, never fails, never allocates beyond growing the buffer):
//
//   - AppendTag(b, tag, wt), AppendVarint, AppendZigzag, AppendFixed32, AppendFixed64,
//     AppendString, AppendBytes (length-prefixed); SizeTag, SizeVarint, SizeZigzag;
//     Zigzag, Unzigzag.
//   - Whole fields: AppendVarintField, AppendZigzagField, AppendBoolField,
//     AppendFixed32Field, AppendFixed64Field, AppendFloat32Field, AppendFloat64Field,
//     AppendStringField, AppendBytesField.
//   - Nested message, packed array or map entry: b = AppendTag(b, tag, Message) (or a
//     Packed* type); b, mark := BeginLen(b); append the content; b = EndLen(b, mark).
//     BeginLen reserves one byte, so content under 128 bytes costs nothing extra.
//   - Map entries are written in ascending order of their encoded key: sort keys with
//     CompareKeyString, CompareKeyInt (zigzag keys) or CompareKeyUint; each entry is a
//     Message field holding the key at tag 1 and the value at tag 2, both always written.
//   - time.Time: CheckTime, then AppendTimeField / SizeTimeField; decode with
//     ConsumeTime(data[off:], wt, d.Strict()) and wrap its sentinel with
//     d.Error(off, tag, err). time.Duration is a zigzag Varint like int64.
//   - Unknown fields (a tlv.Unknown): interleave with u.AppendBefore(b, tag) before each
//     known tag, in ascending order, then append what is left.
//
// Decoding:
//
//   - ConsumeTag, ConsumeVarint, ConsumeFixed32, ConsumeFixed64, ConsumeBytes,
//     ConsumeValue, ConsumeField return a length n; a negative n is an error code that
//     CodeError turns into a sentinel. Strict mode requires minimal varints:
//     n == SizeVarint(v).
//   - WidenFloat32 and NarrowFloat64 convert between float widths as SPEC.md §6 says.
//   - UnmarshalTLV resets the receiver, then decodes within the limits of its
//     *DecodeState: d.Message(content, off, tag, &x.Inner) for nested messages (depth and
//     offsets), d.Count(n) per decoded field or element, d.Alloc(bytes) before every
//     allocation (string and []byte copies, new structs), Grow(d, s, n) to grow a slice,
//     MakeMap(d, n) and GrowMap(d, m, n) for a map's memory (header, tables, growth),
//     d.Strict(), d.Error(off, tag, err); fields it does not know go to its tlv.Unknown
//     (after d.Alloc), sorted at the end with d.SortUnknown. A nil *DecodeState means the
//     defaults: generated code calls NewDecodeState.
//
// # Errors
//
// The sentinel errors are the values package tlv exports under the same names, and
// DecodeError is tlv.DecodeError, so callers of generated code and of tlv test errors the
// same way.
//
// # Performance
//
// AppendTag, AppendVarint, AppendZigzag, AppendString, AppendBytes, AppendFixed32/64,
// the Bool, Fixed and Float field appenders, the Size functions, Zigzag, BeginLen,
// ConsumeFixed32/64 and DecodeState's Alloc, Count and Strict are small enough for the
// compiler to inline into the caller's package; AppendVarintField, AppendZigzagField,
// AppendStringField, AppendBytesField, EndLen and the varint, key and length Consume
// functions are calls (EndLen is just over the inlining budget: the reflection encoder
// writes its one-byte fast path out in its hot loops). Besides growing the buffer the
// caller passes, only SortFields, NewDecodeState, Grow, MakeMap and errors allocate.
package tlvwire
