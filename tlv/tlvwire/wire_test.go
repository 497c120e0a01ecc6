package tlvwire

import (
	"bytes"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVarintEdges(t *testing.T) {
	tests := []struct {
		v   uint64
		hex string
	}{
		{0, "00"}, {1, "01"}, {127, "7f"}, {128, "8001"}, {300, "ac02"}, {16383, "ff7f"}, {16384, "808001"},
		{math.MaxUint32, "ffffffff0f"}, {math.MaxUint64, "ffffffffffffffffff01"},
	}
	for _, tc := range tests {
		t.Run(tc.hex, func(t *testing.T) {
			b := AppendVarint(nil, tc.v)
			assert.Equal(t, tc.hex, hex.EncodeToString(b))
			assert.Equal(t, len(b), SizeVarint(tc.v))
			v, n := ConsumeVarint(b)
			assert.Equal(t, tc.v, v)
			assert.Equal(t, len(b), n)
			_, n = ConsumeVarint(b[:len(b)-1])
			assert.ErrorIs(t, CodeError(n), ErrTruncated)
		})
	}
	_, n := ConsumeVarint([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02})
	assert.ErrorIs(t, CodeError(n), ErrOverflow)
	_, n = ConsumeVarint([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00})
	assert.ErrorIs(t, CodeError(n), ErrOverflow)
	// Non-minimal is accepted by ConsumeVarint and detectable with SizeVarint.
	v, n := ConsumeVarint([]byte{0x81, 0x00})
	assert.Equal(t, uint64(1), v)
	assert.NotEqual(t, SizeVarint(v), n)
}

func TestZigzag(t *testing.T) {
	for _, v := range []int64{0, -1, 1, -2, math.MaxInt64, math.MinInt64} {
		assert.Equal(t, v, Unzigzag(Zigzag(v)))
	}
	assert.Equal(t, uint64(3), Zigzag(-2))
	assert.Equal(t, 1, SizeZigzag(-64))
	assert.Equal(t, 2, SizeZigzag(64))
}

func TestConsumeRejects(t *testing.T) {
	_, _, n := ConsumeTag([]byte{0x07})
	assert.ErrorIs(t, CodeError(n), ErrTag)
	_, _, n = ConsumeTag(AppendVarint(nil, uint64(MaxTag+1)<<3))
	assert.ErrorIs(t, CodeError(n), ErrTag)
	tag, wt, n := ConsumeTag(AppendTag(nil, MaxTag, PackedFixed64))
	assert.Equal(t, uint32(MaxTag), tag)
	assert.Equal(t, PackedFixed64, wt)
	assert.Equal(t, 5, n)
	_, n = ConsumeBytes([]byte{0x05, 1, 2})
	assert.ErrorIs(t, CodeError(n), ErrLength)
	_, n = ConsumeFixed32([]byte{1, 2, 3})
	assert.ErrorIs(t, CodeError(n), ErrTruncated)
	_, n = ConsumeFixed64([]byte{1, 2, 3, 4, 5, 6, 7})
	assert.ErrorIs(t, CodeError(n), ErrTruncated)
	assert.Less(t, ConsumeValue([]byte{1, 2}, Fixed32), 0)
	assert.Less(t, ConsumeValue([]byte{1, 2}, Fixed64), 0)
	assert.NoError(t, CodeError(3))
}

func TestFieldAppenders(t *testing.T) {
	var b []byte
	b = AppendVarintField(b, 1, 150)
	b = AppendZigzagField(b, 2, -2)
	b = AppendStringField(b, 3, "hi")
	assert.Equal(t, "0896011003"+"1a026869", hex.EncodeToString(b))

	b = AppendFloat32Field(nil, 1, 1.5)
	b = AppendFloat64Field(b, 2, -2)
	assert.Equal(t, "0d0000c03f"+"1100000000000000c0", hex.EncodeToString(b))
	b = AppendBoolField(nil, 1, true)
	b = AppendBytesField(b, 2, []byte{0xff})
	assert.Equal(t, "0801"+"1201ff", hex.EncodeToString(b))
}

func TestBeginEndLen(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 16383, 16384, 1 << 21} {
		content := make([]byte, n)
		for i := range content {
			content[i] = byte(i)
		}
		b := []byte{0xAA}
		b, mark := BeginLen(b)
		b = append(b, content...)
		b = EndLen(b, mark)
		want := AppendBytes([]byte{0xAA}, content)
		require.Equal(t, want, b, "n=%d", n)
	}
}

func TestIter(t *testing.T) {
	data, err := hex.DecodeString("0896011003" + "1a026869" + "0d0000c03f" + "24020201")
	require.NoError(t, err)
	var got []Field
	it := NewIter(data)
	for it.Next() {
		got = append(got, it.Field())
	}
	require.NoError(t, it.Err())
	require.Len(t, got, 5)
	assert.Equal(t, Field{Tag: 1, Type: Varint, Offset: 0, Num: 150, Value: data[1:3], Raw: data[0:3]}, got[0])
	assert.Equal(t, int64(-2), got[1].Int())
	assert.Equal(t, "hi", string(got[2].Value))
	assert.Equal(t, 1.5, got[3].Float64()) // fixed32 widened
	assert.Equal(t, PackedVarint, got[4].Type)
	assert.Equal(t, 14, got[4].Offset)
	assert.Equal(t, it.Offset(), len(data))

	// The iterator does not allocate.
	allocs := testing.AllocsPerRun(100, func() {
		it := NewIter(data)
		for it.Next() {
			_ = it.Field()
		}
	})
	assert.Zero(t, allocs)

	// Errors carry offsets and stop the iteration.
	it = NewIter(append(append([]byte{}, data...), 0x12, 0x09, 0x01))
	n := 0
	for it.Next() {
		n++
	}
	assert.Equal(t, 5, n)
	var de *DecodeError
	require.ErrorAs(t, it.Err(), &de)
	assert.Equal(t, DecodeError{Offset: len(data) + 1, Tag: 2, Err: ErrLength}, *de) // the length, after the key
	assert.False(t, it.Next())
}

