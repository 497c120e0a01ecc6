package tlv_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/tlv"
	"github.com/bulwark-go/bulwark/tlv/internal/gentest"
	"github.com/bulwark-go/bulwark/tlv/tlvwire"
)

// chooser is the source of every choice of a shape and a value: a seeded PRNG in the
// unit tests, the fuzzer's bytes in FuzzShapes.
type chooser interface{ IntN(n int) int }

// byteChooser draws choices from fuzz input; once the bytes run out every choice is 0,
// which always picks a terminal kind, so every input yields a finite shape.
type byteChooser struct{ b []byte }

func (c *byteChooser) IntN(n int) int {
	if len(c.b) == 0 || n <= 1 {
		return 0
	}
	v := int(c.b[0])
	c.b = c.b[1:]
	if n > 256 {
		if len(c.b) > 0 {
			v = v<<8 | int(c.b[0])
			c.b = c.b[1:]
		}
	}
	return v % n
}

var (
	unknownT = reflect.TypeFor[tlv.Unknown]()
	timeT    = reflect.TypeFor[time.Time]()
)

// scalarTypes are the leaf types a shape can use: every kind the package documents.
var scalarTypes = []reflect.Type{
	reflect.TypeFor[bool](),
	reflect.TypeFor[int8](), reflect.TypeFor[int16](), reflect.TypeFor[int32](), reflect.TypeFor[int64](), reflect.TypeFor[int](),
	reflect.TypeFor[uint8](), reflect.TypeFor[uint16](), reflect.TypeFor[uint32](), reflect.TypeFor[uint64](), reflect.TypeFor[uint](), reflect.TypeFor[uintptr](),
	reflect.TypeFor[float32](), reflect.TypeFor[float64](),
	reflect.TypeFor[time.Duration](),
}

// keyTypes are the map key types: string, bool and every integer kind.
var keyTypes = []reflect.Type{
	reflect.TypeFor[string](), reflect.TypeFor[bool](),
	reflect.TypeFor[int8](), reflect.TypeFor[int16](), reflect.TypeFor[int32](), reflect.TypeFor[int64](), reflect.TypeFor[int](),
	reflect.TypeFor[uint8](), reflect.TypeFor[uint16](), reflect.TypeFor[uint32](), reflect.TypeFor[uint64](), reflect.TypeFor[uint](), reflect.TypeFor[uintptr](),
}

// shapeGen builds random struct types with reflect.StructOf.
type shapeGen struct {
	r chooser
}

const maxShapeDepth = 4

// leaf returns a non-container type: a scalar, string, []byte, time, or a generated type
// with its own methods.
func (g *shapeGen) leaf() reflect.Type {
	switch n := g.r.IntN(len(scalarTypes) + 4); {
	case n < len(scalarTypes):
		return scalarTypes[n]
	case n == len(scalarTypes):
		return reflect.TypeFor[string]()
	case n == len(scalarTypes)+1:
		return reflect.TypeFor[[]byte]()
	case n == len(scalarTypes)+2:
		return timeT
	default:
		return reflect.TypeFor[gentest.Inner]() // a tlvwire.Marshaler/Unmarshaler
	}
}

// messageType returns a struct type (nesting allowed) or a leaf struct-like type.
func (g *shapeGen) messageType(depth int) reflect.Type {
	if depth >= maxShapeDepth || g.r.IntN(4) == 0 {
		return reflect.TypeFor[gentest.Inner]()
	}
	return g.structType(depth + 1)
}

// element returns a type that may be a list element or map value.
func (g *shapeGen) element(depth int) reflect.Type {
	switch g.r.IntN(6) {
	case 0, 1:
		return g.leaf()
	case 2:
		return g.messageType(depth)
	case 3:
		return reflect.PointerTo(g.messageType(depth))
	case 4:
		// A packed list as element: [][]scalar, map[K][]scalar.
		return reflect.SliceOf(scalarTypes[g.r.IntN(len(scalarTypes))])
	default:
		return reflect.PointerTo(scalarTypes[g.r.IntN(len(scalarTypes))])
	}
}

// mapValue returns the type of a map value: an element type, or a list of one (SPEC.md §4:
// map[string][]string, map[K][]T of scalars, messages, lists of packable scalars).
func (g *shapeGen) mapValue(depth int) reflect.Type {
	if g.r.IntN(4) == 0 {
		return reflect.SliceOf(g.element(depth))
	}
	return g.element(depth)
}

