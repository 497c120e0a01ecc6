package tlv

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/tlv/tlvwire"
)

type bigStruct struct {
	A [1024]byte
	N int64 `tlv:"1"`
}

// hostileTarget has a field of every shape an attacker might aim at.
type hostileTarget struct {
	S    string            `tlv:"1"`
	Ss   []string          `tlv:"2"`
	Ints []int64           `tlv:"3"`
	M    map[string]string `tlv:"4"`
	Bigs []*bigStruct      `tlv:"5"`
	Next *hostileTarget    `tlv:"6"`
	Bs   []byte            `tlv:"7"`
	MI   map[int64]int64   `tlv:"8"`
	Ins  []vInner          `tlv:"9"`
	Fs   []float64         `tlv:"10"`
	U    Unknown
}

func repeatField(field []byte, n int) []byte {
	return bytes.Repeat(field, n)
}

// deepNesting returns depth messages nested in field 6, built in linear time: the
// content lengths are computed from the innermost level out, then written in order.
func deepNesting(depth int) []byte {
	lens := make([]int, depth) // lens[i]: content length of level i (0 = outermost)
	inner := 0
	for i := depth - 1; i >= 0; i-- {
		lens[i] = inner
		inner += 1 + tlvwire.SizeVarint(uint64(inner))
	}
	b := make([]byte, 0, inner)
	for i := 0; i < depth; i++ {
		b = tlvwire.AppendVarint(tlvwire.AppendTag(b, 6, tlvwire.Message), uint64(lens[i]))
	}
	return b
}

