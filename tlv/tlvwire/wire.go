package tlvwire

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// WireType is the low three bits of a field key. It tells a reader how to skip the value
// without a schema and, for length-delimited values, what the content is.
type WireType uint8

// The eight wire types. All of them are defined, so any key with a valid tag is skippable.
const (
	Varint        WireType = 0 // unsigned LEB128; bool, uint*, zigzag-encoded int*
	Fixed64       WireType = 1 // 8 bytes little-endian; float64
	Bytes         WireType = 2 // length + opaque bytes; string, []byte
	Message       WireType = 3 // length + nested fields; struct, map entry, time.Time
	PackedVarint  WireType = 4 // length + concatenated varints; repeated bool/int/uint
	Fixed32       WireType = 5 // 4 bytes little-endian; float32
	PackedFixed32 WireType = 6 // length + 4-byte elements; repeated float32
	PackedFixed64 WireType = 7 // length + 8-byte elements; repeated float64
)

// MaxTag is the largest field tag. Tags start at 1; 0 is invalid.
const MaxTag = 1<<29 - 1

// MaxVarintLen is the length of the longest varint (a uint64).
const MaxVarintLen = 10

// String returns the name used by Dump and SPEC.md.
func (wt WireType) String() string {
	switch wt {
	case Varint:
		return "varint"
	case Fixed64:
		return "fixed64"
	case Bytes:
		return "bytes"
	case Message:
		return "message"
	case PackedVarint:
		return "packed-varint"
	case Fixed32:
		return "fixed32"
	case PackedFixed32:
		return "packed-fixed32"
	case PackedFixed64:
		return "packed-fixed64"
	}
	return "invalid"
}

// LengthDelimited reports whether values of wt are a length followed by content.
func (wt WireType) LengthDelimited() bool {
	return wt == Bytes || wt == Message || wt == PackedVarint || wt == PackedFixed32 || wt == PackedFixed64
}

// Error codes returned as a negative n by the Consume functions.
const (
	codeTruncated = -1 // input ends inside a key, varint, fixed value or declared length
	codeOverflow  = -2 // varint longer than 10 bytes or above 2^64-1
	codeTag       = -3 // tag 0 or above MaxTag
	codeLength    = -4 // declared length exceeds the remaining input
	codeMalformed = -5 // packed content that cannot hold whole elements
)

// CodeError converts a negative n returned by a Consume function into its sentinel error
// (ErrTruncated, ErrOverflow, ErrTag, ErrLength, ErrMalformed). It returns nil for n >= 0.
func CodeError(n int) error {
	switch {
	case n >= 0:
		return nil
	case n == codeOverflow:
		return ErrOverflow
	case n == codeTag:
		return ErrTag
	case n == codeLength:
		return ErrLength
	case n == codeMalformed:
		return ErrMalformed
	}
	return ErrTruncated
}

// Zigzag maps signed integers to unsigned ones so that small magnitudes stay small:
// 0→0, -1→1, 1→2, -2→3.
func Zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

// Unzigzag is the inverse of Zigzag.
func Unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// SizeVarint returns the number of bytes AppendVarint writes for v.
func SizeVarint(v uint64) int { return int(9*uint32(bits.Len64(v))+64) / 64 }

// SizeZigzag returns the number of bytes AppendZigzag writes for v.
func SizeZigzag(v int64) int { return SizeVarint(Zigzag(v)) }

// SizeTag returns the size of the key for tag.
func SizeTag(tag uint32) int { return SizeVarint(uint64(tag) << 3) }

// AppendVarint appends v as a minimal unsigned LEB128 varint.
func AppendVarint(b []byte, v uint64) []byte {
	if v < 0x80 {
		return append(b, byte(v))
	}
	if v < 0x4000 {
		return append(b, byte(v)|0x80, byte(v>>7))
	}
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// AppendZigzag appends a signed integer as the varint of its zigzag form.
func AppendZigzag(b []byte, v int64) []byte { return AppendVarint(b, Zigzag(v)) }

// AppendTag appends the key of a field: the varint of tag<<3 | wt. tag must be in
// [1, MaxTag]; the encoder does not check it (plans and generated code are checked once).
func AppendTag(b []byte, tag uint32, wt WireType) []byte {
	return AppendVarint(b, uint64(tag)<<3|uint64(wt))
}

// AppendFixed32 appends v as 4 little-endian bytes.
func AppendFixed32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }

// AppendFixed64 appends v as 8 little-endian bytes.
func AppendFixed64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

// AppendString appends the varint length of s followed by its bytes.
func AppendString(b []byte, s string) []byte {
	return append(AppendVarint(b, uint64(len(s))), s...)
}