// fieldType returns the type of a struct field.
func (g *shapeGen) fieldType(depth int) reflect.Type {
	switch g.r.IntN(8) {
	case 0, 1:
		return g.leaf()
	case 2:
		return g.messageType(depth)
	case 3:
		// Pointer to a scalar, a string, a time or a struct.
		t := g.leaf()
		if g.r.IntN(2) == 0 {
			t = g.messageType(depth)
		}
		if t.Kind() == reflect.Slice {
			t = reflect.TypeFor[string]()
		}
		return reflect.PointerTo(t)
	case 4, 5:
		return reflect.SliceOf(g.element(depth))
	default:
		return reflect.MapOf(keyTypes[g.r.IntN(len(keyTypes))], g.mapValue(depth))
	}
}

func (g *shapeGen) structType(depth int) reflect.Type {
	n := g.r.IntN(6)
	var fields []reflect.StructField
	tag := 0
	for i := range n {
		tag += 1 + g.r.IntN(3)
		if g.r.IntN(12) == 0 {
			tag += 200 // a two-byte key
		}
		opt := ""
		if g.r.IntN(3) == 0 {
			opt = ",omitempty"
		}
		fields = append(fields, reflect.StructField{
			Name: fmt.Sprintf("F%d", i),
			Type: g.fieldType(depth),
			Tag:  reflect.StructTag(fmt.Sprintf(`tlv:"%d%s"`, tag, opt)),
		})
	}
	if g.r.IntN(3) == 0 {
		fields = append(fields, reflect.StructField{Name: "Rest", Type: unknownT})
	}
	if g.r.IntN(8) == 0 {
		fields = append(fields, reflect.StructField{Name: "Untagged", Type: reflect.TypeFor[string]()})
	}
	return reflect.StructOf(fields)
}

// valueGen fills values of any shape, with nil, empty and edge values.
type valueGen struct {
	r chooser
	// collisions counts the Unknown fields given a field under a tag their struct
	// declares; Marshal must refuse such a value (ErrDeclaredTag).
	collisions int
}

// collide adds to the Unknown of struct v, now and then, a well-formed field under a
// tag v declares (as an Unknown.Add of the wrong field, or a lenient decode across a type
// change once did).
func (g *valueGen) collide(v reflect.Value) {
	t := v.Type()
	var tags []uint64
	unk := -1
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type == unknownT && f.IsExported() {
			unk = i
		}
		if s, ok := f.Tag.Lookup("tlv"); ok {
			n, err := strconv.ParseUint(strings.Split(s, ",")[0], 10, 32)
			if err == nil {
				tags = append(tags, n)
			}
		}
	}
	if unk < 0 || len(tags) == 0 || g.r.IntN(8) != 0 {
		return
	}
	tag := uint32(tags[g.r.IntN(len(tags))])
	u := v.Field(unk).Interface().(tlv.Unknown)
	if g.r.IntN(2) == 0 {
		u = tlvwire.AppendVarintField(u, tag, uint64(g.r.IntN(1000)))
	} else {
		u = tlvwire.AppendBytesField(u, tag, []byte(g.str()))
	}
	v.Field(unk).Set(reflect.ValueOf(u))
	g.collisions++
}

func (g *valueGen) int() int64 {
	switch g.r.IntN(8) {
	case 0:
		return 0
	case 1:
		return -1
	case 2:
		return math.MinInt64
	case 3:
		return math.MaxInt64
	case 4:
		return 1 << 40
	default:
		return int64(g.r.IntN(1<<16)) - 1<<15
	}
}

func (g *valueGen) float() float64 {
	switch g.r.IntN(8) {
	case 0:
		return 0
	case 1:
		return math.Copysign(0, -1)
	case 2:
		return math.Inf(-1)
	case 3:
		return math.Float64frombits(0x7ff0000000000001 | uint64(g.r.IntN(1<<20))<<20) // NaN with a payload
	case 4:
		return 1.5
	default:
		return float64(g.r.IntN(1<<20)) / 7
	}
}

func (g *valueGen) time() time.Time {
	switch g.r.IntN(6) {
	case 0:
		return time.Time{}
	case 1:
		return time.Unix(int64(g.r.IntN(1<<30)), int64(g.r.IntN(1e9)))
	case 2:
		// Beyond the varint form, within ±2^62 seconds.
		s := int64(g.r.IntN(1<<30)) << 32
		if g.r.IntN(2) == 0 {
			s = -s
		}
		return time.Unix(s, int64(g.r.IntN(1e9))).UTC()
	case 3:
		return time.Unix(-int64(g.r.IntN(1<<30)), 0).In(time.FixedZone("X", 3600))
	case 4:
		return time.Unix(1<<62, 999_999_999)
	default:
		return time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)
	}
}

