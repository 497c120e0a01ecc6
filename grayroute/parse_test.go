package grayroute

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A JSON tree that keeps key order and duplicates, so that tests can write
// texts encoding/json would not (duplicate keys, keys in another case).
type jnode struct {
	kind byte // 'o' object, 'a' array, 'v' scalar literal (string, number, bool, null)
	lit  string
	obj  []jkv
	arr  []*jnode
}

type jkv struct {
	k string
	v *jnode
}

func jlit(s string) *jnode { return &jnode{kind: 'v', lit: s} }

func readTree(t *testing.T, data []byte) *jnode {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var read func() *jnode
	read = func() *jnode {
		tok, err := d.Token()
		require.NoError(t, err)
		switch x := tok.(type) {
		case json.Delim:
			if x == '{' {
				n := &jnode{kind: 'o'}
				for d.More() {
					k, err := d.Token()
					require.NoError(t, err)
					n.obj = append(n.obj, jkv{k.(string), read()})
				}
				_, err := d.Token()
				require.NoError(t, err)
				return n
			}
			n := &jnode{kind: 'a'}
			for d.More() {
				n.arr = append(n.arr, read())
			}
			_, err := d.Token()
			require.NoError(t, err)
			return n
		case string:
			return jlit(strconv.Quote(x))
		case json.Number:
			return jlit(string(x))
		case bool:
			return jlit(strconv.FormatBool(x))
		}
		return jlit("null")
	}
	return read()
}

// write emits n; mark, when reached, records the offset where it starts
// (for a key-value pair: where the key starts).
func (n *jnode) write(b *bytes.Buffer, mark any, at *int) {
	if mark == any(n) {
		*at = b.Len()
	}
	switch n.kind {
	case 'v':
		b.WriteString(n.lit)
	case 'a':
		b.WriteString("[")
		for i, e := range n.arr {
			if i > 0 {
				b.WriteString(", ")
			}
			e.write(b, mark, at)
		}
		b.WriteString("]")
	case 'o':
		b.WriteString("{")
		for i := range n.obj {
			if i > 0 {
				b.WriteString(",\n ")
			}
			if mark == any(&n.obj[i]) {
				*at = b.Len()
			}
			b.WriteString(strconv.Quote(n.obj[i].k))
			b.WriteString(": ")
			n.obj[i].v.write(b, mark, at)
		}
		b.WriteString("}")
	}
}

// The Config shape, as classes of JSON positions.
const (
	cRoot = iota
	cRelMap
	cRelease
	cRule
	cCond
	cPlan
	cGate
	cStep
	cSplit
	cStr
	cStrElem
	cInt
	cFloat
	cVal
	cValElem
	cDur
	cBool
	cStrArr
	cRuleArr
	cCondArr
	cValArr
	cStepArr
)

var structFields = map[int]map[string]int{
	cRoot:    {"releases": cRelMap, "attrs": cStrArr},
	cRelease: {"salt": cStr, "hash": cStr, "default": cStr, "variants": cStrArr, "sticky": cInt, "rules": cRuleArr, "plan": cPlan},
	cRule:    {"name": cStr, "variant": cStr, "keys": cStrArr, "when": cCondArr, "split": cSplit},
	cCond:    {"attr": cStr, "op": cStr, "value": cVal, "min": cVal, "max": cVal, "values": cValArr},
	cPlan:    {"canary": cStr, "control": cStr, "epoch": cInt, "gate": cGate, "steps": cStepArr, "rollback_all": cBool},
	cGate:    {"max_error_rate_increase": cFloat, "max_p99_ratio": cFloat},
	cStep:    {"share": cInt, "min_samples": cInt, "dwell": cDur},
}

var mapValue = map[int]int{cRelMap: cRelease, cSplit: cInt}
var arrElem = map[int]int{cStrArr: cStrElem, cRuleArr: cRule, cCondArr: cCond, cValArr: cValElem, cStepArr: cStep}

