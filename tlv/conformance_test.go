package tlv_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/tlv"
	"github.com/bulwark-go/bulwark/tlv/internal/gentest"
	"github.com/bulwark-go/bulwark/tlv/internal/gentest/plain"
	"github.com/bulwark-go/bulwark/tlv/tlvwire"
)

// TestConformance runs the language-neutral suite of testdata/conformance/suite.json (see
// the README there) against the reflection codec and, for the messages the code generator
// can express, against generated code, each in lenient and strict mode.

// Go types of the suite's messages that only the reflection codec can express.
type (
	cfZero struct {
		A int32  `tlv:"1"`
		S string `tlv:"2"`
	}
	cfItem struct {
		Name string   `tlv:"1"`
		Tags []string `tlv:"2"`
	}
	cfPlain struct {
		I8    int8                `tlv:"1,omitempty"`
		I16   int16               `tlv:"2,omitempty"`
		U8    uint8               `tlv:"3,omitempty"`
		U16   uint16              `tlv:"4,omitempty"`
		I32   int32               `tlv:"5,omitempty"`
		S     string              `tlv:"6,omitempty"`
		P     *int64              `tlv:"10"`
		ML    map[string][]int64  `tlv:"11"`
		Times []time.Time         `tlv:"12"`
		PS    []*int64            `tlv:"13"`
		LL    [][]int64           `tlv:"14"`
		LF    [][]float64         `tlv:"15"`
		Items []cfItem            `tlv:"16"`
		Ptrs  []*cfItem           `tlv:"17"`
		MS    map[string][]string `tlv:"18"`
		MI    map[int32][]cfItem  `tlv:"19"`
	}
)

// confTypes maps a suite message to its Go types: reflection (a method-less struct) and
// generated (nil if the generator cannot express the message).
var confTypes = map[string]struct{ refl, gen reflect.Type }{
	"Inner": {reflect.TypeFor[plain.Inner](), reflect.TypeFor[gentest.Inner]()},
	"Node":  {reflect.TypeFor[plain.Node](), reflect.TypeFor[gentest.Node]()},
	"Tree":  {reflect.TypeFor[plain.Tree](), reflect.TypeFor[gentest.Tree]()},
	"Empty": {reflect.TypeFor[plain.Empty](), reflect.TypeFor[gentest.Empty]()},
	"Every": {reflect.TypeFor[plain.Every](), reflect.TypeFor[gentest.Every]()},
	"Lists": {reflect.TypeFor[plain.Lists](), reflect.TypeFor[gentest.Lists]()},
	"Zero":  {reflect.TypeFor[cfZero](), nil},
	"Item":  {reflect.TypeFor[cfItem](), nil},
	"Plain": {reflect.TypeFor[cfPlain](), nil},
}

var confErrors = map[string]error{
	"truncated": tlv.ErrTruncated, "overflow": tlv.ErrOverflow, "tag": tlv.ErrTag, "length": tlv.ErrLength,
	"wire-type": tlv.ErrWireType, "range": tlv.ErrRange, "malformed": tlv.ErrMalformed,
	"non-canonical": tlv.ErrNonCanonical, "unknown-field": tlv.ErrUnknownField, "depth": tlv.ErrDepth,
	"too-large": tlv.ErrTooLarge, "too-many-elements": tlv.ErrTooManyElements, "memory": tlv.ErrMemoryLimit, "declared-tag": tlv.ErrDeclaredTag,
}

type confSuite struct {
	Format   string
	Errors   []string
	Rules    []struct{ ID, Spec, Text string }
	Messages map[string]struct {
		Fields []struct {
			Tag       uint32
			Name      string
			Type      string
			Omitempty bool
		}
		Unknown bool
		Doc     string
	}
	Cases []confCase
}

type confCase struct {
	Name, Class, Message, Hex string
	Value                     json.RawMessage
	Reencode                  *string
	StrictError               string `json:"strict_error"`
	Error                     string
	At                        *confAt `json:"at"`        // where error lies
	StrictAt                  *confAt `json:"strict_at"` // where strict_error lies
	Rules                     []string
	AlsoEncode                []json.RawMessage `json:"also_encode"`
	Options                   map[string]int
	Why                       string
}

// confAt is the position of a rejection: the DecodeError's Offset and Tag (SPEC.md §7,
// error positions).
type confAt struct {
	Offset int
	Tag    uint32
}

func loadSuite(t *testing.T) confSuite {
	raw, err := os.ReadFile("testdata/conformance/suite.json")
	require.NoError(t, err)
	var s confSuite
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&s))
	return s
}

