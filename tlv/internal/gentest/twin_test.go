package gentest

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"sort"
	"time"

	"github.com/bulwark-go/bulwark/tlv"
	"github.com/bulwark-go/bulwark/tlv/internal/gentest/plain"
	"github.com/bulwark-go/bulwark/tlv/tlvwire"
)

// twins pairs each generated type with its reflection twin from package plain.
func twins() []struct {
	name       string
	gen, plain func() any
} {
	return []struct {
		name       string
		gen, plain func() any
	}{
		{"Inner", func() any { return new(Inner) }, func() any { return new(plain.Inner) }},
		{"Msg", func() any { return new(Msg) }, func() any { return new(plain.Msg) }},
		{"SmallStruct", func() any { return new(SmallStruct) }, func() any { return new(plain.SmallStruct) }},
		{"Every", func() any { return new(Every) }, func() any { return new(plain.Every) }},
		{"Node", func() any { return new(Node) }, func() any { return new(plain.Node) }},
		{"Tree", func() any { return new(Tree) }, func() any { return new(plain.Tree) }},
		{"Empty", func() any { return new(Empty) }, func() any { return new(plain.Empty) }},
		{"Lists", func() any { return new(Lists) }, func() any { return new(plain.Lists) }},
	}
}

// filler writes the same pseudo-random value into structurally identical
// types: given the same seed, a generated type and its twin get equal values.
type filler struct {
	r     *rand.Rand
	depth int
}

func newFiller(seed uint64) *filler {
	return &filler{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

var (
	unknownType = reflect.TypeFor[tlv.Unknown]()
	timeType    = reflect.TypeFor[time.Time]()
)

func (f *filler) fill(v reflect.Value) {
	if v.Type() == timeType {
		var t time.Time // the zero time (year 1) one time in four
		if f.r.IntN(4) != 0 {
			t = time.Unix(f.r.Int64N(1<<40)-1<<39, f.r.Int64N(1e9)*int64(f.r.IntN(2))).UTC()
		}
		v.Set(reflect.ValueOf(t))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		if f.r.IntN(8) == 0 {
			return // the zero message
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).Type == unknownType {
				if f.r.IntN(6) == 0 {
					// An unknown field above every declared tag.
					v.Field(i).Set(reflect.ValueOf(tlv.Unknown(tlvwire.AppendVarintField(nil, 1000+uint32(f.r.IntN(3)), f.r.Uint64()))))
				}
				continue
			}
			f.fill(v.Field(i))
		}
	case reflect.Pointer:
		if f.depth > 3 || f.r.IntN(3) == 0 {
			return
		}
		f.depth++
		p := reflect.New(v.Type().Elem())
		f.fill(p.Elem())
		v.Set(p)
		f.depth--
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			if f.r.IntN(4) == 0 {
				return
			}
			b := make([]byte, f.r.IntN(200))
			for i := range b {
				b[i] = byte(f.r.Uint32())
			}
			v.SetBytes(b)
			return
		}
		n := f.r.IntN(5)
		if f.depth > 3 {
			n = 0
		}
		if n == 0 {
			if f.r.IntN(2) == 0 {
				v.Set(reflect.MakeSlice(v.Type(), 0, f.r.IntN(3))) // empty, not nil
			}
			return
		}
		f.depth++
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := 0; i < n; i++ {
			f.fill(s.Index(i))
		}
		v.Set(s)
		f.depth--
	case reflect.Map:
		n := f.r.IntN(6)
		if n == 0 || f.depth > 3 {
			if f.r.IntN(2) == 0 {
				v.Set(reflect.MakeMap(v.Type())) // empty, not nil
			}
			return
		}
		f.depth++
		m := reflect.MakeMap(v.Type())
		for i := 0; i < n; i++ {
			k := reflect.New(v.Type().Key()).Elem()
			f.fill(k)
			e := reflect.New(v.Type().Elem()).Elem()
			f.fill(e)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
		f.depth--
	case reflect.Bool:
		v.SetBool(f.r.IntN(2) == 1)
	case reflect.Int32, reflect.Int64:
		v.SetInt(f.interesting())
	case reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(f.interesting()))
	case reflect.Float32:
		v.SetFloat(float64(f.float()))
	case reflect.Float64:
		v.SetFloat(f.float())
	case reflect.String:
		v.SetString(f.str())
	}
	// Keep values within the field's width (Int32 etc. truncate on Set).
	if v.CanInt() && v.Kind() == reflect.Int32 {
		v.SetInt(int64(int32(v.Int())))
	}
	if v.CanUint() && v.Kind() == reflect.Uint32 {
		v.SetUint(uint64(uint32(v.Uint())))
	}
}

