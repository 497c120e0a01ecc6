package tlv

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/tlv/tlvwire"
)

type allKinds struct {
	B    bool              `tlv:"1"`
	I8   int8              `tlv:"2"`
	I16  int16             `tlv:"3"`
	I32  int32             `tlv:"4"`
	I64  int64             `tlv:"5"`
	I    int               `tlv:"6"`
	U8   uint8             `tlv:"7"`
	U16  uint16            `tlv:"8"`
	U32  uint32            `tlv:"9"`
	U64  uint64            `tlv:"10"`
	U    uint              `tlv:"11"`
	F32  float32           `tlv:"12"`
	F64  float64           `tlv:"13"`
	S    string            `tlv:"14"`
	Bs   []byte            `tlv:"15"`
	T    time.Time         `tlv:"16"`
	D    time.Duration     `tlv:"17"`
	In   vInner            `tlv:"18"`
	PIn  *vInner           `tlv:"19"`
	Ints []int32           `tlv:"20"`
	Us   []uint64          `tlv:"21"`
	Fs   []float32         `tlv:"22"`
	Ds   []float64         `tlv:"23"`
	Bls  []bool            `tlv:"24"`
	Ss   []string          `tlv:"25"`
	Bss  [][]byte          `tlv:"26"`
	Ins  []vInner          `tlv:"27"`
	PIns []*vInner         `tlv:"28"`
	MS   map[string]string `tlv:"29"`
	MI   map[int64]vInner  `tlv:"30"`
	MU   map[uint8]*vInner `tlv:"31"`
	Ts   []time.Time       `tlv:"32"`
	PI   *int64            `tlv:"33"`
	PS   *string           `tlv:"34"`
	II   [][]int64         `tlv:"35"`
	MB   map[string][]byte `tlv:"36"`
	Big  int64             `tlv:"100000"`
	skip int
	Nope int `tlv:"-"`
}

func fullValue() *allKinds {
	i, s := int64(-7), "ptr"
	return &allKinds{
		B: true, I8: -128, I16: -300, I32: math.MinInt32, I64: math.MinInt64, I: 42,
		U8: 255, U16: 65535, U32: math.MaxUint32, U64: math.MaxUint64, U: 7,
		F32: -1.25, F64: math.Pi, S: "héllo 世界", Bs: []byte{0, 1, 2},
		T: time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC), D: -90 * time.Second,
		In: vInner{ID: 5, Name: "in"}, PIn: &vInner{ID: -5},
		Ints: []int32{-1, 0, 1, math.MaxInt32}, Us: []uint64{0, 1 << 63}, Fs: []float32{1, -0.5},
		Ds: []float64{math.Inf(1), 2}, Bls: []bool{true, false, true},
		Ss: []string{"a", "", "c"}, Bss: [][]byte{{1}, nil, {2, 3}},
		Ins: []vInner{{ID: 1}, {Name: "two"}}, PIns: []*vInner{{ID: 3}, {ID: 4, Name: "x"}},
		MS: map[string]string{"k": "v", "": "empty", "long-key": ""},
		MI: map[int64]vInner{-1: {ID: 1}, 300: {Name: "n"}},
		MU: map[uint8]*vInner{0: {ID: 9}, 200: {}},
		Ts: []time.Time{time.Unix(0, 0).UTC(), time.Unix(-100, 5).UTC()},
		PI: &i, PS: &s, II: [][]int64{{1, 2}, {}, {-3}},
		MB:  map[string][]byte{"a": {1}},
		Big: 1,
	}
}

func TestRoundTripAllKinds(t *testing.T) {
	tests := map[string]*allKinds{
		"full": fullValue(),
		"zero": {},
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			b, err := Marshal(in)
			require.NoError(t, err)
			require.True(t, Valid(b))
			var out allKinds
			require.NoError(t, Unmarshal(b, &out))
			want := *in
			if name == "full" {
				// Empty elements of a repeated field decode as nil.
				want.II = [][]int64{{1, 2}, nil, {-3}}
			}
			assert.Equal(t, &want, &out)
			// Canonical fixpoint.
			b2, err := Marshal(&out)
			require.NoError(t, err)
			assert.Equal(t, hex.EncodeToString(b), hex.EncodeToString(b2))
			// And strict mode accepts the encoder's output.
			var strict allKinds
			require.NoError(t, DecodeOptions{Strict: true}.Unmarshal(b, &strict))
		})
	}
}

func TestMarshalValueAndPointerAgree(t *testing.T) {
	in := vScalars{A: 1, B: -1, C: "x"}
	a, err := Marshal(in)
	require.NoError(t, err)
	b, err := Marshal(&in)
	require.NoError(t, err)
	assert.Equal(t, a, b)
	c, err := MarshalAppend([]byte{0xAA}, &in)
	require.NoError(t, err)
	assert.Equal(t, append([]byte{0xAA}, a...), c)
	var nilPtr *vScalars
	d, err := Marshal(nilPtr)
	require.NoError(t, err)
	assert.Empty(t, d)
}