func TestWireTypeNames(t *testing.T) {
	for wt := WireType(0); wt < 8; wt++ {
		assert.NotEqual(t, "invalid", wt.String())
	}
	assert.Equal(t, "invalid", WireType(8).String())
	assert.True(t, Message.LengthDelimited())
	assert.False(t, Fixed32.LengthDelimited())
}

func TestCompareKeys(t *testing.T) {
	assert.Equal(t, -1, CompareKeyString("b", "aa"))
	assert.Equal(t, -1, CompareKeyString("a", "b"))
	assert.Equal(t, 0, CompareKeyString("x", "x"))
	// 256 encodes as 80 02 and 129 as 81 01: bytewise, 256 sorts first.
	assert.Equal(t, -1, CompareKeyUint(256, 129))
	assert.Equal(t, -1, CompareKeyInt(0, -1))
	assert.Equal(t, 1, CompareKeyInt(1, -1))
}

func TestCompareKeyUintMatchesEncoding(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		a, b := r.Uint64()>>(r.IntN(64)), r.Uint64()>>(r.IntN(64))
		want := bytes.Compare(AppendVarint(nil, a), AppendVarint(nil, b))
		require.Equal(t, want, CompareKeyUint(a, b), "%d vs %d", a, b)
		sa, sb := strings.Repeat("x", int(a%300)), strings.Repeat("y", int(b%300))
		want = bytes.Compare(AppendString(nil, sa), AppendString(nil, sb))
		require.Equal(t, want, CompareKeyString(sa, sb))
	}
}

func TestTimeFieldHelpers(t *testing.T) {
	for _, tm := range []time.Time{{}, time.Unix(0, 0), time.Unix(1, 5), time.Unix(-1, 999999999),
		time.Date(9999, 1, 1, 0, 0, 0, 7, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Unix(0, math.MaxInt64)} {
		b := AppendTimeField(nil, 3, tm)
		require.Equal(t, len(b), SizeTimeField(3, tm), "%v", tm)
		tag, wt, n := ConsumeTag(b)
		require.Equal(t, uint32(3), tag)
		got, m, err := ConsumeTime(b[n:], wt, true)
		require.NoError(t, err, "%v", tm)
		assert.Equal(t, len(b)-n, m)
		assert.True(t, tm.Equal(got), "%v != %v", tm, got)
	}
	_, _, err := ConsumeTime([]byte{0x00}, Bytes, false)
	require.ErrorIs(t, err, ErrWireType)
	_, _, err = ConsumeTime([]byte{0x80}, Varint, false)
	require.ErrorIs(t, err, ErrTruncated)
	_, _, err = ConsumeTime([]byte{0x05, 0x08}, Message, false)
	require.ErrorIs(t, err, ErrLength)
	_, _, err = ConsumeTime([]byte{0x02, 0x08, 0x00}, Message, true)
	require.ErrorIs(t, err, ErrNonCanonical)
}

// consumeVarintRef is the plain loop ConsumeVarint must agree with.
func consumeVarintRef(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b); i++ {
		c := b[i]
		if i == MaxVarintLen-1 {
			if c > 1 {
				return 0, codeOverflow
			}
			return v | uint64(c)<<63, MaxVarintLen
		}
		v |= uint64(c&0x7f) << (7 * uint(i))
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, codeTruncated
}

func TestConsumeVarintAgreesWithReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	check := func(b []byte) {
		v, n := ConsumeVarint(b)
		rv, rn := consumeVarintRef(b)
		require.Equal(t, rn, n, "% x", b)
		require.Equal(t, rv, v, "% x", b)
	}
	for i := 0; i < 200000; i++ {
		// Continuation bits set with decreasing probability, random payload bits, random
		// length (truncated inputs included) and trailing bytes.
		b := make([]byte, r.IntN(14))
		for j := range b {
			b[j] = byte(r.IntN(256))
			if r.IntN(4) == 0 {
				b[j] &= 0x7f
			} else {
				b[j] |= 0x80
			}
		}
		check(b)
	}
	for _, v := range []uint64{0, 1, 127, 128, 1 << 14, 1<<21 - 1, 1 << 35, 1<<56 - 1, 1 << 56, 1<<63 - 1, 1 << 63, math.MaxUint64} {
		b := append(AppendVarint(nil, v), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
		check(b)
		got, n := ConsumeVarint(b)
		require.Equal(t, v, got)
		require.Equal(t, SizeVarint(v), n)
	}
	// Overlong: a tenth byte above 1, and ten continuation bytes.
	check([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0})
	check(bytes.Repeat([]byte{0x80}, 12))
}