func TestConformance(t *testing.T) {
	s := loadSuite(t)
	t.Run("schemas match the Go types", func(t *testing.T) {
		require.Len(t, confTypes, len(s.Messages))
		for name, m := range s.Messages {
			types, ok := confTypes[name]
			require.True(t, ok, "message %s has no Go type", name)
			for _, gt := range []reflect.Type{types.refl, types.gen} {
				if gt == nil {
					continue
				}
				var got []string
				hasUnknown := false
				for i := range gt.NumField() {
					f := gt.Field(i)
					if f.Type == reflect.TypeFor[tlv.Unknown]() {
						hasUnknown = true
						continue
					}
					tag, ok := f.Tag.Lookup("tlv")
					if !ok {
						continue
					}
					got = append(got, fmt.Sprintf("%s %s %s", f.Name, tag, confTypeName(f.Type)))
				}
				var want []string
				for _, f := range m.Fields {
					tag := strconv.Itoa(int(f.Tag))
					if f.Omitempty {
						tag += ",omitempty"
					}
					want = append(want, fmt.Sprintf("%s %s %s", f.Name, tag, f.Type))
				}
				require.Equal(t, want, got, "%s (%v)", name, gt)
				require.Equal(t, m.Unknown, hasUnknown, "%s (%v): unknown fields", name, gt)
			}
		}
	})
	t.Run("coverage", func(t *testing.T) {
		rules := map[string]int{}
		for _, r := range s.Rules {
			rules[r.ID] = 0
		}
		errs := map[string]bool{}
		wireTypes := map[tlvwire.WireType]bool{}
		classes := map[string]int{}
		for _, c := range s.Cases {
			classes[c.Class]++
			require.NotEmpty(t, c.Rules, c.Name)
			for _, r := range c.Rules {
				_, ok := rules[r]
				require.True(t, ok, "%s: unknown rule %s", c.Name, r)
				rules[r]++
			}
			for _, e := range []string{c.Error, c.StrictError} {
				if e != "" {
					require.Contains(t, confErrors, e, c.Name)
					errs[e] = true
				}
			}
			if c.Class == "canonical" {
				require.NoError(t, tlv.Walk(mustHex(t, c.Hex), func(_ []uint32, f tlvwire.Field) error {
					wireTypes[f.Type] = true
					return nil
				}), c.Name)
			}
		}
		for r, n := range rules {
			require.NotZero(t, n, "rule %s has no case", r)
		}
		for _, e := range s.Errors {
			require.True(t, errs[e], "error %s has no case", e)
		}
		require.Len(t, errs, len(confErrors))
		for wt := tlvwire.WireType(0); wt < 8; wt++ {
			require.True(t, wireTypes[wt], "no canonical case carries wire type %v", wt)
		}
		for _, class := range []string{"canonical", "lenient-only", "invalid", "refused"} {
			require.NotZero(t, classes[class], class)
		}
		require.Len(t, classes, 4)
	})
	for _, c := range s.Cases {
		t.Run(c.Name, func(t *testing.T) {
			types := confTypes[c.Message]
			require.NotNil(t, types.refl, "message %s", c.Message)
			for _, gt := range []reflect.Type{types.refl, types.gen} {
				if gt == nil {
					continue
				}
				if err := runConfCase(c, gt, gt == types.gen); err != nil {
					t.Errorf("%s decoder: %v", map[bool]string{true: "generated", false: "reflection"}[gt == types.gen], err)
				}
			}
		})
	}
}

func mustHex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

func confTypeName(t reflect.Type) string {
	switch t {
	case timeT:
		return "time"
	case reflect.TypeFor[time.Duration]():
		return "duration"
	case reflect.TypeFor[[]byte]():
		return "bytes"
	}
	switch t.Kind() {
	case reflect.Slice:
		return "[]" + confTypeName(t.Elem())
	case reflect.Pointer:
		return "*" + confTypeName(t.Elem())
	case reflect.Map:
		return "map[" + confTypeName(t.Key()) + "]" + confTypeName(t.Elem())
	case reflect.Struct:
		for name, types := range confTypes {
			if t == types.refl || t == types.gen {
				return name
			}
		}
		return t.String()
	}
	return t.Kind().String()
}

func confOptions(c confCase, strict bool) tlv.DecodeOptions {
	return tlv.DecodeOptions{Strict: strict, MaxDepth: c.Options["max_depth"], MaxSize: c.Options["max_size"],
		MaxElements: c.Options["max_elements"], MaxMemory: c.Options["max_memory"]}
}

