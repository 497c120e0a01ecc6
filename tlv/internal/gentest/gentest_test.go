package gentest

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/tlv"
	"github.com/bulwark-go/bulwark/tlv/internal/gentest/plain"
	"github.com/bulwark-go/bulwark/tlv/tlvwire"
)

// TestGeneratedMatchesReflection fills each generated type and its reflection
// twin with the same random value and checks that both encode to the same
// bytes, and that the generated decoder reads them back to an equal value.
func TestGeneratedMatchesReflection(t *testing.T) {
	for _, tw := range twins() {
		t.Run(tw.name, func(t *testing.T) {
			for seed := range uint64(300) {
				g, p := tw.gen(), tw.plain()
				newFiller(seed).fill(reflect.ValueOf(g).Elem())
				newFiller(seed).fill(reflect.ValueOf(p).Elem())
				require.NoError(t, sameValue(reflect.ValueOf(g).Elem(), reflect.ValueOf(p).Elem(), tw.name), "filler is deterministic")

				gotGen, err := g.(tlvwire.Marshaler).AppendTLV(nil)
				require.NoError(t, err)
				gotRef, err := tlv.Marshal(p)
				require.NoError(t, err)
				require.Equal(t, fmt.Sprintf("%x", gotRef), fmt.Sprintf("%x", gotGen), "seed %d: generated and reflection encodings differ", seed)
				require.Equal(t, len(gotGen), g.(tlvwire.Marshaler).SizeTLV(), "seed %d: SizeTLV", seed)

				back := tw.gen()
				require.NoError(t, decodeGen(tlv.DecodeOptions{}, gotGen, back.(tlvwire.Unmarshaler)), "seed %d", seed)
				require.NoError(t, sameValueLoose(reflect.ValueOf(back).Elem(), reflect.ValueOf(g).Elem(), tw.name), "seed %d", seed)

				strict := tw.gen()
				require.NoError(t, decodeGen(tlv.DecodeOptions{Strict: true}, gotGen, strict.(tlvwire.Unmarshaler)), "seed %d: canonical bytes pass strict", seed)
				again, err := strict.(tlvwire.Marshaler).AppendTLV(nil)
				require.NoError(t, err)
				require.Equal(t, gotGen, again, "seed %d: encode is a fixpoint", seed)
			}
		})
	}
}

// TestUnknownFieldsSurvive decodes messages with a schema that knows fewer
// fields and checks the re-encoding is byte for byte the original.
func TestUnknownFieldsSurvive(t *testing.T) {
	for seed := range uint64(200) {
		e := new(Every)
		newFiller(seed).fill(reflect.ValueOf(e).Elem())
		orig, err := e.AppendTLV(nil)
		require.NoError(t, err)

		var empty Empty
		require.NoError(t, decodeGen(tlv.DecodeOptions{}, orig, &empty))
		assert.Equal(t, tlv.Unknown(orig), empty.UnknownFields, "seed %d: every field is unknown to Empty", seed)
		re, err := empty.AppendTLV(nil)
		require.NoError(t, err)
		require.Equal(t, orig, re, "seed %d", seed)

		// Inner knows tags 1 and 2 of Every (B is a bool, I32 an int32): the
		// fields it cannot read as such stay unknown, the rest interleave.
		var in Node
		if err := decodeGen(tlv.DecodeOptions{}, orig, &in); err != nil {
			continue // Every's tag 1 (bool) may not fit Node.Value's zigzag reading; nothing to check
		}
		re, err = in.AppendTLV(nil)
		require.NoError(t, err)
		require.Equal(t, orig, re, "seed %d: known and unknown fields interleave back in place", seed)
	}
}

func TestUnknownFieldsBetweenKnown(t *testing.T) {
	// Msg as a newer version writes it: tags 1, 2 known, 3 unknown, 5 known, 9 unknown.
	var b []byte
	b = tlvwire.AppendVarintField(b, 1, 7)
	b = tlvwire.AppendStringField(b, 2, "hi")
	b = tlvwire.AppendZigzagField(b, 3, -5)
	b = tlvwire.AppendTag(b, 5, tlvwire.Message)
	b = tlvwire.AppendBytes(b, tlvwire.AppendStringField(nil, 2, "in"))
	b = tlvwire.AppendFloat64Field(b, 9, 1.5)

	var in Inner // knows 1 (ID int64 — but 7 arrives as a uint varint, read as zigzag) and 2
	require.NoError(t, decodeGen(tlv.DecodeOptions{}, b, &in))
	assert.Equal(t, "hi", in.Name)
	re, err := in.AppendTLV(nil)
	require.NoError(t, err)
	assert.Equal(t, b, re)
}

func TestMalformedUnknownIsAnEncodeError(t *testing.T) {
	in := &Inner{ID: 1, UnknownFields: tlv.Unknown{0x1a, 0x05, 'x'}}
	_, err := in.AppendTLV(nil)
	require.ErrorIs(t, err, tlv.ErrMalformed)
	m := &Msg{Items: []Inner{*in}}
	_, err = m.AppendTLV(nil)
	require.ErrorIs(t, err, tlv.ErrMalformed, "a nested malformed Unknown fails the whole encode")
	_, err = tlv.Marshal(m)
	require.ErrorIs(t, err, tlv.ErrMalformed)
}