// wrongs are replacements that are a shape error at a position of a class.
var wrongs = map[int][]string{
	cStr:     {"7", "true", "{}", "[]", `["x"]`},
	cStrElem: {"7", "null", "{}", "[]", "false"},
	cInt:     {`"5"`, "1.5", "1e30", "99999999999999999999", "true", "{}", "[]", "-0.0"},
	cFloat:   {`"x"`, "true", "{}", "[]", "1e999", `"0.01"`},
	cVal:     {"true", "{}", "[]", `[1]`},
	cValElem: {"null", "true", "{}", "[]"},
	cDur:     {"5", "true", `"10 min"`, `"x"`, `""`, "{}"},
	cBool:    {`"true"`, "1", "{}"},
}

func wrongFor(rng *rand.Rand, class int, elem bool) string {
	if w, ok := wrongs[class]; ok {
		return w[rng.IntN(len(w))]
	}
	if arrElem[class] != 0 {
		return []string{`"x"`, "3", "{}", "true"}[rng.IntN(4)]
	}
	w := []string{"[]", `"x"`, "3", "true"}
	if elem {
		w = append(w, "null") // an element or a map value may not be null
	}
	return w[rng.IntN(len(w))]
}

// site is a position a mutation can hit.
type site struct {
	path  string
	class int
	node  *jnode
	elem  bool // an array element or a map value
	set   func(*jnode)
	obj   *jnode // for key mutations: the object
	isMap bool
}

func collect(n *jnode, path string, class int, elem bool, set func(*jnode), out *[]site) {
	*out = append(*out, site{path: path, class: class, node: n, elem: elem, set: set})
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch {
	case n.kind == 'o' && structFields[class] != nil:
		*out = append(*out, site{path: path, class: class, obj: n})
		for i := range n.obj {
			kv := &n.obj[i]
			collect(kv.v, join(kv.k), structFields[class][kv.k], false, func(x *jnode) { kv.v = x }, out)
		}
	case n.kind == 'o' && mapValue[class] != 0:
		*out = append(*out, site{path: path, class: class, obj: n, isMap: true})
		for i := range n.obj {
			kv := &n.obj[i]
			collect(kv.v, join(kv.k), mapValue[class], true, func(x *jnode) { kv.v = x }, out)
		}
	case n.kind == 'a' && arrElem[class] != 0:
		for i := range n.arr {
			collect(n.arr[i], fmt.Sprintf("%s[%d]", path, i), arrElem[class], true, func(x *jnode) { n.arr[i] = x }, out)
		}
	}
}

// enrich adds the optional fields genConfig leaves out, so every field of
// the shape can be hit.
func enrich(rng *rand.Rand, root *jnode) {
	put := func(o *jnode, k string, v *jnode) {
		for i := range o.obj {
			if o.obj[i].k == k {
				o.obj[i].v = v
				return
			}
		}
		o.obj = append(o.obj, jkv{k, v})
	}
	put(root, "attrs", &jnode{kind: 'a', arr: []*jnode{jlit(`"platform"`), jlit(`"version"`)}})
	for _, kv := range root.obj {
		if kv.k != "releases" || kv.v.kind != 'o' {
			continue
		}
		for _, rel := range kv.v.obj {
			put(rel.v, "hash", jlit(`"v1"`))
			put(rel.v, "sticky", jlit(strconv.Itoa(rng.IntN(100))))
			for _, f := range rel.v.obj {
				if f.k == "plan" && f.v.kind == 'o' {
					put(f.v, "epoch", jlit("2"))
					put(f.v, "rollback_all", jlit("true"))
					put(f.v, "gate", &jnode{kind: 'o', obj: []jkv{{"max_error_rate_increase", jlit("0.02")}, {"max_p99_ratio", jlit("1.5")}}})
				}
			}
		}
	}
}