// AppendBytes appends the varint length of v followed by v.
func AppendBytes(b []byte, v []byte) []byte {
	return append(AppendVarint(b, uint64(len(v))), v...)
}

// AppendVarintField appends a Varint field holding v (uint*).
func AppendVarintField(b []byte, tag uint32, v uint64) []byte {
	return AppendVarint(AppendTag(b, tag, Varint), v)
}

// AppendZigzagField appends a Varint field holding the zigzag form of v (int*, Duration).
func AppendZigzagField(b []byte, tag uint32, v int64) []byte {
	return AppendVarint(AppendTag(b, tag, Varint), Zigzag(v))
}

// AppendBoolField appends a Varint field holding 0 or 1.
func AppendBoolField(b []byte, tag uint32, v bool) []byte {
	x := byte(0)
	if v {
		x = 1
	}
	return append(AppendTag(b, tag, Varint), x)
}

// AppendFixed32Field appends a Fixed32 field.
func AppendFixed32Field(b []byte, tag uint32, v uint32) []byte {
	return AppendFixed32(AppendTag(b, tag, Fixed32), v)
}

// AppendFixed64Field appends a Fixed64 field.
func AppendFixed64Field(b []byte, tag uint32, v uint64) []byte {
	return AppendFixed64(AppendTag(b, tag, Fixed64), v)
}

// AppendFloat32Field appends a float32 as a Fixed32 field (IEEE 754 bits, NaN payload kept).
func AppendFloat32Field(b []byte, tag uint32, v float32) []byte {
	return AppendFixed32Field(b, tag, math.Float32bits(v))
}

// AppendFloat64Field appends a float64 as a Fixed64 field (IEEE 754 bits, NaN payload kept).
func AppendFloat64Field(b []byte, tag uint32, v float64) []byte {
	return AppendFixed64Field(b, tag, math.Float64bits(v))
}

// AppendStringField appends a Bytes field holding s.
func AppendStringField(b []byte, tag uint32, s string) []byte {
	return AppendString(AppendTag(b, tag, Bytes), s)
}

// AppendBytesField appends a Bytes field holding v.
func AppendBytesField(b []byte, tag uint32, v []byte) []byte {
	return AppendBytes(AppendTag(b, tag, Bytes), v)
}

// BeginLen reserves one byte for the length of content that the caller appends next and
// returns the mark to pass to EndLen. Content shorter than 128 bytes (the usual nested
// message) then costs nothing extra; longer content is shifted once by EndLen.
func BeginLen(b []byte) ([]byte, int) {
	return append(b, 0), len(b)
}

// EndLen writes the length of everything appended since BeginLen returned mark, as a
// minimal varint, moving the content if the length needs more than one byte.
func EndLen(b []byte, mark int) []byte {
	if n := len(b) - mark - 1; n < 0x80 {
		b[mark] = byte(n)
		return b
	}
	return endLenShift(b, mark)
}

// endLenShift is EndLen's slow path (content of 128 bytes or more). EndLen itself is
// just over the compiler's inlining budget, so the reflection encoder writes its fast
// path out where it matters.
func endLenShift(b []byte, mark int) []byte {
	n := len(b) - mark - 1
	s := SizeVarint(uint64(n))
	var pad [MaxVarintLen]byte
	b = append(b, pad[:s-1]...)
	copy(b[mark+s:], b[mark+1:mark+1+n])
	putVarint(b[mark:], uint64(n))
	return b
}

func putVarint(b []byte, v uint64) {
	i := 0
	for v >= 0x80 {
		b[i] = byte(v) | 0x80
		v >>= 7
		i++
	}
	b[i] = byte(v)
}

// ConsumeVarint parses a varint at the start of b. It returns the value and its length, or a
// negative error code (see CodeError). It accepts non-minimal encodings; strict readers
// compare n with SizeVarint(v).
func ConsumeVarint(b []byte) (v uint64, n int) {
	if len(b) > 0 && b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	if len(b) > 1 && b[1] < 0x80 {
		return uint64(b[0]&0x7f) | uint64(b[1])<<7, 2
	}
	if len(b) >= MaxVarintLen {
		return consumeVarintUnrolled(b)
	}
	var shift uint
	for i := 0; i < len(b); i++ {
		c := b[i]
		if i == MaxVarintLen-1 {
			if c > 1 {
				return 0, codeOverflow
			}
			return v | uint64(c)<<63, MaxVarintLen
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, i + 1
		}
		shift += 7
	}
	return 0, codeTruncated
}