func TestMapOrderIsCanonical(t *testing.T) {
	// Insert in many orders; the bytes never change.
	var first []byte
	for i := 0; i < 30; i++ {
		m := map[string]int32{}
		for j := 0; j < 20; j++ {
			k := string(rune('a' + (i*7+j*13)%26))
			m[k+k[:j%2]] = int32(j)
		}
		_ = m
	}
	base := map[int64]string{}
	for j := int64(-50); j < 50; j++ {
		base[j*j*j] = "v"
	}
	for i := 0; i < 20; i++ {
		cp := map[int64]string{}
		for k, v := range base {
			cp[k] = v
		}
		b, err := Marshal(&struct {
			M map[int64]string `tlv:"1"`
		}{cp})
		require.NoError(t, err)
		if first == nil {
			first = b
		}
		require.Equal(t, first, b)
	}
	// Entries are strictly ascending by encoded key, which strict decoding verifies.
	var out struct {
		M map[int64]string `tlv:"1"`
	}
	require.NoError(t, DecodeOptions{Strict: true}.Unmarshal(first, &out))
	assert.Equal(t, base, out.M)
}

func TestOmitEmpty(t *testing.T) {
	type omit struct {
		B  bool      `tlv:"1,omitempty"`
		I  int32     `tlv:"2,omitempty"`
		F  float64   `tlv:"3,omitempty"`
		S  string    `tlv:"4,omitempty"`
		Bs []byte    `tlv:"5,omitempty"`
		In vInner    `tlv:"6,omitempty"`
		T  time.Time `tlv:"7,omitempty"`
	}
	b, err := Marshal(&omit{})
	require.NoError(t, err)
	assert.Empty(t, b, "all zero fields omitted")

	// -0.0 is not zero bitwise: it is written.
	b, err = Marshal(&omit{F: math.Copysign(0, -1)})
	require.NoError(t, err)
	assert.Equal(t, "19"+"0000000000000080", hex.EncodeToString(b))
	var out omit
	require.NoError(t, Unmarshal(b, &out))
	assert.True(t, math.Signbit(out.F))

	// Without omitempty, zero values are written (vector zero_written) and nil
	// pointers and empty lists are not.
	b, err = Marshal(&struct {
		P *vInner  `tlv:"1"`
		L []string `tlv:"2"`
		M map[string]string
		E []int64 `tlv:"3"`
	}{L: []string{}, E: []int64{}})
	require.NoError(t, err)
	assert.Empty(t, b)
}

func TestPresenceOfPointers(t *testing.T) {
	type opt struct {
		P  *vInner `tlv:"1"`
		PI *int32  `tlv:"2"`
	}
	zero := int32(0)
	b, err := Marshal(&opt{P: &vInner{}, PI: &zero})
	require.NoError(t, err)
	assert.Equal(t, "0b0408001200"+"1000", hex.EncodeToString(b))
	var out opt
	require.NoError(t, Unmarshal(b, &out))
	require.NotNil(t, out.P)
	require.NotNil(t, out.PI)
	assert.Equal(t, int32(0), *out.PI)
}

func TestUnmarshalResetsTarget(t *testing.T) {
	out := allKinds{S: "stale", Ss: []string{"stale"}, MS: map[string]string{"stale": "x"}}
	require.NoError(t, Unmarshal(nil, &out))
	assert.Equal(t, allKinds{}, out)
}

func TestLastWinsAndRepeatedAppend(t *testing.T) {
	// Two occurrences of a singular message field: the second replaces the first.
	data := []byte{0x0b, 0x02, 0x08, 0x02, 0x0b, 0x02, 0x12, 0x00}
	var n vNested
	require.NoError(t, Unmarshal(data, &n))
	assert.Equal(t, vInner{}, n.In)
	require.ErrorIs(t, DecodeOptions{Strict: true}.Unmarshal(data, &n), ErrNonCanonical)

	// Two packed runs and a lone element append (lenient); strict rejects both forms.
	data = []byte{0x24, 0x01, 0x02, 0x20, 0x04, 0x24, 0x01, 0x06}
	var p vPacked
	require.NoError(t, Unmarshal(data, &p))
	assert.Equal(t, []int64{1, 2, 3}, p.V)
	require.ErrorIs(t, DecodeOptions{Strict: true}.Unmarshal(data, &p), ErrNonCanonical)

	// Interleaved repeated fields still append in order.
	type rep struct {
		S []string `tlv:"1"`
		A int64    `tlv:"2"`
	}
	data = []byte{0x0a, 0x01, 'a', 0x10, 0x02, 0x0a, 0x01, 'b'}
	var r rep
	require.NoError(t, Unmarshal(data, &r))
	assert.Equal(t, rep{S: []string{"a", "b"}, A: 1}, r)
}

func TestWidening(t *testing.T) {
	type narrow struct {
		I  int32   `tlv:"1"`
		U  uint32  `tlv:"2"`
		F  float32 `tlv:"3"`
		I8 int8    `tlv:"4"`
		B  bool    `tlv:"5"`
	}
	type wide struct {
		I  int64   `tlv:"1"`
		U  uint64  `tlv:"2"`
		F  float64 `tlv:"3"`
		I8 int64   `tlv:"4"`
		B  uint64  `tlv:"5"`
	}
	// narrow → wide always works.
	b, err := Marshal(&narrow{I: -5, U: 7, F: 0.1, I8: -128, B: true})
	require.NoError(t, err)
	var w wide
	require.NoError(t, Unmarshal(b, &w))
	assert.Equal(t, wide{I: -5, U: 7, F: float64(float32(0.1)), I8: -128, B: 1}, w)

	// wide → narrow works while values fit.
	b, err = Marshal(&wide{I: math.MinInt32, U: math.MaxUint32, F: 0.5, I8: 127, B: 1})
	require.NoError(t, err)
	var n narrow
	require.NoError(t, Unmarshal(b, &n))
	assert.Equal(t, narrow{I: math.MinInt32, U: math.MaxUint32, F: 0.5, I8: 127, B: true}, n)

	// and is an error, never a truncation, when they do not.
	cases := map[string]wide{
		"int32":   {I: math.MinInt32 - 1},
		"uint32":  {U: math.MaxUint32 + 1},
		"float32": {F: 0.1},
		"int8":    {I8: 128},
		"bool":    {B: 2},
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := Marshal(&in)
			require.NoError(t, err)
			err = Unmarshal(b, &narrow{})
			require.ErrorIs(t, err, ErrRange)
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			assert.NotZero(t, de.Tag)
		})
	}
	// NaN narrows to NaN.
	b, err = Marshal(&wide{F: math.NaN()})
	require.NoError(t, err)
	require.NoError(t, Unmarshal(b, &n))
	assert.True(t, math.IsNaN(float64(n.F)))
}