func (g *valueGen) str() string {
	n := g.r.IntN(6)
	if g.r.IntN(16) == 0 {
		n = 130 + g.r.IntN(200) // longer than the arena's short strings, 2-byte lengths
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.IntN(256))
	}
	return string(b)
}

func (g *valueGen) fill(v reflect.Value, depth int) {
	t := v.Type()
	if t == timeT {
		v.Set(reflect.ValueOf(g.time()))
		return
	}
	if t == unknownT {
		// Unknown fields above every declared tag, ascending.
		var u tlv.Unknown
		tag := uint32(5000)
		for range g.r.IntN(3) {
			tag += uint32(g.r.IntN(3))
			u = tlvwire.AppendVarintField(u, tag, uint64(g.r.IntN(1000)))
		}
		v.Set(reflect.ValueOf(u))
		return
	}
	switch t.Kind() {
	case reflect.Bool:
		v.SetBool(g.r.IntN(2) == 1)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		x := g.int()
		bits := t.Bits()
		x = x << (64 - bits) >> (64 - bits) // wrap into the type's range
		v.SetInt(x)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		x := uint64(g.int())
		bits := t.Bits()
		x = x << (64 - bits) >> (64 - bits)
		v.SetUint(x)
	case reflect.Float32:
		f := g.float()
		if g.r.IntN(2) == 0 {
			v.Set(reflect.ValueOf(math.Float32frombits(0x7f800001 | uint32(g.r.IntN(1<<16))<<6)).Convert(t)) // NaN payload
			return
		}
		v.SetFloat(float64(float32(f)))
	case reflect.Float64:
		v.SetFloat(g.float())
	case reflect.String:
		v.SetString(g.str())
	case reflect.Slice:
		switch g.r.IntN(5) {
		case 0:
			return // nil
		case 1:
			v.Set(reflect.MakeSlice(t, 0, g.r.IntN(2))) // empty, not nil
			return
		}
		if t.Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte(g.str()))
			return
		}
		n := 1 + g.r.IntN(3)
		if depth > 2 {
			n = 1
		}
		s := reflect.MakeSlice(t, n, n)
		for i := range n {
			g.fill(s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Map:
		switch g.r.IntN(5) {
		case 0:
			return
		case 1:
			v.Set(reflect.MakeMap(t))
			return
		}
		m := reflect.MakeMap(t)
		for range 1 + g.r.IntN(3) {
			k := reflect.New(t.Key()).Elem()
			g.fill(k, depth+1)
			e := reflect.New(t.Elem()).Elem()
			before := g.collisions
			g.fill(e, depth+1)
			if m.MapIndex(k).IsValid() {
				g.collisions = before // a repeated key: the first entry stays
				continue
			}
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Pointer:
		if g.r.IntN(3) == 0 {
			return // nil
		}
		p := reflect.New(t.Elem())
		if g.r.IntN(4) != 0 {
			g.fill(p.Elem(), depth+1)
		}
		v.Set(p)
	case reflect.Struct:
		if g.r.IntN(6) == 0 {
			return // the zero struct
		}
		for i := range t.NumField() {
			if t.Field(i).IsExported() {
				g.fill(v.Field(i), depth+1)
			}
		}
		g.collide(v)
	}
}

// expected returns what Unmarshal must produce from Marshal(v), following SPEC.md §5:
// empty slices, maps and []byte decode as nil, a nil pointer inside a list or map value
// as a pointer to the zero value, times in UTC without a monotonic reading, untagged
// fields zero, and everything else unchanged (floats bit for bit).
func expected(v reflect.Value, inList bool) reflect.Value {
	t := v.Type()
	out := reflect.New(t).Elem()
	if t == timeT {
		tm := v.Interface().(time.Time)
		out.Set(reflect.ValueOf(tm.Round(0).UTC()))
		return out
	}
	if t == unknownT {
		if v.Len() > 0 {
			out.Set(v)
		}
		return out
	}
	switch t.Kind() {
	case reflect.Slice:
		if v.Len() == 0 {
			return out
		}
		if t.Elem().Kind() == reflect.Uint8 {
			out.SetBytes(bytes.Clone(v.Bytes()))
			return out
		}
		s := reflect.MakeSlice(t, v.Len(), v.Len())
		for i := range v.Len() {
			s.Index(i).Set(expected(v.Index(i), true))
		}
		out.Set(s)
	case reflect.Map:
		if v.Len() == 0 {
			return out
		}
		m := reflect.MakeMap(t)
		for it := v.MapRange(); it.Next(); {
			m.SetMapIndex(it.Key(), expected(it.Value(), true))
		}
		out.Set(m)
	case reflect.Pointer:
		if v.IsNil() {
			if inList {
				out.Set(reflect.New(t.Elem()))
			}
			return out
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(expected(v.Elem(), false))
		out.Set(p)
	case reflect.Struct:
		if t.PkgPath() != "" && reflect.PointerTo(t).Implements(reflect.TypeFor[tlvwire.Unmarshaler]()) {
			// A generated type: its own rules are the same; copy field by field.
			for i := range t.NumField() {
				if t.Field(i).IsExported() {
					out.Field(i).Set(expected(v.Field(i), false))
				}
			}
			return out
		}
		for i := range t.NumField() {
			f := t.Field(i)
			if _, ok := f.Tag.Lookup("tlv"); ok || f.Type == unknownT {
				out.Field(i).Set(expected(v.Field(i), false))
			}
		}
	default:
		out.Set(v)
	}
	return out
}

// sameBits compares two values of one type deeply, floats by their bits and times by
// instant and location.
func sameBits(a, b reflect.Value, path string) error {
	t := a.Type()
	if t == timeT {
		x, y := a.Interface().(time.Time), b.Interface().(time.Time)
		if !x.Equal(y) || x.Location() != y.Location() {
			return fmt.Errorf("%s: time %v != %v", path, x, y)
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		if math.Float64bits(a.Float()) != math.Float64bits(b.Float()) {
			if t.Kind() == reflect.Float32 && math.Float32bits(float32(a.Float())) == math.Float32bits(float32(b.Float())) {
				return nil
			}
			return fmt.Errorf("%s: float bits %x != %x", path, math.Float64bits(a.Float()), math.Float64bits(b.Float()))
		}
	case reflect.Slice:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return fmt.Errorf("%s: slice nil=%v len=%d vs nil=%v len=%d", path, a.IsNil(), a.Len(), b.IsNil(), b.Len())
		}
		for i := range a.Len() {
			if err := sameBits(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return fmt.Errorf("%s: map nil=%v len=%d vs nil=%v len=%d", path, a.IsNil(), a.Len(), b.IsNil(), b.Len())
		}
		for it := a.MapRange(); it.Next(); {
			bv := b.MapIndex(it.Key())
			if !bv.IsValid() {
				return fmt.Errorf("%s: key %v missing", path, it.Key())
			}
			if err := sameBits(it.Value(), bv, fmt.Sprintf("%s[%v]", path, it.Key())); err != nil {
				return err
			}
		}
	case reflect.Pointer:
		if a.IsNil() != b.IsNil() {
			return fmt.Errorf("%s: pointer nil %v vs %v", path, a.IsNil(), b.IsNil())
		}
		if !a.IsNil() {
			return sameBits(a.Elem(), b.Elem(), "*"+path)
		}
	case reflect.Struct:
		for i := range t.NumField() {
			if !t.Field(i).IsExported() {
				continue
			}
			if err := sameBits(a.Field(i), b.Field(i), path+"."+t.Field(i).Name); err != nil {
				return err
			}
		}
	default:
		if !a.Equal(b) {
			return fmt.Errorf("%s: %v != %v", path, a, b)
		}
	}
	return nil
}

// checkShape runs every property on one value of a random shape.
func checkShape(t *testing.T, typ reflect.Type, v reflect.Value, collisions int) {
	t.Helper()
	ptr := v.Addr().Interface()
	b1, err := tlv.Marshal(ptr)
	if collisions > 0 {
		// An Unknown holds a tag its struct declares: written back, strict decoding of
		// the same type would reject it (or absorb it into the known field).
		require.ErrorIs(t, err, tlv.ErrDeclaredTag, "%v: Marshal gave %x", typ, b1)
		return
	}
	require.NoError(t, err, "%v", typ)
	b2, err := tlv.Marshal(ptr)
	require.NoError(t, err)
	require.Equal(t, b1, b2, "Marshal is deterministic")
	prefix := []byte{0xAA, 0xBB}
	b3, err := tlv.MarshalAppend(prefix, ptr)
	require.NoError(t, err)
	require.Equal(t, prefix, b3[:2], "MarshalAppend keeps dst")
	require.Equal(t, b1, b3[2:], "MarshalAppend == Marshal")

	for _, strict := range []bool{false, true} {
		back := reflect.New(typ)
		err := tlv.DecodeOptions{Strict: strict}.Unmarshal(b1, back.Interface())
		require.NoError(t, err, "strict=%v: decoding Marshal's output %x of %v", strict, b1, typ)
		want := expected(v, false)
		require.NoError(t, sameBits(want, back.Elem(), "v"), "strict=%v type %v bytes %x", strict, typ, b1)
		again, err := tlv.Marshal(back.Interface())
		require.NoError(t, err)
		require.Equal(t, b1, again, "strict=%v: re-encoding the decoded value of %v gives the same bytes", strict, typ)
	}
	require.True(t, tlv.Valid(b1), "Valid accepts Marshal output")
}

// TestEveryShapeRoundTrips builds thousands of random struct types (nesting up to 4; every
// scalar kind, strings, []byte, time, generated types, pointers, slices, packed lists as
// elements and map values, maps with every key kind) and random values with nil, empty
// and edge values, and checks each property of checkShape.
func TestEveryShapeRoundTrips(t *testing.T) {
	shapes := 3000
	if testing.Short() {
		shapes = 500
	}
	for seed := range uint64(shapes) {
		r := rand.New(rand.NewPCG(seed, 0x5eed))
		typ := (&shapeGen{r: r}).structType(0)
		for range 3 {
			v := reflect.New(typ).Elem()
			vg := &valueGen{r: r}
			vg.fill(v, 0)
			checkShapeSeed(t, seed, typ, v, vg.collisions)
		}
	}
}

func checkShapeSeed(t *testing.T, seed uint64, typ reflect.Type, v reflect.Value, collisions int) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("seed %d: panic %v on %v", seed, p, typ)
		}
	}()
	checkShape(t, typ, v, collisions)
}