// TestParseConfigNamesPathOfRandomShapeError mutates a random position of
// a random valid config into a shape error (a wrong type, a bad number or
// duration, a null element, an unknown or case-variant field, a duplicate
// key) and requires the error to name exactly that path and to point at
// the mutated text.
func TestParseConfigNamesPathOfRandomShapeError(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	hits := map[string]int{}
	for range scaled(3000, 5) {
		b, err := json.Marshal(genConfig(rng))
		require.NoError(t, err)
		root := readTree(t, b)
		enrich(rng, root)
		var buf bytes.Buffer
		root.write(&buf, nil, new(int))
		_, err = ParseConfig(buf.Bytes())
		require.NoError(t, err, "enriched config must parse:\n%s", buf.Bytes())

		var sites []site
		collect(root, "", cRoot, false, func(x *jnode) { root = x }, &sites)
		s := sites[rng.IntN(len(sites))]
		var mark any
		want := s.path
		kind := ""
		switch {
		case s.obj != nil && s.obj.kind == 'o':
			// Key mutation: insert a duplicate, or (structs only) a field in
			// another case or an unknown field, at a random place.
			j := rng.IntN(len(s.obj.obj) + 1)
			var kv jkv
			switch {
			case len(s.obj.obj) > 0 && (s.isMap || rng.IntN(3) == 0):
				i := rng.IntN(len(s.obj.obj))
				j = i + 1 + rng.IntN(len(s.obj.obj)-i)
				kv, kind = s.obj.obj[i], "duplicate"
			case rng.IntN(2) == 0 && !s.isMap:
				var names []string
				for k := range structFields[s.class] {
					names = append(names, k)
				}
				slicesSort(names)
				k := names[rng.IntN(len(names))]
				kv, kind = jkv{strings.ToUpper(k[:1]) + k[1:], jlit(`"x"`)}, "case"
			case !s.isMap:
				kv, kind = jkv{"bogus_field", jlit("1")}, "unknown"
			default:
				continue
			}
			s.obj.obj = append(s.obj.obj[:j], append([]jkv{kv}, s.obj.obj[j:]...)...)
			mark = &s.obj.obj[j]
			if s.path == "" {
				want = kv.k
			} else {
				want = s.path + "." + kv.k
			}
		case s.obj != nil:
			continue
		default:
			if s.class == cRoot {
				kind = "top"
				n := jlit([]string{"null", "[]", `"x"`, "1", "true"}[rng.IntN(5)])
				s.set(n)
				mark = n
				break
			}
			kind = "value"
			n := jlit(wrongFor(rng, s.class, s.elem))
			s.set(n)
			mark = n
		}
		hits[kind]++
		buf.Reset()
		at := -1
		root.write(&buf, mark, &at)
		require.GreaterOrEqual(t, at, 0)
		text := buf.Bytes()
		_, err = ParseConfig(text)
		require.ErrorIs(t, err, ErrInvalidConfig, "%s at %s:\n%s", kind, want, text)
		var ce *ConfigError
		require.True(t, errors.As(err, &ce))
		require.Equal(t, want, ce.Path, "%s: %v\n%s", kind, err, text)
		require.Equal(t, int64(at), ce.Offset, "%s at %s: %v; text there: %q", kind, want, err, text[at:min(at+20, len(text))])
		line := 1 + bytes.Count(text[:at], []byte{'\n'})
		require.Equal(t, line, ce.Line)
		require.Equal(t, at-bytes.LastIndexByte(text[:at], '\n'), ce.Col)
		require.NotContains(t, err.Error(), "grayroute: grayroute:")
		require.Equal(t, 1, strings.Count(err.Error(), "grayroute:"), err.Error())
	}
	for _, k := range []string{"value", "duplicate", "case", "unknown", "top"} {
		require.Positive(t, hits[k], "mutation kind %s never hit: %v", k, hits)
	}
}

func slicesSort(a []string) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// TestParseConfigMatchesEncodingJSON: on valid configs ParseConfig gives
// what encoding/json gives (it only refuses more).
func TestParseConfigMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	for range scaled(2000, 5) {
		b, err := json.Marshal(genConfig(rng))
		require.NoError(t, err)
		root := readTree(t, b)
		enrich(rng, root)
		var buf bytes.Buffer
		root.write(&buf, nil, new(int))
		got, err := ParseConfig(buf.Bytes())
		require.NoError(t, err)
		var want Config
		d := json.NewDecoder(bytes.NewReader(buf.Bytes()))
		d.DisallowUnknownFields()
		require.NoError(t, d.Decode(&want))
		require.Equal(t, want, got)
	}
}