// consumeVarintUnrolled is ConsumeVarint for inputs of at least MaxVarintLen bytes whose
// varint is longer than two bytes: one add per byte, with the continuation bit of each
// earlier byte subtracted once the next is known to follow, and no bounds checks.
func consumeVarintUnrolled(b []byte) (uint64, int) {
	_ = b[MaxVarintLen-1]
	v := uint64(b[0]) + uint64(b[1])<<7 - 0x80 - 0x80<<7 // both have the continuation bit
	y := uint64(b[2])
	if v += y << 14; y < 0x80 {
		return v, 3
	}
	v -= 0x80 << 14
	y = uint64(b[3])
	if v += y << 21; y < 0x80 {
		return v, 4
	}
	v -= 0x80 << 21
	y = uint64(b[4])
	if v += y << 28; y < 0x80 {
		return v, 5
	}
	v -= 0x80 << 28
	y = uint64(b[5])
	if v += y << 35; y < 0x80 {
		return v, 6
	}
	v -= 0x80 << 35
	y = uint64(b[6])
	if v += y << 42; y < 0x80 {
		return v, 7
	}
	v -= 0x80 << 42
	y = uint64(b[7])
	if v += y << 49; y < 0x80 {
		return v, 8
	}
	v -= 0x80 << 49
	y = uint64(b[8])
	if v += y << 56; y < 0x80 {
		return v, 9
	}
	v -= 0x80 << 56
	// The tenth byte holds bit 63 only.
	if y = uint64(b[9]); y > 1 {
		return 0, codeOverflow
	}
	return v + y<<63, MaxVarintLen
}

// ConsumeTag parses a field key. The tag is checked to be in [1, MaxTag].
func ConsumeTag(b []byte) (tag uint32, wt WireType, n int) {
	if len(b) > 0 && b[0] < 0x80 && b[0] >= 1<<3 {
		return uint32(b[0] >> 3), WireType(b[0] & 7), 1
	}
	k, n := ConsumeVarint(b)
	if n < 0 {
		return 0, 0, n
	}
	t := k >> 3
	if t == 0 || t > MaxTag {
		return 0, 0, codeTag
	}
	return uint32(t), WireType(k & 7), n
}

// ConsumeFixed32 parses 4 little-endian bytes.
func ConsumeFixed32(b []byte) (uint32, int) {
	if len(b) < 4 {
		return 0, codeTruncated
	}
	return binary.LittleEndian.Uint32(b), 4
}

// ConsumeFixed64 parses 8 little-endian bytes.
func ConsumeFixed64(b []byte) (uint64, int) {
	if len(b) < 8 {
		return 0, codeTruncated
	}
	return binary.LittleEndian.Uint64(b), 8
}

// ConsumeBytes parses a varint length and returns the content that follows, aliasing b.
// The length is checked against len(b) before any conversion, so it cannot overflow.
func ConsumeBytes(b []byte) ([]byte, int) {
	if len(b) > 0 && b[0] < 0x80 && int(b[0]) < len(b) {
		end := 1 + int(b[0])
		return b[1:end:end], end
	}
	l, n := ConsumeVarint(b)
	if n < 0 {
		return nil, n
	}
	if l > uint64(len(b)-n) {
		return nil, codeLength
	}
	end := n + int(l)
	return b[n:end:end], end
}

// ConsumeValue returns the length of the value of wire type wt at the start of b, which lets
// a reader skip it. It checks framing only, not the content of messages, except that a
// packed value must hold whole elements (a multiple of 4 or 8 bytes; varint content not
// cut inside a varint), else it returns a code that CodeError maps to ErrMalformed.
func ConsumeValue(b []byte, wt WireType) int {
	switch wt {
	case Varint:
		_, n := ConsumeVarint(b)
		return n
	case Fixed32:
		if len(b) < 4 {
			return codeTruncated
		}
		return 4
	case Fixed64:
		if len(b) < 8 {
			return codeTruncated
		}
		return 8
	default:
		v, n := ConsumeBytes(b)
		if n > 0 && !wholeElements(v, wt) {
			return codeMalformed
		}
		return n
	}
}

// wholeElements reports whether the content v of a packed value of wire type wt can hold
// whole elements (SPEC.md §3): a multiple of 4 or 8 bytes, or varints not cut at the end.
// Every reader checks it, also for unknown fields.
func wholeElements(v []byte, wt WireType) bool {
	switch wt {
	case PackedFixed32:
		return len(v)%4 == 0
	case PackedFixed64:
		return len(v)%8 == 0
	case PackedVarint:
		return len(v) == 0 || v[len(v)-1] < 0x80
	}
	return true
}

// ConsumeField parses the key of the field at the start of b and skips its value; n is the
// length of the whole field.
func ConsumeField(b []byte) (tag uint32, wt WireType, n int) {
	tag, wt, n = ConsumeTag(b)
	if n < 0 {
		return 0, 0, n
	}
	m := ConsumeValue(b[n:], wt)
	if m < 0 {
		return 0, 0, m
	}
	return tag, wt, n + m
}