// FuzzShapes drives the shape and the value from the fuzzer's bytes.
func FuzzShapes(f *testing.F) {
	for seed := range uint64(16) {
		r := rand.New(rand.NewPCG(seed, 1))
		b := make([]byte, 64)
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &byteChooser{b: data}
		typ := (&shapeGen{r: c}).structType(0)
		v := reflect.New(typ).Elem()
		vg := &valueGen{r: c}
		vg.fill(v, 0)
		checkShape(t, typ, v, vg.collisions)
	})
}

// TestMarshalNestedListsOfStrings is the case of issue 14: a []string inside a nested
// struct made the size estimate dereference nil.
func TestMarshalNestedListsOfStrings(t *testing.T) {
	type In struct {
		L []string `tlv:"1"`
	}
	type Out struct {
		In In `tlv:"1"`
	}
	b, err := tlv.Marshal(&Out{In: In{L: []string{"a"}}})
	require.NoError(t, err)
	require.Equal(t, []byte{0x0b, 0x03, 0x0a, 0x01, 'a'}, b)
}

// TestCompareKeyStringIsBytewise checks the documented order against the bytes of the
// encoded keys for random lengths across the one-, two- and three-byte length varints.
func TestCompareKeyStringIsBytewise(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	lengths := []int{0, 1, 127, 128, 129, 255, 256, 16383, 16384}
	for range 2000 {
		a := string(make([]byte, lengths[r.IntN(len(lengths))]+r.IntN(2)))
		b := string(make([]byte, lengths[r.IntN(len(lengths))]+r.IntN(2)))
		want := bytes.Compare(tlvwire.AppendString(nil, a), tlvwire.AppendString(nil, b))
		require.Equal(t, want, tlvwire.CompareKeyString(a, b), "len %d vs %d", len(a), len(b))
	}
	require.Negative(t, tlvwire.CompareKeyString(string(make([]byte, 256)), string(make([]byte, 129))))
}