func (f *filler) interesting() int64 {
	switch f.r.IntN(6) {
	case 0:
		return 0
	case 1:
		return -1
	case 2:
		return math.MaxInt64
	case 3:
		return math.MinInt64
	case 4:
		return int64(f.r.IntN(300)) - 150
	}
	return int64(f.r.Uint64())
}

func (f *filler) float() float64 {
	switch f.r.IntN(6) {
	case 0:
		return 0
	case 1:
		return math.Copysign(0, -1)
	case 2:
		return math.NaN()
	case 3:
		return math.Inf(-1)
	}
	return float64(float32(f.r.NormFloat64() * 1e3))
}

func (f *filler) str() string {
	words := []string{"", "a", "b", "aa", "北京", "hello world", "x\x00y", string(bytes.Repeat([]byte("z"), 130))}
	return words[f.r.IntN(len(words))]
}

// sameValue reports the first difference between two structurally identical
// values (a generated type and its twin), comparing floats by bits.
// With loose set, a nil and an empty slice or map are equal (the wire does
// not tell them apart, SPEC.md §5).
func sameValue(a, b reflect.Value, path string) error { return compare(a, b, path, false) }

func sameValueLoose(a, b reflect.Value, path string) error { return compare(a, b, path, true) }

func compare(a, b reflect.Value, path string, loose bool) error {
	if a.Kind() != b.Kind() {
		return fmt.Errorf("%s: kind %v vs %v", path, a.Kind(), b.Kind())
	}
	if a.Type() == timeType {
		ta, tb := a.Interface().(time.Time), b.Interface().(time.Time)
		if !ta.Equal(tb) || ta.Location() != tb.Location() {
			return fmt.Errorf("%s: %v vs %v", path, ta, tb)
		}
		return nil
	}
	switch a.Kind() {
	case reflect.Struct:
		if a.NumField() != b.NumField() {
			return fmt.Errorf("%s: %d vs %d fields", path, a.NumField(), b.NumField())
		}
		for i := 0; i < a.NumField(); i++ {
			if err := compare(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name, loose); err != nil {
				return err
			}
		}
	case reflect.Pointer:
		if a.IsNil() != b.IsNil() {
			return fmt.Errorf("%s: nil %v vs %v", path, a.IsNil(), b.IsNil())
		}
		if !a.IsNil() {
			return compare(a.Elem(), b.Elem(), path, loose)
		}
	case reflect.Slice:
		if (a.IsNil() != b.IsNil() && !loose) || a.Len() != b.Len() {
			return fmt.Errorf("%s: len %d (nil %v) vs %d (nil %v)", path, a.Len(), a.IsNil(), b.Len(), b.IsNil())
		}
		for i := 0; i < a.Len(); i++ {
			if err := compare(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i), loose); err != nil {
				return err
			}
		}
	case reflect.Map:
		if (a.IsNil() != b.IsNil() && !loose) || a.Len() != b.Len() {
			return fmt.Errorf("%s: map len %d (nil %v) vs %d (nil %v)", path, a.Len(), a.IsNil(), b.Len(), b.IsNil())
		}
		keys := a.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			bv := b.MapIndex(k)
			if !bv.IsValid() {
				return fmt.Errorf("%s: key %v missing", path, k)
			}
			if err := compare(a.MapIndex(k), bv, fmt.Sprintf("%s[%v]", path, k), loose); err != nil {
				return err
			}
		}
	case reflect.Float32, reflect.Float64:
		if math.Float64bits(a.Float()) != math.Float64bits(b.Float()) && !(math.IsNaN(a.Float()) && math.IsNaN(b.Float())) {
			return fmt.Errorf("%s: %v vs %v", path, a.Float(), b.Float())
		}
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			return fmt.Errorf("%s: %v vs %v", path, a.Interface(), b.Interface())
		}
	}
	return nil
}

// decodeGen decodes data into the generated value x with options o (tlv hands the
// state with o's limits to x.UnmarshalTLV).
func decodeGen(o tlv.DecodeOptions, data []byte, x tlvwire.Unmarshaler) error {
	return o.Unmarshal(data, x)
}