// hostileCorpus returns inputs built to make a decoder allocate, recurse or misread.
// wantErr tells whether the input must be rejected (malformed or over a limit); the others
// are valid but degenerate, and may decode or hit the memory budget, except those marked
// mustDecode, whose memory need is within the budget (the budget must not be too tight).
func hostileCorpus() []struct {
	name       string
	data       []byte
	wantErr    bool
	mustDecode bool
} {
	huge := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}
	valid, _ := Marshal(&hostileTarget{S: "x", Ss: []string{"a", "b"}, Ints: []int64{1, 2}, M: map[string]string{"k": "v"},
		Bigs: []*bigStruct{{N: 1}}, Next: &hostileTarget{S: "y"}, Bs: []byte{1}})
	return []struct {
		name       string
		data       []byte
		wantErr    bool
		mustDecode bool
	}{
		{"string length 2^64-1", append([]byte{0x0a}, huge...), true, false},
		{"string length 2^62", append([]byte{0x0a}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f), true, false},
		{"packed length beyond input", []byte{0x1c, 0xff, 0xff, 0xff, 0x7f, 0x01}, true, false},
		{"map entry length beyond input", []byte{0x23, 0xff, 0xff, 0x03, 0x0a}, true, false},
		{"bytes length beyond input", append([]byte{0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f}, make([]byte, 100)...), true, false},
		{"varint overflow", []byte{0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, true, false},
		{"varint 11 bytes", []byte{0x48, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, true, false},
		{"key overflow", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, true, false},
		{"tag zero", []byte{0x00, 0x00}, true, false},
		{"deep nesting 100", deepNesting(100), true, false},
		{"deep nesting 100000", deepNesting(100000), true, false},
		{"truncated", valid[:len(valid)-1], true, false},
		{"truncated key", append(append([]byte{}, valid...), 0x80), true, false},
		{"packed truncated varint", []byte{0x1c, 0x02, 0x01, 0x80}, true, false},
		{"packed fixed64 not multiple", []byte{0x57, 0x03, 0, 0, 0}, true, false},
		{"many empty big structs", repeatField([]byte{0x2b, 0x00}, 100000), true, false},
		{"unknown then huge", append(repeatField([]byte{0x78, 0x01}, 1000), append([]byte{0x0a}, huge...)...), true, false},
		{"many empty strings", repeatField([]byte{0x12, 0x00}, 200000), false, true},
		{"many one-byte ints", append([]byte{0x1c, 0x80, 0x80, 0x10}, make([]byte, 1<<18)...), false, true},
		{"many tiny map entries", repeatField([]byte{0x23, 0x06, 0x0a, 0x01, 'k', 0x12, 0x01, 'v'}, 50000), false, false},
		{"many distinct int map entries", func() []byte {
			var b []byte
			for i := 0; i < 50000; i++ {
				e := tlvwire.AppendZigzagField(tlvwire.AppendZigzagField(nil, 1, int64(i)), 2, 0)
				b = tlvwire.AppendBytes(tlvwire.AppendTag(b, 8, tlvwire.Message), e)
			}
			return b
		}(), false, true},
		{"many empty inners", repeatField([]byte{0x4b, 0x00}, 100000), false, false},
		{"many unknown fields", repeatField([]byte{0x78, 0x00}, 200000), false, true},
		{"many unknown fields out of order", repeatField([]byte{0x78, 0x00, 0x70, 0x00}, 100000), false, true},
		{"valid", valid, false, true},
	}
}

// allocatedBytes returns the heap bytes allocated by one call of f (averaged over runs).
func allocatedBytes(f func()) uint64 {
	const runs = 3
	f() // warm up plan caches
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < runs; i++ {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / runs
}

func TestHostileCorpusBoundedMemory(t *testing.T) {
	for _, tc := range hostileCorpus() {
		t.Run(tc.name, func(t *testing.T) {
			bound := uint64(8*len(tc.data) + 64<<10)
			var err error
			got := allocatedBytes(func() {
				var v hostileTarget
				err = Unmarshal(tc.data, &v)
			})
			assert.LessOrEqual(t, got, bound, "allocated %d bytes for %d input bytes", got, len(tc.data))
			if tc.wantErr {
				require.Error(t, err)
				var de *DecodeError
				require.ErrorAs(t, err, &de)
			} else if tc.mustDecode {
				require.NoError(t, err)
			} else if err != nil {
				require.ErrorIs(t, err, ErrMemoryLimit)
			}
			// The schema-free tools stay bounded too and never panic.
			got = allocatedBytes(func() { _ = Valid(tc.data) })
			assert.LessOrEqual(t, got, uint64(64<<10))
		})
	}
}

func TestLimits(t *testing.T) {
	t.Run("depth", func(t *testing.T) {
		var v hostileTarget
		require.NoError(t, Unmarshal(deepNesting(63), &v))
		require.ErrorIs(t, Unmarshal(deepNesting(64), &v), ErrDepth)
		require.NoError(t, DecodeOptions{MaxDepth: 200}.Unmarshal(deepNesting(150), &v))
		require.ErrorIs(t, DecodeOptions{MaxDepth: 3}.Unmarshal(deepNesting(3), &v), ErrDepth)
		require.True(t, Valid(deepNesting(63)))
		require.False(t, Valid(deepNesting(64)))
	})
	t.Run("size", func(t *testing.T) {
		data := repeatField([]byte{0x12, 0x00}, 100)
		err := DecodeOptions{MaxSize: 199}.Unmarshal(data, &hostileTarget{})
		require.ErrorIs(t, err, ErrTooLarge)
		require.NoError(t, DecodeOptions{MaxSize: 200}.Unmarshal(data, &hostileTarget{}))
	})
	t.Run("elements", func(t *testing.T) {
		data := repeatField([]byte{0x12, 0x00}, 100)
		require.ErrorIs(t, DecodeOptions{MaxElements: 99}.Unmarshal(data, &hostileTarget{}), ErrTooManyElements)
		require.NoError(t, DecodeOptions{MaxElements: 100}.Unmarshal(data, &hostileTarget{}))
		packed := []byte{0x1c, 0x03, 0x01, 0x02, 0x03}
		require.ErrorIs(t, DecodeOptions{MaxElements: 3}.Unmarshal(packed, &hostileTarget{}), ErrTooManyElements)
		require.NoError(t, DecodeOptions{MaxElements: 4}.Unmarshal(packed, &hostileTarget{}))
		require.ErrorIs(t, DecodeOptions{MaxElements: 3}.Validate(packed), ErrTooManyElements)
	})
	t.Run("memory", func(t *testing.T) {
		data := tlvwire.AppendStringField(nil, 1, string(make([]byte, 1000)))
		require.ErrorIs(t, DecodeOptions{MaxMemory: 999}.Unmarshal(data, &hostileTarget{}), ErrMemoryLimit)
		require.NoError(t, DecodeOptions{MaxMemory: 1200}.Unmarshal(data, &hostileTarget{}))
		// 100 empty messages into 1 KiB structs: 200 input bytes, 100 KiB of structs.
		bigs := repeatField([]byte{0x2b, 0x00}, 100)
		require.ErrorIs(t, Unmarshal(bigs, &hostileTarget{}), ErrMemoryLimit)
		var v hostileTarget
		require.NoError(t, DecodeOptions{MaxMemory: 1 << 20}.Unmarshal(bigs, &v))
		assert.Len(t, v.Bigs, 100)
	})
}

// TestNegativeLimitsAreErrors: seeded random DecodeOptions with some limits
// negative fail in Unmarshal, Validate and a Decoder with an error naming the
// first negative field; with none negative they decode. Negative limits used
// to mean the defaults silently.
func TestNegativeLimitsAreErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	rec, err := Marshal(&record{ID: 5})
	require.NoError(t, err)
	names := []string{"MaxDepth", "MaxSize", "MaxElements", "MaxMemory"}
	for range 300 {
		var lim [4]int
		first := ""
		for i := range lim {
			switch r.IntN(3) {
			case 0:
				lim[i] = -1 - r.IntN(1<<20)
				if first == "" {
					first = names[i]
				}
			case 1:
				lim[i] = 1 << 20
			}
		}
		o := DecodeOptions{MaxDepth: lim[0], MaxSize: lim[1], MaxElements: lim[2], MaxMemory: lim[3]}
		var got record
		errs := []error{o.Unmarshal(rec, &got), o.Validate(rec)}
		var frame bytes.Buffer
		require.NoError(t, NewEncoder(&frame).Encode(&record{ID: 5}))
		errs = append(errs, NewDecoder(&frame, o).Decode(&got))
		for _, err := range errs {
			if first == "" {
				require.NoError(t, err, "%+v", o)
				continue
			}
			require.Error(t, err, "%+v", o)
			require.Contains(t, err.Error(), "DecodeOptions."+first, "%+v", o)
		}
	}
}