func TestWireTypeMismatch(t *testing.T) {
	// Tag 1 arrives as bytes but the struct wants an int.
	data := []byte{0x0a, 0x01, 'x', 0x18, 0x04}
	type target struct {
		A int64  `tlv:"1"`
		C uint64 `tlv:"3"`
		U Unknown
	}
	// Refused in both modes: kept in U it would be written back under tag 1, which a
	// strict reader of target rejects; skipped it would be lost.
	for _, strict := range []bool{false, true} {
		var out target
		err := DecodeOptions{Strict: strict}.Unmarshal(data, &out)
		require.ErrorIs(t, err, ErrWireType)
		var de *DecodeError
		require.ErrorAs(t, err, &de)
		assert.Equal(t, DecodeError{Offset: 0, Tag: 1, Err: ErrWireType}, *de)
	}
}

type oldMsg struct {
	UID  uint64 `tlv:"1"`
	Text string `tlv:"3"`
	Rest Unknown
}

type newMsg struct {
	UID    uint64            `tlv:"1"`
	Region string            `tlv:"2"`
	Text   string            `tlv:"3"`
	Tags   []string          `tlv:"4"`
	Inner  *vInner           `tlv:"5"`
	Attrs  map[string]string `tlv:"9"`
}

func TestUnknownFieldsSurvive(t *testing.T) {
	in := &newMsg{UID: 7, Region: "cn", Text: "hi", Tags: []string{"a", "b"}, Inner: &vInner{ID: 1},
		Attrs: map[string]string{"x": "y"}}
	b, err := Marshal(in)
	require.NoError(t, err)

	var old oldMsg
	require.NoError(t, Unmarshal(b, &old))
	assert.Equal(t, uint64(7), old.UID)
	assert.Equal(t, "hi", old.Text)
	require.True(t, old.Rest.Valid())

	old.UID = 8 // the old binary edits a field it knows
	b2, err := Marshal(&old)
	require.NoError(t, err)

	var back newMsg
	require.NoError(t, Unmarshal(b2, &back))
	want := *in
	want.UID = 8
	assert.Equal(t, &want, &back)
	// Byte for byte: the re-encoding is exactly the new encoding of the edited value.
	b3, err := Marshal(&want)
	require.NoError(t, err)
	assert.Equal(t, b3, b2)

	// Without an Unknown field they are skipped; strict rejects them.
	type bare struct {
		UID uint64 `tlv:"1"`
	}
	var br bare
	require.NoError(t, Unmarshal(b, &br))
	assert.Equal(t, uint64(7), br.UID)
	require.ErrorIs(t, DecodeOptions{Strict: true}.Unmarshal(b, &br), ErrUnknownField)
	// With one, strict keeps them.
	require.NoError(t, DecodeOptions{Strict: true}.Unmarshal(b, &old))
}

func TestUnknownOutOfOrderIsSorted(t *testing.T) {
	// Unknown tags 9 then 2 (non-canonical input): kept sorted, written in order.
	data := []byte{0x48, 0x01, 0x08, 0x05, 0x10, 0x02}
	type one struct {
		A uint64 `tlv:"1"`
		U Unknown
	}
	var o one
	require.NoError(t, Unmarshal(data, &o))
	assert.Equal(t, Unknown{0x10, 0x02, 0x48, 0x01}, o.U)
	b, err := Marshal(&o)
	require.NoError(t, err)
	assert.Equal(t, []byte{0x08, 0x05, 0x10, 0x02, 0x48, 0x01}, b)

	// A user-built unsorted Unknown is sorted by Marshal; a malformed one is an error.
	o.U = Unknown{0x48, 0x01, 0x10, 0x02}
	b, err = Marshal(&o)
	require.NoError(t, err)
	assert.Equal(t, []byte{0x08, 0x05, 0x10, 0x02, 0x48, 0x01}, b)
	o.U = Unknown{0x12, 0x05}
	_, err = Marshal(&o)
	require.ErrorIs(t, err, ErrMalformed)
}

type custom struct {
	N    int
	Seen bool
}

func (c *custom) AppendTLV(b []byte) ([]byte, error) {
	return tlvwire.AppendZigzagField(b, 1, int64(c.N)*2), nil
}

func (c *custom) SizeTLV() int { return 1 + tlvwire.SizeZigzag(int64(c.N)*2) }