func confEncode(v reflect.Value, generated bool) ([]byte, error) {
	if !generated {
		return tlv.Marshal(v.Interface())
	}
	m := v.Interface().(tlvwire.Marshaler)
	b, err := m.AppendTLV(nil)
	if err == nil && len(b) != m.SizeTLV() {
		return nil, fmt.Errorf("SizeTLV %d, AppendTLV wrote %d bytes", m.SizeTLV(), len(b))
	}
	return b, err
}

// confDecode decodes data into a new *gt and, on success, compares it with the case value.
func confDecode(c confCase, gt reflect.Type, data []byte, strict bool) (reflect.Value, error) {
	v := reflect.New(gt)
	if err := confOptions(c, strict).Unmarshal(data, v.Interface()); err != nil {
		return v, err
	}
	want, err := confValue(gt, c.Value)
	if err != nil {
		return v, fmt.Errorf("the case value: %v", err)
	}
	if err := sameBits(v.Elem(), want, c.Message); err != nil {
		return v, fmt.Errorf("strict=%v: decoded value differs: %v", strict, err)
	}
	return v, nil
}

func wantError(err error, name string, at *confAt, what string) error {
	if err == nil {
		return fmt.Errorf("%s: accepted, want error %s", what, name)
	}
	var de *tlv.DecodeError
	if what != "encode" && !errors.As(err, &de) {
		return fmt.Errorf("%s: error %v is not a *tlv.DecodeError", what, err)
	}
	if !errors.Is(err, confErrors[name]) {
		return fmt.Errorf("%s: error %v, want %s", what, err, name)
	}
	if at != nil && (de.Offset != at.Offset || de.Tag != at.Tag) {
		return fmt.Errorf("%s: error %v, want it at offset %d, tag %d", what, err, at.Offset, at.Tag)
	}
	return nil
}

func runConfCase(c confCase, gt reflect.Type, generated bool) error {
	var data []byte
	if c.Hex != "" || c.Class != "refused" {
		var err error
		if data, err = hex.DecodeString(strings.ReplaceAll(c.Hex, " ", "")); err != nil {
			return err
		}
	}
	switch c.Class {
	case "canonical":
		for _, strict := range []bool{false, true} {
			v, err := confDecode(c, gt, data, strict)
			if err != nil {
				return fmt.Errorf("strict=%v: %v", strict, err)
			}
			enc, err := confEncode(v, generated)
			if err != nil {
				return fmt.Errorf("re-encode: %v", err)
			}
			if !bytes.Equal(enc, data) {
				return fmt.Errorf("re-encoding % x, want the input % x", enc, data)
			}
		}
		for i, alt := range c.AlsoEncode {
			v, err := confValue(gt, alt)
			if err != nil {
				return err
			}
			p := reflect.New(gt)
			p.Elem().Set(v)
			enc, err := confEncode(p, generated)
			if err != nil || !bytes.Equal(enc, data) {
				return fmt.Errorf("also_encode %d: % x (%v), want % x", i, enc, err, data)
			}
		}
	case "lenient-only":
		v, err := confDecode(c, gt, data, false)
		if err != nil {
			return fmt.Errorf("lenient: %v", err)
		}
		if c.Reencode != nil {
			enc, err := confEncode(v, generated)
			if err != nil {
				return fmt.Errorf("re-encode: %v", err)
			}
			if want, _ := hex.DecodeString(strings.ReplaceAll(*c.Reencode, " ", "")); !bytes.Equal(enc, want) {
				return fmt.Errorf("re-encoding % x, want % x", enc, want)
			}
		}
		_, err = confDecode(c, gt, data, true)
		return wantError(err, c.StrictError, c.StrictAt, "strict")
	case "invalid":
		_, err := confDecode(c, gt, data, false)
		if err := wantError(err, c.Error, c.At, "lenient"); err != nil {
			return err
		}
		strictErr, strictAt := c.Error, c.At
		if c.StrictError != "" {
			strictErr, strictAt = c.StrictError, c.StrictAt
		}
		_, err = confDecode(c, gt, data, true)
		return wantError(err, strictErr, strictAt, "strict")
	case "refused":
		v, err := confValue(gt, c.Value)
		if err != nil {
			return err
		}
		p := reflect.New(gt)
		p.Elem().Set(v)
		_, err = confEncode(p, generated)
		return wantError(err, c.Error, nil, "encode")
	default:
		return fmt.Errorf("unknown class %q", c.Class)
	}
	return nil
}