// TestParseConfigSyntaxErrorOffsets: a random byte cut or replaced in a
// valid config gives an error at or before the damage (JSON is read left
// to right), with line and column agreeing with the offset, or parses.
func TestParseConfigSyntaxErrorOffsets(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	for range scaled(3000, 5) {
		b, err := json.MarshalIndent(genConfig(rng), "", "  ")
		require.NoError(t, err)
		i := rng.IntN(len(b))
		if rng.IntN(2) == 0 {
			b = b[:i]
		} else {
			const junk = "{}[]:,\"x0-\\\x00 "
			b[i] = junk[rng.IntN(len(junk))]
		}
		_, err = ParseConfig(b)
		if err == nil {
			continue
		}
		var ce *ConfigError
		require.True(t, errors.As(err, &ce), "%v", err)
		require.LessOrEqual(t, ce.Offset, int64(len(b)))
		require.GreaterOrEqual(t, ce.Offset, int64(0))
		require.Equal(t, 1+bytes.Count(b[:ce.Offset], []byte{'\n'}), ce.Line)
		require.Equal(t, int(ce.Offset)-bytes.LastIndexByte(b[:ce.Offset], '\n'), ce.Col)
		require.Equal(t, 1, strings.Count(err.Error(), "grayroute:"), err.Error())
		// The offset is that of the byte the message names.
		if _, rest, ok := strings.Cut(ce.Reason, "invalid character "); ok {
			q, err := strconv.QuotedPrefix(rest)
			require.NoError(t, err)
			c, err := strconv.Unquote(q)
			require.NoError(t, err)
			if len(c) == 1 {
				require.Equal(t, c[0], b[ce.Offset], "%v in %q", ce, b)
			}
		}
	}
}

// The review's cases, each with the path it must name.
func TestParseConfigReviewCases(t *testing.T) {
	for _, c := range []struct{ text, path, reason string }{
		{`{"releases":{"r":{"variants":["a","b"],"rules":[{"split":{"a":"5000","b":5000}}]}}}`, "releases.r.rules[0].split.a", "want an integer, got a string"},
		{`{"releases":{"r":{"variants":["a"],"plan":{"epoch":1e30}}}}`, "releases.r.plan.epoch", "want an integer"},
		{`{"releases":{"r":{"variants":["a"],"rules":[{},{},{"when":[{},{"op":"eq","attr":"x","value":{}}]}]}}}`, "releases.r.rules[2].when[1].value", "want a string or a number, got an object"},
		{`{"releases":{"r":{"variants":["a"],"rules":[{"when":[{"op":"in","values":["x",null]}]}]}}}`, "releases.r.rules[0].when[0].values[1]", "got null"},
		{`{"releases":{"x":{"variants":["a"],"plan":{"steps":[{"share":100,"dwell":"10 min"}]}}}}`, "releases.x.plan.steps[0].dwell", `bad duration "10 min"`},
		{`{"releases":{"r":{"variants":["a"]},"r":{"variants":["b"]}}}`, "releases.r", `duplicate key "r"`},
		{`{"releases":{"r":{"variants":["a"],"default":"b","default":"a"}}}`, "releases.r.default", "duplicate"},
		{`{"releases":{"r":{"variants":["a","b"],"rules":[{"split":{"b":10000,"a":0,"b":0,"a":10000}}]}}}`, "releases.r.rules[0].split.b", "duplicate"},
		{`{"RELEASES":{}}`, "RELEASES", "case-sensitive"},
		{`{"releases":{"r":{"variants":["a"],"rules":[{"variant":"b","Variant":"a"}]}}}`, "releases.r.rules[0].Variant", "case-sensitive"},
		{`{"releases":{"r":{"variants":["a"],"rules":[{"varient":"a"}]}}}`, "releases.r.rules[0].varient", "unknown field"},
		{`null`, "", "null"},
		{` [] `, "", "want an object, got an array"},
		{`{"releases":{}} {}`, "", "trailing data"},
	} {
		_, err := ParseConfig([]byte(c.text))
		var ce *ConfigError
		require.True(t, errors.As(err, &ce), "%s: %v", c.text, err)
		require.Equal(t, c.path, ce.Path, "%s: %v", c.text, err)
		require.Contains(t, ce.Reason, c.reason)
	}
	_, err := ParseConfig([]byte("{\"releases\": {\n  \"r\": {\"variants\": [\"a\"],\n  \"rules\": [{\"when\": [{\"op\": \"eq\", \"value\": 007}]}]}}}"))
	var ce *ConfigError
	require.True(t, errors.As(err, &ce))
	require.Equal(t, 3, ce.Line, "%v", err)
	require.Contains(t, err.Error(), "line 3, col 46")
}