func (c *custom) UnmarshalTLV(data []byte, d *tlvwire.DecodeState) error {
	*c = custom{Seen: true}
	it := tlvwire.NewIter(data)
	for it.Next() {
		if f := it.Field(); f.Tag == 1 {
			c.N = int(f.Int() / 2)
		}
	}
	return it.Err()
}

func TestGeneratedInterfacesUsedDirectly(t *testing.T) {
	type holder struct {
		C  custom   `tlv:"1"`
		PC *custom  `tlv:"2"`
		CS []custom `tlv:"3"`
	}
	in := holder{C: custom{N: 3}, PC: &custom{N: -1}, CS: []custom{{N: 1}}}
	b, err := Marshal(&in)
	require.NoError(t, err)
	// The custom encoding (value doubled) is on the wire.
	f, err := Get(b, []uint32{1, 1})
	require.NoError(t, err)
	assert.Equal(t, int64(6), f.Int())
	var out holder
	require.NoError(t, Unmarshal(b, &out))
	assert.Equal(t, holder{C: custom{N: 3, Seen: true}, PC: &custom{N: -1, Seen: true}, CS: []custom{{N: 1, Seen: true}}}, out)

	// A nil pointer of a Marshaler type is an empty message, not a crash.
	b, err = Marshal((*custom)(nil))
	require.NoError(t, err)
	assert.Empty(t, b)
	require.ErrorIs(t, Unmarshal(nil, (*custom)(nil)), ErrUnsupportedType)

	// Top level too.
	b, err = Marshal(&custom{N: 5})
	require.NoError(t, err)
	var c custom
	require.NoError(t, Unmarshal(b, &c))
	assert.Equal(t, custom{N: 5, Seen: true}, c)
}

func TestUnsupportedTypes(t *testing.T) {
	cases := map[string]any{
		"interface": &struct {
			A any `tlv:"1"`
		}{},
		"chan": &struct {
			A chan int `tlv:"1"`
		}{},
		"tag zero": &struct {
			A int `tlv:"0"`
		}{},
		"tag big": &struct {
			A int `tlv:"536870912"`
		}{},
		"tag text": &struct {
			A int `tlv:"x"`
		}{},
		"dup tag": &struct {
			A, B int `tlv:"1"`
		}{},
		"bad option": &struct {
			A int `tlv:"1,sometimes"`
		}{},
		"list list": &struct {
			A [][]string `tlv:"1"`
		}{},
		"map key": &struct {
			A map[float64]int `tlv:"1"`
		}{},
		"map of maps": &struct {
			A map[string]map[string]int `tlv:"1"`
		}{},
		"map of lists of lists": &struct {
			A map[string][][]string `tlv:"1"`
		}{},
		"ptr ptr": &struct {
			A **int `tlv:"1"`
		}{},
		"unexported": &struct {
			a int `tlv:"1"`
		}{},
		"two unknown": &struct {
			A, B Unknown
		}{},
		"not struct": new(int),
		"nil":        nil,
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Marshal(v)
			require.ErrorIs(t, err, ErrUnsupportedType)
			err = Unmarshal([]byte{0x08, 0x01}, v)
			require.ErrorIs(t, err, ErrUnsupportedType)
		})
	}
	require.ErrorIs(t, Unmarshal(nil, vScalars{}), ErrUnsupportedType)
	require.ErrorIs(t, Unmarshal(nil, (*vScalars)(nil)), ErrUnsupportedType)
}

type cyclic struct {
	Next *cyclic `tlv:"1"`
}

func TestPointerCycleIsAnErrorNotACrash(t *testing.T) {
	c := &cyclic{}
	c.Next = c
	_, err := Marshal(c)
	require.True(t, errors.Is(err, errEncodeDepth))
}

func TestRecursiveTypeRoundTrip(t *testing.T) {
	c := &cyclic{Next: &cyclic{Next: &cyclic{}}}
	b, err := Marshal(c)
	require.NoError(t, err)
	assert.Equal(t, "0b020b00", hex.EncodeToString(b))
	var out cyclic
	require.NoError(t, Unmarshal(b, &out))
	assert.Equal(t, c, &out)
}

func TestMarshalAppendDoesNotAllocate(t *testing.T) {
	in := &vScalars{A: 150, B: -2, C: "hi"}
	nested := &struct {
		In  vInner            `tlv:"1"`
		P   []int64           `tlv:"2"`
		Ins []vInner          `tlv:"3"`
		M   map[string]string `tlv:"4"`
		T   time.Time         `tlv:"5"`
	}{vInner{1, "x"}, []int64{1, 2, 3}, []vInner{{ID: 2}}, map[string]string{"a": "b", "c": "d"}, time.Unix(5, 6)}
	buf := make([]byte, 0, 1024)
	for name, v := range map[string]any{"scalars": in, "nested": nested} {
		_, err := MarshalAppend(buf, v) // warm the plan cache
		require.NoError(t, err)
		allocs := testing.AllocsPerRun(100, func() {
			_, _ = MarshalAppend(buf[:0], v)
		})
		assert.Zero(t, allocs, name)
	}
}

func TestLongNestedLengthShift(t *testing.T) {
	// A nested message longer than 127 bytes needs a 2-byte (and 3-byte) length.
	for _, n := range []int{126, 127, 128, 300, 20000} {
		in := &vNested{In: vInner{Name: string(make([]byte, n))}}
		b, err := Marshal(in)
		require.NoError(t, err)
		var out vNested
		require.NoError(t, DecodeOptions{Strict: true}.Unmarshal(b, &out))
		assert.Equal(t, in, &out)
	}
}