// TestMarshalRefusesTimesBeyondRange: ±2^62 seconds is inclusive (SPEC.md §4); beyond
// it both the reflection encoder and generated code fail with ErrRange instead of writing
// bytes a decoder rejects. Random offsets on both sides of both bounds.
func TestMarshalRefusesTimesBeyondRange(t *testing.T) {
	type T struct {
		At time.Time `tlv:"1"`
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 500 {
		d := int64(r.IntN(1 << 20))
		for _, sign := range []int64{1, -1} {
			in := time.Unix(sign*(1<<62-d), int64(r.IntN(1e9)))
			b, err := tlv.Marshal(&T{At: in})
			require.NoError(t, err)
			var back T
			require.NoError(t, tlv.DecodeOptions{Strict: true}.Unmarshal(b, &back))
			require.True(t, in.Equal(back.At))
			_, err = (&gentest.SmallStruct{BirthDay: in}).AppendTLV(nil)
			require.NoError(t, err)

			out := time.Unix(sign*(1<<62+1+d), int64(r.IntN(1e9)))
			_, err = tlv.Marshal(&T{At: out})
			require.ErrorIs(t, err, tlv.ErrRange)
			_, err = tlv.Marshal(&struct {
				At []time.Time `tlv:"1"`
			}{At: []time.Time{in, out}})
			require.ErrorIs(t, err, tlv.ErrRange)
			_, err = (&gentest.SmallStruct{BirthDay: out}).AppendTLV(nil)
			require.ErrorIs(t, err, tlv.ErrRange)
		}
	}
}

// TestStrictTakesOnlyTheEncodedFloatWidth: for random values, a float of the other width
// (singular, packed, map value) is read in lenient mode and rejected in strict mode by both
// the reflection decoder and generated code, so strict accepts only Marshal's bytes.
func TestStrictTakesOnlyTheEncodedFloatWidth(t *testing.T) {
	type F struct {
		F32 float32            `tlv:"6"`
		F64 float64            `tlv:"7"`
		P32 []float32          `tlv:"13"`
		P64 []float64          `tlv:"14"`
		M   map[uint64]float64 `tlv:"20"`
	}
	r := rand.New(rand.NewPCG(7, 8))
	for range 300 {
		f := float32(r.NormFloat64())
		var inputs [][]byte
		inputs = append(inputs,
			tlvwire.AppendFixed32Field(nil, 7, math.Float32bits(f)),          // fixed32 into float64
			tlvwire.AppendFixed64Field(nil, 6, math.Float64bits(float64(f))), // fixed64 into float32
			tlvwire.AppendBytes(tlvwire.AppendTag(nil, 13, tlvwire.PackedFixed64), binaryLE64(float64(f))),
			tlvwire.AppendBytes(tlvwire.AppendTag(nil, 14, tlvwire.PackedFixed32), binaryLE32(f)),
		)
		entry := tlvwire.AppendFixed32Field(tlvwire.AppendVarintField(nil, 1, uint64(r.IntN(100))), 2, math.Float32bits(f))
		inputs = append(inputs, tlvwire.AppendBytes(tlvwire.AppendTag(nil, 20, tlvwire.Message), entry))
		for i, in := range inputs {
			var lenient F
			require.NoError(t, tlv.Unmarshal(in, &lenient), "input %d %x", i, in)
			var strict F
			require.Error(t, tlv.DecodeOptions{Strict: true}.Unmarshal(in, &strict), "input %d %x", i, in)
			var ev gentest.Every
			// gentest.Every declares the same tags and types (Counts is map[uint64]float64 at 20).
			require.NoError(t, tlv.Unmarshal(in, &ev), "generated lenient %d", i)
			require.Error(t, tlv.DecodeOptions{Strict: true}.Unmarshal(in, &ev), "generated strict %d", i)
		}
	}
}

func binaryLE32(f float32) []byte { return tlvwire.AppendFixed32(nil, math.Float32bits(f)) }
func binaryLE64(f float64) []byte { return tlvwire.AppendFixed64(nil, math.Float64bits(f)) }

// TestUnknownPackedMustHoldWholeElements: an unknown packed-fixed field whose length is not
// a multiple of its width, or packed-varint content ending inside a varint, is malformed in
// both modes for the reflection decoder and generated code alike (SPEC.md §3, §6).
func TestUnknownPackedMustHoldWholeElements(t *testing.T) {
	type K struct {
		A    uint64 `tlv:"1"`
		Rest tlv.Unknown
	}
	r := rand.New(rand.NewPCG(9, 10))
	for range 500 {
		wt := []tlvwire.WireType{tlvwire.PackedFixed32, tlvwire.PackedFixed64, tlvwire.PackedVarint}[r.IntN(3)]
		n := 1 + r.IntN(40)
		content := make([]byte, n)
		for i := range content {
			content[i] = byte(r.IntN(256))
		}
		good := true
		switch wt {
		case tlvwire.PackedFixed32:
			good = n%4 == 0
		case tlvwire.PackedFixed64:
			good = n%8 == 0
		default:
			good = content[n-1] < 0x80
		}
		in := tlvwire.AppendBytes(tlvwire.AppendTag(nil, uint32(2+r.IntN(100)), wt), content)
		for _, strict := range []bool{false, true} {
			o := tlv.DecodeOptions{Strict: strict}
			var k K
			errR := o.Unmarshal(in, &k)
			var e gentest.Empty
			errG := o.Unmarshal(in, &e)
			if good {
				require.NoError(t, errR, "%x", in)
				require.NoError(t, errG, "%x", in)
				continue
			}
			require.ErrorIs(t, errR, tlv.ErrMalformed, "%x", in)
			require.ErrorIs(t, errG, tlv.ErrMalformed, "%x", in)
		}
		if !good {
			require.False(t, tlv.Valid(in), "%x", in) // Valid also checks every varint inside
		}
	}
}

// TestNaNPayloadsThroughWidthChanges: widening keeps every float32 bit pattern (NaN
// payloads and signs included) and narrowing the result gives it back; narrowing a random
// float64 NaN keeps its sign and top payload bits. Reflection and generated decoders agree.
func TestNaNPayloadsThroughWidthChanges(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for range 5000 {
		x := uint32(r.Uint64())
		if r.IntN(2) == 0 {
			x |= 0x7f800000 // NaN or infinity
		}
		w := tlvwire.WidenFloat32(x)
		if !math.IsNaN(float64(math.Float32frombits(x))) {
			require.Equal(t, float64(math.Float32frombits(x)), w)
		}
		back, ok := tlvwire.NarrowFloat64(math.Float64bits(w))
		require.True(t, ok)
		require.Equal(t, x, math.Float32bits(back), "%08x", x)

		in := tlvwire.AppendFixed32Field(nil, 7, x) // fixed32 into Every.F64, lenient
		var ev gentest.Every
		require.NoError(t, tlv.Unmarshal(in, &ev))
		require.Equal(t, math.Float64bits(w), math.Float64bits(ev.F64))
		var ref struct {
			F64 float64 `tlv:"7"`
		}
		require.NoError(t, tlv.Unmarshal(in, &ref))
		require.Equal(t, math.Float64bits(w), math.Float64bits(ref.F64))

		nan := 0x7ff0000000000000 | r.Uint64()&(1<<52-1) | r.Uint64()&(1<<63)
		if nan&(1<<52-1) == 0 {
			continue
		}
		f, ok := tlvwire.NarrowFloat64(nan)
		require.True(t, ok)
		require.True(t, math.IsNaN(float64(f)))
		require.Equal(t, uint32(nan>>63), math.Float32bits(f)>>31, "sign kept")
		in = tlvwire.AppendFixed64Field(nil, 6, nan) // fixed64 into Every.F32
		require.NoError(t, tlv.Unmarshal(in, &ev))
		require.Equal(t, math.Float32bits(f), math.Float32bits(ev.F32))
	}
}

// TestListMapValuesAreRefusedNotPanicked: the shapes SPEC.md §11 leaves open fail with
// ErrUnsupportedType at Marshal and Unmarshal.
func TestListMapValues(t *testing.T) {
	type lists struct {
		Q url.Values                    `tlv:"1"`
		H http.Header                   `tlv:"2"`
		B map[int64][][]byte            `tlv:"3"`
		I map[uint8][]gentest.Inner     `tlv:"4"`
		P map[string][][]int64          `tlv:"5"`
		T map[bool][]*time.Time         `tlv:"6"`
		E map[string][]struct{ X int8 } `tlv:"7"`
	}
	in := &lists{
		Q: url.Values{"q": {"a b", ""}, "empty": nil},
		H: http.Header{"Accept": {"text/html", "*/*"}},
		B: map[int64][][]byte{-1: {{1}, nil}},
		I: map[uint8][]gentest.Inner{7: {{ID: 1}, {}}},
		P: map[string][][]int64{"": {{}, {1, -1}}},
		T: map[bool][]*time.Time{true: {nil}},
		E: map[string][]struct{ X int8 }{"e": {{X: 0}}},
	}
	b, err := tlv.Marshal(in)
	require.NoError(t, err)
	for _, strict := range []bool{false, true} {
		var out lists
		require.NoError(t, tlv.DecodeOptions{Strict: strict}.Unmarshal(b, &out))
		require.NoError(t, sameBits(reflect.ValueOf(out), expected(reflect.ValueOf(*in), false), "lists"))
		again, err := tlv.Marshal(&out)
		require.NoError(t, err)
		require.Equal(t, b, again)
	}
	// A map of maps stays unsupported: a clear error, no panic.
	bad := &struct {
		M map[string]map[string]int `tlv:"1"`
	}{}
	_, err = tlv.Marshal(bad)
	require.ErrorIs(t, err, tlv.ErrUnsupportedType)
	require.ErrorIs(t, tlv.Unmarshal([]byte{0x0b, 0x00}, bad), tlv.ErrUnsupportedType)
}

// TestExtraFieldsInMapEntriesAndTimes: a map entry or time message carrying a field other
// than tags 1 and 2 is read without it in lenient mode and rejected with ErrMalformed in
// strict mode, by the reflection decoder and generated code alike (SPEC.md §6).
func TestExtraFieldsInMapEntriesAndTimes(t *testing.T) {
	type R struct {
		Flags map[string]bool `tlv:"21"`
		At    time.Time       `tlv:"24"`
	}
	r := rand.New(rand.NewPCG(13, 14))
	for range 300 {
		extra := tlvwire.AppendVarintField(nil, uint32(3+r.IntN(1000)), uint64(r.IntN(1<<20)))
		key := string([]byte{byte('a' + r.IntN(26))})
		var entry []byte
		entry = tlvwire.AppendStringField(entry, 1, key)
		entry = tlvwire.AppendBoolField(entry, 2, true)
		entry = append(entry, extra...)
		mapIn := tlvwire.AppendBytes(tlvwire.AppendTag(nil, 21, tlvwire.Message), entry)

		secs := int64(1)<<40 + int64(r.IntN(1<<20))
		tm := tlvwire.AppendZigzagField(nil, 1, secs)
		tm = append(tm, extra...)
		timeIn := tlvwire.AppendBytes(tlvwire.AppendTag(nil, 24, tlvwire.Message), tm)

		for _, in := range [][]byte{mapIn, timeIn} {
			var ref R
			require.NoError(t, tlv.Unmarshal(in, &ref), "%x", in)
			var gen gentest.Every
			require.NoError(t, tlv.Unmarshal(in, &gen), "%x", in)
			require.Equal(t, ref.Flags, gen.Flags)
			require.True(t, ref.At.Equal(gen.At))
			require.ErrorIs(t, tlv.DecodeOptions{Strict: true}.Unmarshal(in, &R{}), tlv.ErrMalformed, "%x", in)
			require.ErrorIs(t, tlv.DecodeOptions{Strict: true}.Unmarshal(in, &gentest.Every{}), tlv.ErrMalformed, "%x", in)
		}
		require.Equal(t, map[string]bool{key: true}, func() map[string]bool {
			var ref R
			_ = tlv.Unmarshal(mapIn, &ref)
			return ref.Flags
		}())
	}
}

// TestDataLosingDeclarationsAreRefused: a *tlv.Unknown, a tagged tlv.Unknown
// and an untagged embedded struct holding tlv fields, each inserted at a random
// place among the fields of seeded random struct types, make Marshal and
// Unmarshal fail with ErrUnsupportedType naming the field; they used to be
// accepted and lose the fields they seemed to keep.
func TestDataLosingDeclarationsAreRefused(t *testing.T) {
	type full struct {
		A int64 `tlv:"1"`
		U tlv.Unknown
	}
	bad := []reflect.StructField{
		{Name: "R", Type: reflect.TypeFor[*tlv.Unknown]()},
		{Name: "R", Type: reflect.TypeFor[*tlv.Unknown](), Tag: `tlv:"900"`},
		{Name: "R", Type: unknownT, Tag: `tlv:"900"`},
		{Name: "Full", Type: reflect.TypeFor[full](), Anonymous: true},
		{Name: "Full", Type: reflect.TypeFor[*full](), Anonymous: true},
	}
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 0xbad))
		base := (&shapeGen{r: r}).structType(0)
		var fields []reflect.StructField
		for i := range base.NumField() {
			if base.Field(i).Type != unknownT { // keep at most the bad Unknown
				fields = append(fields, base.Field(i))
			}
		}
		b := bad[r.IntN(len(bad))]
		at := r.IntN(len(fields) + 1)
		fields = append(fields[:at], append([]reflect.StructField{b}, fields[at:]...)...)
		typ := reflect.StructOf(fields)
		v := reflect.New(typ)
		_, err := tlv.Marshal(v.Interface())
		require.ErrorIs(t, err, tlv.ErrUnsupportedType, "seed %d: %v", seed, typ)
		require.Contains(t, err.Error(), b.Name)
		require.ErrorIs(t, tlv.Unmarshal([]byte{0x08, 0x01}, v.Interface()), tlv.ErrUnsupportedType, "seed %d", seed)
	}
	// Still fine: an ignored embedded struct without tlv fields, and tlv:"-".
	type plainEmbed struct{ X int }
	type ok struct {
		plainEmbed
		Skip *tlv.Unknown `tlv:"-"`
		A    int64        `tlv:"1"`
		U    tlv.Unknown
	}
	_, err := tlv.Marshal(&ok{A: 1})
	require.NoError(t, err)
}