func TestUnsortedUnknownIsWrittenSorted(t *testing.T) {
	var u tlv.Unknown
	u.Add(tlvwire.AppendVarintField(nil, 9, 1))
	u.Add(tlvwire.AppendVarintField(nil, 3, 2))
	in := &Inner{ID: -1, UnknownFields: u}
	got, err := in.AppendTLV(nil)
	require.NoError(t, err)
	want := []byte{0x08, 0x01, 0x18, 0x02, 0x48, 0x01}
	assert.Equal(t, want, got)
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name   string
		data   []byte
		strict bool
		want   error
	}{
		{"truncated length", []byte{0x42, 0x05, 'h'}, false, tlv.ErrLength},
		{"truncated varint", []byte{0x08, 0x96}, false, tlv.ErrTruncated},
		{"overflow", []byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, false, tlv.ErrOverflow},
		{"tag zero", []byte{0x00, 0x00}, false, tlv.ErrTag},
		{"narrowing int32", []byte{0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40}, false, tlv.ErrRange},
		{"bool 2", []byte{0x08, 0x02}, false, tlv.ErrRange},
		{"uint32 overflow", []byte{0x20, 0x80, 0x80, 0x80, 0x80, 0x10}, false, tlv.ErrRange},
		{"float32 inexact", tlvwire.AppendFloat64Field(nil, 6, 0.1), false, tlv.ErrRange},
		{"bad packed", []byte{0x5c, 0x01, 0x80}, false, tlv.ErrMalformed},
		{"bad packed fixed32", []byte{0x6e, 0x03, 1, 2, 3}, false, tlv.ErrMalformed},
		{"huge length", []byte{0x42, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, false, tlv.ErrLength},
		{"non-minimal", []byte{0x08, 0x81, 0x00}, true, tlv.ErrNonCanonical},
		{"out of order", []byte{0x18, 0x01, 0x08, 0x01}, true, tlv.ErrNonCanonical},
		{"duplicate singular", []byte{0x18, 0x01, 0x18, 0x01}, true, tlv.ErrNonCanonical},
		{"wrong wire type", []byte{0x0a, 0x00}, true, tlv.ErrWireType},
		{"unpacked repeated", []byte{0x58, 0x02}, true, tlv.ErrNonCanonical},
		{"map keys out of order", []byte{0xab, 0x01, 0x05, 0x0a, 0x01, 'b', 0x10, 0x01, 0xab, 0x01, 0x05, 0x0a, 0x01, 'a', 0x10, 0x01}, true, tlv.ErrNonCanonical},
		{"nested truncated", []byte{0x8b, 0x01, 0x02, 0x08, 0x96}, false, tlv.ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Every
			err := decodeGen(tlv.DecodeOptions{Strict: tt.strict}, tt.data, &e)
			require.ErrorIs(t, err, tt.want)
			var de *tlv.DecodeError
			require.ErrorAs(t, err, &de)
		})
	}
}

func TestLenientAcceptsWhatStrictRejects(t *testing.T) {
	var e Every
	require.NoError(t, decodeGen(tlv.DecodeOptions{}, []byte{0x18, 0x02, 0x08, 0x01, 0x58, 0x03, 0x58, 0x04}, &e))
	assert.True(t, e.B)
	assert.Equal(t, int64(1), e.I64)
	assert.Equal(t, []int32{-2, 2}, e.I32s, "unpacked elements append")

	var w Every // wire-type mismatch: a string arriving at the bool tag is refused in both modes
	require.ErrorIs(t, decodeGen(tlv.DecodeOptions{}, []byte{0x0a, 0x01, 'x'}, &w), tlv.ErrWireType)

	var f Every // widening: a float32 value read into the float64 field
	require.NoError(t, decodeGen(tlv.DecodeOptions{}, tlvwire.AppendFloat32Field(nil, 7, 1.5), &f))
	assert.Equal(t, 1.5, f.F64)
}

func TestDepthLimit(t *testing.T) {
	// Node{Child: Node{Child: ...}} 100 deep.
	inner := []byte{}
	for range 100 {
		inner = tlvwire.AppendBytes(tlvwire.AppendTag(nil, 2, tlvwire.Message), inner)
	}
	var n Node
	err := decodeGen(tlv.DecodeOptions{}, inner, &n)
	require.ErrorIs(t, err, tlv.ErrDepth)
	require.NoError(t, decodeGen(tlv.DecodeOptions{MaxDepth: 200}, inner, &n))
}

func TestEncodeIntoReusedBufferDoesNotAllocate(t *testing.T) {
	m := &Msg{
		UID: 1234567890123, Text: "hello 世界", Payload: bytes.Repeat([]byte{7}, 128),
		IDs: []int64{1, -1, 1 << 40}, Inner: &Inner{ID: 1, Name: "x"},
		Items: []Inner{{ID: 1}, {ID: 2, Name: "y"}},
		Attrs: map[string]string{"a": "1", "bb": "2", "c": "3"},
	}
	buf, err := m.AppendTLV(nil)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() {
		buf, err = m.AppendTLV(buf[:0])
	})
	require.NoError(t, err)
	assert.Zero(t, allocs)
}