func TestTimeEncoding(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	in := &vTime{T: time.Date(1900, 1, 1, 0, 0, 0, 1, loc)}
	b, err := Marshal(in)
	require.NoError(t, err)
	var out vTime
	require.NoError(t, Unmarshal(b, &out))
	assert.True(t, in.T.Equal(out.T))
	assert.Equal(t, time.UTC, out.T.Location())

	// Zero time round-trips to the zero time.
	b, err = Marshal(&vTime{})
	require.NoError(t, err)
	require.NoError(t, Unmarshal(b, &out))
	assert.True(t, out.T.IsZero())

	// Out-of-range nanoseconds and seconds are range errors.
	for _, content := range [][]byte{
		{0x10, 0x80, 0x94, 0xeb, 0xdc, 0x03},                               // nanos = 1e9
		{0x08, 0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, // secs = 2^62+1
	} {
		data := append([]byte{0x0b, byte(len(content))}, content...)
		require.ErrorIs(t, Unmarshal(data, &out), ErrRange)
	}
}

func TestDecodeErrorOffsets(t *testing.T) {
	// Nested message at offset 2 whose second field (absolute offset 6) is truncated.
	data := []byte{0x08, 0x01, 0x0b, 0x04, 0x08, 0x02, 0x12, 0x05}
	type outer struct {
		A  uint64 `tlv:"1"`
		In vInner `tlv:"1"`
	}
	type outer2 struct {
		A  uint64 `tlv:"1"`
		In vInner `tlv:"1"`
	}
	_ = outer{}
	_ = outer2{}
	type o struct {
		A  uint64 `tlv:"1"`
		In vInner `tlv:"2"`
	}
	data[2] = 0x13 // tag 2, message
	err := Unmarshal(data, &o{})
	var de *DecodeError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, 7, de.Offset)
	assert.Equal(t, uint32(2), de.Tag)
	require.ErrorIs(t, err, ErrLength)
	assert.Contains(t, err.Error(), "tlv: ")
}

type badInner struct {
	C chan int `tlv:"1"`
}

type usesBad struct {
	B badInner `tlv:"1"`
}

func TestUnsupportedNestedTypeAfterCachedFailure(t *testing.T) {
	_, err := Marshal(&badInner{})
	require.ErrorIs(t, err, ErrUnsupportedType)
	// The failed plan is cached; a type using it must fail too, not encode nothing.
	_, err = Marshal(&usesBad{})
	require.ErrorIs(t, err, ErrUnsupportedType)
	require.ErrorIs(t, Unmarshal(nil, &usesBad{}), ErrUnsupportedType)
}

type concA struct {
	N  int64   `tlv:"1"`
	Bs []concB `tlv:"2"`
}

type concB struct {
	S string `tlv:"1"`
	A *concA `tlv:"2"`
}

func TestConcurrentFirstUse(t *testing.T) {
	// Many goroutines build the plans of new, mutually recursive types at once (run with
	// -race); all agree on the bytes.
	in := &concA{N: 1, Bs: []concB{{S: "x", A: &concA{N: 2}}}}
	// N=1; tag 2 message of 7 bytes: S="x", then A as a message holding N=2.
	want := "0802" + "1307" + "0a0178" + "13020804"
	results := make(chan string, 8)
	for range 8 {
		go func() {
			b, err := Marshal(in)
			if err != nil {
				results <- err.Error()
				return
			}
			var out concA
			if err := Unmarshal(b, &out); err != nil {
				results <- err.Error()
				return
			}
			if out.Bs[0].A.N != 2 {
				results <- "decoded value differs"
				return
			}
			results <- hex.EncodeToString(b)
		}()
	}
	for range 8 {
		got := <-results
		assert.Equal(t, want, got)
	}
}