// confValue builds the Go value of type t that the suite's JSON value describes (README:
// numbers or decimal strings for integers, numbers or "0x" bit patterns for floats, hex for
// bytes, {"unix", "nanos"} for times, [key, value] pairs for maps, "$unknown" for the
// unknown fields of a message).
func confValue(t reflect.Type, raw json.RawMessage) (reflect.Value, error) {
	if len(raw) == 0 {
		return reflect.New(t).Elem(), nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var j any
	if err := dec.Decode(&j); err != nil {
		return reflect.Value{}, err
	}
	return confJSON(t, j)
}

func confJSON(t reflect.Type, j any) (reflect.Value, error) {
	v := reflect.New(t).Elem()
	if j == nil {
		return v, nil
	}
	switch t {
	case timeT:
		m, ok := j.(map[string]any)
		if !ok {
			return v, fmt.Errorf("time: want {unix, nanos}, got %v", j)
		}
		s, err := strconv.ParseInt(fmt.Sprint(m["unix"]), 10, 64)
		if err != nil {
			return v, err
		}
		var ns int64
		if m["nanos"] != nil {
			if ns, err = strconv.ParseInt(fmt.Sprint(m["nanos"]), 10, 64); err != nil {
				return v, err
			}
		}
		v.Set(reflect.ValueOf(time.Unix(s, ns).UTC()))
		return v, nil
	case reflect.TypeFor[[]byte](), reflect.TypeFor[tlv.Unknown]():
		b, err := hex.DecodeString(strings.ReplaceAll(fmt.Sprint(j), " ", ""))
		if err != nil {
			return v, err
		}
		v.SetBytes(b)
		return v, nil
	}
	switch t.Kind() {
	case reflect.Bool:
		b, ok := j.(bool)
		if !ok {
			return v, fmt.Errorf("bool: got %v", j)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(fmt.Sprint(j), 10, t.Bits())
		if err != nil {
			return v, err
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(fmt.Sprint(j), 10, t.Bits())
		if err != nil {
			return v, err
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		s := fmt.Sprint(j)
		if bits, ok := strings.CutPrefix(s, "0x"); ok {
			n, err := strconv.ParseUint(bits, 16, 64)
			if err != nil {
				return v, err
			}
			if t.Kind() == reflect.Float32 {
				*(*float32)(v.Addr().UnsafePointer()) = math.Float32frombits(uint32(n))
			} else {
				v.SetFloat(math.Float64frombits(n))
			}
			return v, nil
		}
		f, err := strconv.ParseFloat(s, t.Bits())
		if err != nil {
			return v, err
		}
		v.SetFloat(f)
	case reflect.String:
		if m, ok := j.(map[string]any); ok {
			b, err := hex.DecodeString(fmt.Sprint(m["hex"]))
			if err != nil {
				return v, err
			}
			v.SetString(string(b))
			return v, nil
		}
		v.SetString(fmt.Sprint(j))
	case reflect.Pointer:
		e, err := confJSON(t.Elem(), j)
		if err != nil {
			return v, err
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(e)
		v.Set(p)
	case reflect.Slice:
		a, ok := j.([]any)
		if !ok {
			return v, fmt.Errorf("%v: want an array, got %v", t, j)
		}
		s := reflect.MakeSlice(t, len(a), len(a))
		for i, x := range a {
			e, err := confJSON(t.Elem(), x)
			if err != nil {
				return v, err
			}
			s.Index(i).Set(e)
		}
		v.Set(s)
	case reflect.Map:
		a, ok := j.([]any)
		if !ok {
			return v, fmt.Errorf("%v: want an array of [key, value], got %v", t, j)
		}
		m := reflect.MakeMapWithSize(t, len(a))
		for _, x := range a {
			kv, ok := x.([]any)
			if !ok || len(kv) != 2 {
				return v, fmt.Errorf("%v: entry %v is not [key, value]", t, x)
			}
			k, err := confJSON(t.Key(), kv[0])
			if err != nil {
				return v, err
			}
			e, err := confJSON(t.Elem(), kv[1])
			if err != nil {
				return v, err
			}
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		m, ok := j.(map[string]any)
		if !ok {
			return v, fmt.Errorf("%v: want an object, got %v", t, j)
		}
		for name, x := range m {
			var f reflect.Value
			if name == "$unknown" {
				for i := range t.NumField() {
					if t.Field(i).Type == reflect.TypeFor[tlv.Unknown]() {
						f = v.Field(i)
					}
				}
			} else {
				f = v.FieldByName(name)
			}
			if !f.IsValid() {
				return v, fmt.Errorf("%v has no field %s", t, name)
			}
			e, err := confJSON(f.Type(), x)
			if err != nil {
				return v, fmt.Errorf("%s: %v", name, err)
			}
			f.Set(e)
		}
	default:
		return v, fmt.Errorf("unsupported type %v", t)
	}
	return v, nil
}