func TestMemoryLimitIsChargedBeforeAllocating(t *testing.T) {
	// A 3 KiB string under a 1 KiB budget.
	data := tlvwire.AppendStringField(nil, 2, string(bytes.Repeat([]byte("s"), 3<<10)))
	var in Inner
	err := decodeGen(tlv.DecodeOptions{MaxMemory: 1 << 10}, data, &in)
	require.ErrorIs(t, err, tlv.ErrMemoryLimit)

	// Elements: 10 fields under a limit of 5.
	var many []byte
	for range 10 {
		many = tlvwire.AppendStringField(many, 2, "x")
	}
	err = decodeGen(tlv.DecodeOptions{MaxElements: 5}, many, &in)
	require.True(t, errors.Is(err, tlv.ErrTooManyElements), "got %v", err)
}

func TestNilReceiversAndState(t *testing.T) {
	var m *Msg
	assert.Zero(t, m.SizeTLV())
	b, err := m.AppendTLV([]byte{1})
	require.NoError(t, err)
	assert.Equal(t, []byte{1}, b, "a nil message appends nothing")
	require.ErrorIs(t, m.UnmarshalTLV([]byte{0x08, 0x01}, nil), tlv.ErrUnsupportedType)

	var in Inner // a nil DecodeState means the default limits
	require.NoError(t, in.UnmarshalTLV([]byte{0x08, 0x04}, nil))
	assert.Equal(t, int64(2), in.ID)
	var n Node
	deep := []byte{}
	for range 100 {
		deep = tlvwire.AppendBytes(tlvwire.AppendTag(nil, 2, tlvwire.Message), deep)
	}
	require.ErrorIs(t, n.UnmarshalTLV(deep, nil), tlv.ErrDepth)
}

func TestTimeForms(t *testing.T) {
	near := &Every{At: time.Unix(1, 5).UTC()}
	b, err := near.AppendTLV(nil)
	require.NoError(t, err)
	assert.Equal(t, []byte{0xc0, 0x01, 0x8a, 0xa8, 0xd6, 0xb9, 0x07}, b, "tag 24 varint: zigzag(1 000 000 005)")

	far := &Every{At: time.Time{}.Add(time.Nanosecond)} // year 1: the message form
	b, err = far.AppendTLV(nil)
	require.NoError(t, err)
	assert.Equal(t, []byte{0xc3, 0x01}, b[:2], "tag 24 message key")
	var back Every
	require.NoError(t, decodeGen(tlv.DecodeOptions{Strict: true}, b, &back))
	assert.True(t, back.At.Equal(far.At))

	// The message form of a time that fits the varint is accepted leniently,
	// rejected as non-canonical in strict mode.
	msgForm := tlvwire.AppendBytes(tlvwire.AppendTag(nil, 24, tlvwire.Message), []byte{0x08, 0x02, 0x10, 0x05})
	require.NoError(t, decodeGen(tlv.DecodeOptions{}, msgForm, &back))
	assert.True(t, back.At.Equal(time.Unix(1, 5)))
	require.ErrorIs(t, decodeGen(tlv.DecodeOptions{Strict: true}, msgForm, &back), tlv.ErrNonCanonical)
}

// TestDepthCountsMapValuesNotEntries nests Trees through map values at random depths
// around random limits: the generated and reflection decoders accept and reject the same
// inputs, and exactly MaxDepth messages, the top-level one included, are accepted (map
// entries do not count, SPEC.md §8).
func TestDepthCountsMapValuesNotEntries(t *testing.T) {
	for n := 1; n <= 12; n++ {
		var enc []byte // n Trees nested inside the top-level one
		for i := 0; i < n; i++ {
			var entry []byte
			entry = tlvwire.AppendStringField(entry, 1, "k")
			entry = tlvwire.AppendBytes(tlvwire.AppendTag(entry, 2, tlvwire.Message), enc)
			enc = tlvwire.AppendBytes(tlvwire.AppendTag(nil, 2, tlvwire.Message), entry)
		}
		for limit := max(1, n-2); limit <= n+2; limit++ {
			for _, strict := range []bool{false, true} {
				o := tlv.DecodeOptions{MaxDepth: limit, Strict: strict}
				errG := o.Unmarshal(enc, new(Tree))
				errP := o.Unmarshal(enc, new(plain.Tree))
				if n+1 <= limit { // the top-level message is level 1
					require.NoError(t, errG, "n=%d limit=%d", n, limit)
					require.NoError(t, errP, "n=%d limit=%d", n, limit)
				} else {
					require.ErrorIs(t, errG, tlv.ErrDepth, "n=%d limit=%d", n, limit)
					require.ErrorIs(t, errP, tlv.ErrDepth, "n=%d limit=%d", n, limit)
				}
			}
		}
	}
}