func TestMapDecodingRules(t *testing.T) {
	entry := func(k string, v int32) []byte {
		e := tlvwire.AppendStringField(nil, 1, k)
		e = tlvwire.AppendZigzagField(e, 2, int64(v))
		return tlvwire.AppendBytes(tlvwire.AppendTag(nil, 5, tlvwire.Message), e)
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	strict := DecodeOptions{Strict: true}
	tests := []struct {
		name      string
		data      []byte
		want      map[string]int32
		strictErr error
	}{
		{"canonical", cat(entry("a", 1), entry("b", 2)), map[string]int32{"a": 1, "b": 2}, nil},
		{"duplicate key, last wins", cat(entry("a", 1), entry("a", 2)), map[string]int32{"a": 2}, ErrNonCanonical},
		{"descending keys", cat(entry("b", 1), entry("a", 2)), map[string]int32{"a": 2, "b": 1}, ErrNonCanonical},
		{"missing value", tlvwire.AppendBytes(tlvwire.AppendTag(nil, 5, tlvwire.Message), tlvwire.AppendStringField(nil, 1, "k")), map[string]int32{"k": 0}, ErrNonCanonical},
		{"value before key", tlvwire.AppendBytes(tlvwire.AppendTag(nil, 5, tlvwire.Message), cat(tlvwire.AppendZigzagField(nil, 2, 1), tlvwire.AppendStringField(nil, 1, "k"))),
			map[string]int32{"k": 1}, ErrNonCanonical},
		{"extra field in entry", tlvwire.AppendBytes(tlvwire.AppendTag(nil, 5, tlvwire.Message), cat(tlvwire.AppendStringField(nil, 1, "k"), tlvwire.AppendZigzagField(nil, 2, 1), tlvwire.AppendVarintField(nil, 3, 1))),
			map[string]int32{"k": 1}, ErrMalformed},
		{"split runs", cat(entry("a", 1), tlvwire.AppendVarintField(nil, 9, 1), entry("b", 2)), map[string]int32{"a": 1, "b": 2}, ErrNonCanonical},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m vMap
			require.NoError(t, Unmarshal(tc.data, &m))
			assert.Equal(t, tc.want, m.M)
			err := strict.Unmarshal(tc.data, &vMap{})
			if tc.strictErr == nil {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.True(t, errors.Is(err, tc.strictErr) || errors.Is(err, ErrUnknownField), "got %v", err)
			}
		})
	}
	// The string-map fast path follows the same rules.
	type sm struct {
		M map[string]string `tlv:"1"`
	}
	se := func(k, v string) []byte {
		return tlvwire.AppendBytes(tlvwire.AppendTag(nil, 1, tlvwire.Message), cat(tlvwire.AppendStringField(nil, 1, k), tlvwire.AppendStringField(nil, 2, v)))
	}
	var out sm
	data := cat(se("b", "1"), se("a", "2"), se("b", "3"))
	require.NoError(t, Unmarshal(data, &out))
	assert.Equal(t, map[string]string{"a": "2", "b": "3"}, out.M)
	require.ErrorIs(t, strict.Unmarshal(data, &sm{}), ErrNonCanonical)
	// Wrong entry wire type inside an entry: lenient skips it, strict rejects it.
	bad := tlvwire.AppendBytes(tlvwire.AppendTag(nil, 1, tlvwire.Message), cat(tlvwire.AppendVarintField(nil, 1, 5), tlvwire.AppendStringField(nil, 2, "v")))
	require.NoError(t, Unmarshal(bad, &out))
	assert.Equal(t, map[string]string{"": "v"}, out.M)
	require.ErrorIs(t, strict.Unmarshal(bad, &sm{}), ErrMalformed)
}

func TestTimeStrict(t *testing.T) {
	strict := DecodeOptions{Strict: true}
	// time.Unix(1, 5) in its canonical varint form, and in the message form that is
	// canonical only outside the int64 nanosecond range.
	ok := []byte{0x08, 0x8a, 0xa8, 0xd6, 0xb9, 0x07}
	require.NoError(t, strict.Unmarshal(ok, &vTime{}))
	asMessage := []byte{0x0b, 0x04, 0x08, 0x02, 0x10, 0x05}
	var v vTime
	require.NoError(t, Unmarshal(asMessage, &v))
	assert.Equal(t, time.Unix(1, 5).UTC(), v.T)
	require.ErrorIs(t, strict.Unmarshal(asMessage, &vTime{}), ErrNonCanonical)
	swapped := []byte{0x0b, 0x04, 0x10, 0x05, 0x08, 0x02}
	require.NoError(t, Unmarshal(swapped, &v))
	assert.Equal(t, time.Unix(1, 5).UTC(), v.T)
	require.ErrorIs(t, strict.Unmarshal(swapped, &vTime{}), ErrNonCanonical)
	// Far times round-trip through the message form, strictly.
	for _, far := range []time.Time{{}, time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(1677, 1, 1, 0, 0, 0, 1, time.UTC), time.Date(2262, 12, 31, 0, 0, 0, 0, time.UTC)} {
		b, err := Marshal(&vTime{T: far})
		require.NoError(t, err)
		require.Equal(t, byte(0x0b), b[0], "message form for %v", far)
		var out vTime
		require.NoError(t, strict.Unmarshal(b, &out))
		assert.Equal(t, far, out.T)
	}
	// Varint times beyond the edges decode leniently, but their canonical form is the message.
	for _, ns := range []int64{math.MinInt64, math.MaxInt64} {
		data := tlvwire.AppendZigzagField(nil, 1, ns)
		var out vTime
		require.NoError(t, Unmarshal(data, &out))
		assert.Equal(t, time.Unix(0, ns).UTC(), out.T)
		require.ErrorIs(t, strict.Unmarshal(data, &vTime{}), ErrNonCanonical)
		b, err := Marshal(&out)
		require.NoError(t, err)
		require.Equal(t, byte(0x0b), b[0])
	}
	// Both edges of the varint range.
	for _, edge := range []time.Time{time.Unix(math.MinInt64/1_000_000_000, 0).UTC(), time.Unix(math.MaxInt64/1_000_000_000-1, 999999999).UTC()} {
		b, err := Marshal(&vTime{T: edge})
		require.NoError(t, err)
		require.Equal(t, byte(0x08), b[0], "varint form for %v", edge)
		var out vTime
		require.NoError(t, strict.Unmarshal(b, &out))
		assert.Equal(t, edge, out.T)
	}
	extra := []byte{0x0b, 0x02, 0x18, 0x01}
	require.NoError(t, Unmarshal(extra, &v))
	require.ErrorIs(t, strict.Unmarshal(extra, &vTime{}), ErrMalformed)
	require.ErrorIs(t, Unmarshal([]byte{0x0b, 0x01, 0x08}, &v), ErrTruncated)
}

func TestDecodedValuesDoNotAliasInputOrEachOther(t *testing.T) {
	type rec struct {
		A     string            `tlv:"1"`
		Small []byte            `tlv:"2"`
		B     string            `tlv:"3"`
		Big   []byte            `tlv:"4"`
		M     map[string]string `tlv:"5"`
		Ss    []string          `tlv:"6"`
	}
	big := bytes.Repeat([]byte{7}, arenaMax+1)
	in := &rec{A: "alpha", Small: []byte{1, 2, 3}, B: "beta", Big: big,
		M: map[string]string{"k1": "v1", "k2": "v2"}, Ss: []string{"x", "yy"}}
	data, err := Marshal(in)
	require.NoError(t, err)
	var out rec
	require.NoError(t, Unmarshal(data, &out))
	require.Equal(t, in, &out)

	// Overwriting the input leaves the decoded values alone.
	for i := range data {
		data[i] = 0xff
	}
	assert.Equal(t, in, &out)

	// Small byte slices have no spare capacity: appending copies, and writing into one
	// cannot reach the strings decoded next to it.
	require.Equal(t, len(out.Small), cap(out.Small))
	grown := append(out.Small, 9, 9, 9)
	grown[0] = 42
	out.Small[1] = 42
	assert.Equal(t, []byte{1, 42, 3}, out.Small)
	assert.Equal(t, "alpha", out.A)
	assert.Equal(t, "beta", out.B)
	assert.Equal(t, map[string]string{"k1": "v1", "k2": "v2"}, out.M)
	assert.Equal(t, []string{"x", "yy"}, out.Ss)
}

func TestShortStringsShareOneAllocation(t *testing.T) {
	type many struct {
		A string            `tlv:"1"`
		B string            `tlv:"2"`
		C string            `tlv:"3"`
		D string            `tlv:"4"`
		M map[string]string `tlv:"5"`
	}
	in := &many{A: "one", B: "two", C: "three", D: "four", M: map[string]string{"a": "1", "b": "2", "c": "3"}}
	data, err := Marshal(in)
	require.NoError(t, err)
	var out many
	require.NoError(t, Unmarshal(data, &out))
	require.Equal(t, in, &out)
	// One block for the ten strings, and the map (header and one group of slots).
	allocs := testing.AllocsPerRun(100, func() {
		_ = Unmarshal(data, &out)
	})
	assert.LessOrEqual(t, allocs, 3.0)
}

func TestStringMapOrderIsCanonical(t *testing.T) {
	// Keys of one length, of lengths around the one-byte varint limit, and empty: small
	// maps (sorted on the stack) and large ones (sorted in a slice) write entries in
	// CompareKeyString order, and Walk sees the same order after a round trip.
	long := func(n int, c byte) string { return strings.Repeat(string(c), n) }
	keys := []string{"", "b", "a", "ab", long(127, 'x'), long(128, 'a'), long(200, 'a'), long(127, 'a'), "zz", "z", long(129, 'b')}
	for _, n := range []int{2, 5, 8, 9, len(keys)} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			type rec struct {
				M map[string]string `tlv:"1"`
			}
			in := &rec{M: map[string]string{}}
			for _, k := range keys[:n] {
				in.M[k] = "v" + k
			}
			b, err := Marshal(in)
			require.NoError(t, err)
			var got []string
			for it := tlvwire.NewIter(b); it.Next(); {
				var entry struct {
					K string `tlv:"1"`
					V string `tlv:"2"`
				}
				require.NoError(t, Unmarshal(it.Field().Value, &entry))
				got = append(got, entry.K)
			}
			want := slices.Clone(keys[:n])
			slices.SortFunc(want, tlvwire.CompareKeyString)
			assert.Equal(t, want, got)
			var out rec
			require.NoError(t, DecodeOptions{Strict: true}.Unmarshal(b, &out))
			assert.Equal(t, in, &out)
		})
	}
}

// onlyUnmarshaler is a tagged struct whose pointer implements Unmarshaler but not
// Marshaler: Marshal uses reflection, Unmarshal must still call the method.
type onlyUnmarshaler struct {
	A     int64 `tlv:"1"`
	calls int
}

func (o *onlyUnmarshaler) UnmarshalTLV(data []byte, d *tlvwire.DecodeState) error {
	o.calls++
	o.A = int64(len(data))
	return nil
}

func TestPointerPlanCacheKeepsMethodsAndNilRules(t *testing.T) {
	// Twice each, so the second call goes through the cached pointer plan.
	for range 2 {
		b, err := Marshal(&onlyUnmarshaler{A: 300})
		require.NoError(t, err)
		require.Equal(t, []byte{0x08, 0xd8, 0x04}, b)
		var o onlyUnmarshaler
		require.NoError(t, Unmarshal(b, &o))
		assert.Equal(t, 1, o.calls)
		assert.Equal(t, int64(3), o.A)

		in := &vScalars{A: 150, B: -2, C: "hi"}
		b, err = Marshal(in)
		require.NoError(t, err)
		var out vScalars
		out.C = "stale"
		require.NoError(t, Unmarshal(b, &out))
		assert.Equal(t, in, &out)

		var nilPtr *vScalars
		b, err = Marshal(nilPtr)
		require.NoError(t, err)
		assert.Empty(t, b)
		b, err = MarshalAppend([]byte{1}, nilPtr)
		require.NoError(t, err)
		assert.Equal(t, []byte{1}, b)
		require.ErrorIs(t, Unmarshal([]byte{}, nilPtr), ErrUnsupportedType)
	}
}

// TestUnexportedFieldsIgnored: an unexported field is neither encoded nor
// decoded, so setting it changes no byte.
func TestUnexportedFieldsIgnored(t *testing.T) {
	plain, err := Marshal(fullValue())
	require.NoError(t, err)
	v := fullValue()
	v.skip = 42
	withSkip, err := Marshal(v)
	require.NoError(t, err)
	require.Equal(t, plain, withSkip)
	var back allKinds
	require.NoError(t, Unmarshal(withSkip, &back))
	require.Zero(t, back.skip)
}

// TestEvolutionParagraph checks doc.go's Evolution paragraph over seeded
// random values, in both modes: list → singular never decodes silently to a
// zero (packed into a scalar is ErrWireType), several strings read into one
// keep the last in lenient mode only, scalar → list is lenient-only, string →
// list is free, and narrowing fails with ErrRange instead of truncating.
func TestEvolutionParagraph(t *testing.T) {
	type ints struct {
		V []int64 `tlv:"1"`
	}
	type oneInt struct {
		V int64 `tlv:"1"`
	}
	type strs struct {
		V []string `tlv:"1"`
	}
	type oneStr struct {
		V string `tlv:"1"`
	}
	type narrow struct {
		V int32 `tlv:"1"`
	}
	r := rand.New(rand.NewPCG(4, 4))
	lenient, strict := DecodeOptions{}, DecodeOptions{Strict: true}
	for range 500 {
		// A packed list read into a scalar: ErrWireType in both modes.
		n := 1 + r.IntN(5)
		list := make([]int64, n)
		for i := range list {
			list[i] = r.Int64() >> r.IntN(64)
		}
		b, err := Marshal(&ints{V: list})
		require.NoError(t, err)
		for _, o := range []DecodeOptions{lenient, strict} {
			require.ErrorIs(t, o.Unmarshal(b, &oneInt{}), ErrWireType, "%v", list)
		}
		// A scalar read into a list: lenient reads one element, strict refuses.
		v := r.Int64() >> r.IntN(64)
		b, err = Marshal(&oneInt{V: v})
		require.NoError(t, err)
		var got ints
		require.NoError(t, lenient.Unmarshal(b, &got))
		assert.Equal(t, []int64{v}, got.V)
		require.ErrorIs(t, strict.Unmarshal(b, &ints{}), ErrNonCanonical)
		// Narrowing: ErrRange when the value does not fit, never truncation.
		var nv narrow
		err = lenient.Unmarshal(b, &nv)
		if v < math.MinInt32 || v > math.MaxInt32 {
			require.ErrorIs(t, err, ErrRange, "%d", v)
		} else {
			require.NoError(t, err)
			assert.Equal(t, int32(v), nv.V)
		}
		// Strings: singular → list is free; a list read into a singular string keeps
		// the last element in lenient mode, and strict mode refuses more than one.
		ss := make([]string, 1+r.IntN(4))
		for i := range ss {
			ss[i] = strings.Repeat("s", r.IntN(5)) + string(rune('a'+i))
		}
		b, err = Marshal(&oneStr{V: ss[0]})
		require.NoError(t, err)
		for _, o := range []DecodeOptions{lenient, strict} {
			var sl strs
			require.NoError(t, o.Unmarshal(b, &sl))
			assert.Equal(t, []string{ss[0]}, sl.V)
		}
		b, err = Marshal(&strs{V: ss})
		require.NoError(t, err)
		var one oneStr
		require.NoError(t, lenient.Unmarshal(b, &one))
		assert.Equal(t, ss[len(ss)-1], one.V)
		err = strict.Unmarshal(b, &oneStr{})
		if len(ss) > 1 {
			require.ErrorIs(t, err, ErrNonCanonical)
		} else {
			require.NoError(t, err)
		}
	}
}

// TestMarshalOneAllocationWithTimes: Marshal sizes its buffer for the largest
// time encoding, so seeded random times across the whole range (both forms,
// nanoseconds up to 999 999 999, alone, in lists and beside other fields)
// cost exactly one allocation. A time in message form with large nanoseconds
// used to overflow the estimate and cost a second allocation.
func TestMarshalOneAllocationWithTimes(t *testing.T) {
	type one struct {
		T time.Time `tlv:"2"`
	}
	type many struct {
		A  int64       `tlv:"1"`
		Ts []time.Time `tlv:"2"`
		P  *time.Time  `tlv:"3"`
		S  string      `tlv:"4"`
	}
	r := rand.New(rand.NewPCG(5, 5))
	rt := func() time.Time {
		sec := r.Int64N(1<<62) >> r.IntN(40)
		if r.IntN(2) == 0 {
			sec = -sec
		}
		return time.Unix(sec, r.Int64N(1e9))
	}
	for range 300 {
		o := &one{T: rt()}
		require.Equal(t, 1.0, testing.AllocsPerRun(5, func() { _, _ = Marshal(o) }), "%v", o.T)
		p := rt()
		m := &many{A: r.Int64N(1 << 20), P: &p, S: strings.Repeat("x", r.IntN(200))}
		for range r.IntN(6) {
			m.Ts = append(m.Ts, rt())
		}
		_, err := Marshal(m)
		require.NoError(t, err)
		require.Equal(t, 1.0, testing.AllocsPerRun(5, func() { _, _ = Marshal(m) }))
	}
}
