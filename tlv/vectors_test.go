package tlv

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type vScalars struct {
	A uint64 `tlv:"1"`
	B int64  `tlv:"2"`
	C string `tlv:"3"`
}

type vInner struct {
	ID   int64  `tlv:"1"`
	Name string `tlv:"2"`
}

type vNested struct {
	In vInner `tlv:"1"`
}

type vPacked struct {
	V []int64 `tlv:"4"`
}

type vFloats struct {
	F float32 `tlv:"1"`
	D float64 `tlv:"2"`
}

type vMap struct {
	M map[string]int32 `tlv:"5"`
}

type vTime struct {
	T time.Time `tlv:"1"`
}

type vBoolBytes struct {
	B bool   `tlv:"1"`
	P []byte `tlv:"2"`
}

type vStrings struct {
	S []string `tlv:"2"`
}

type vUnknown struct {
	A uint64 `tlv:"1"`
	C uint64 `tlv:"3"`
	U Unknown
}

type vZero struct {
	A int32  `tlv:"1"`
	S string `tlv:"2"`
}

type vMapLists struct {
	M map[string][]string `tlv:"6"`
}

type vNarrow struct {
	A int32 `tlv:"1"`
}

type vOrder struct {
	A uint64 `tlv:"1"`
	B uint64 `tlv:"2"`
}

// specVectors are the values of SPEC.md §10, by name. Each func returns the value to
// encode and a pointer to decode into.
var specVectors = map[string]func() (any, any){
	"scalars":          func() (any, any) { return &vScalars{A: 150, B: -2, C: "hi"}, new(vScalars) },
	"nested":           func() (any, any) { return &vNested{In: vInner{ID: 1, Name: "a"}}, new(vNested) },
	"packed":           func() (any, any) { return &vPacked{V: []int64{1, -1, 300}}, new(vPacked) },
	"floats":           func() (any, any) { return &vFloats{F: 1.5, D: -2}, new(vFloats) },
	"map_order":        func() (any, any) { return &vMap{M: map[string]int32{"aa": 3, "b": 1, "a": 2}}, new(vMap) },
	"time":             func() (any, any) { return &vTime{T: time.Unix(1, 5).UTC()}, new(vTime) },
	"time_far":         func() (any, any) { return &vTime{}, new(vTime) },
	"bool_bytes":       func() (any, any) { return &vBoolBytes{B: true, P: []byte{0xff}}, new(vBoolBytes) },
	"repeated_strings": func() (any, any) { return &vStrings{S: []string{"x", ""}}, new(vStrings) },
	"unknown_kept":     func() (any, any) { return &vUnknown{A: 1, C: 2, U: Unknown{0x10, 0x07}}, new(vUnknown) },
	"zero_written":     func() (any, any) { return &vZero{}, new(vZero) },
	"map_lists": func() (any, any) {
		return &vMapLists{M: map[string][]string{"a": {"x", "y"}, "b": nil}}, new(vMapLists)
	},
}

// specRejects are the rejected inputs of SPEC.md §10: the target type and the error.
var specRejects = map[string]struct {
	target func() any
	err    error
}{
	"truncated_length": {func() any { return new(vScalars) }, ErrLength},
	"truncated_varint": {func() any { return new(vScalars) }, ErrTruncated},
	"overflow":         {func() any { return new(vScalars) }, ErrOverflow},
	"tag_zero":         {func() any { return new(vScalars) }, ErrTag},
	"narrowing":        {func() any { return new(vNarrow) }, ErrRange},
	"non_minimal":      {func() any { return new(vScalars) }, ErrNonCanonical},
	"out_of_order":     {func() any { return new(vOrder) }, ErrNonCanonical},
	"huge_length":      {func() any { return new(vScalars) }, ErrLength},
	"bad_packed":       {func() any { return new(vPacked) }, ErrMalformed},
}

func parseHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	require.NoError(t, err, "hex %q", s)
	return b
}

// specBlock returns the name → hex lines of the fenced block with the given info string.
func specBlock(t *testing.T, info string) map[string]string {
	t.Helper()
	spec, err := os.ReadFile("SPEC.md")
	require.NoError(t, err)
	re := regexp.MustCompile("(?s)```" + info + "\n(.*?)```")
	m := re.FindSubmatch(spec)
	require.NotNil(t, m, "SPEC.md has no ```%s block", info)
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(m[1])), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		require.True(t, ok, "bad line %q", line)
		out[strings.TrimSpace(name)] = strings.TrimSpace(rest)
	}
	return out
}

func TestSpecVectors(t *testing.T) {
	spec := specBlock(t, "vectors")
	files, err := filepath.Glob("testdata/vectors/*.hex")
	require.NoError(t, err)
	require.Len(t, files, len(specVectors), "one testdata file per vector")
	require.Len(t, spec, len(specVectors), "one SPEC.md line per vector")
	for name, mk := range specVectors {
		t.Run(name, func(t *testing.T) {
			fileHex, err := os.ReadFile(filepath.Join("testdata", "vectors", name+".hex"))
			require.NoError(t, err)
			want := parseHex(t, string(fileHex))
			require.Equal(t, want, parseHex(t, spec[name]), "SPEC.md and testdata disagree")

			in, out := mk()
			got, err := Marshal(in)
			require.NoError(t, err)
			require.Equal(t, hex.EncodeToString(want), hex.EncodeToString(got), "encoder")

			require.NoError(t, Unmarshal(want, out))
			require.Equal(t, in, out, "lenient decoder")
			_, out2 := mk()
			require.NoError(t, DecodeOptions{Strict: true}.Unmarshal(want, out2))
			require.Equal(t, in, out2, "strict decoder")
			require.True(t, Valid(want))
		})
	}
}

func TestSpecRejects(t *testing.T) {
	spec := specBlock(t, "rejects")
	require.Len(t, spec, len(specRejects))
	for line, hx := range spec {
		name, strict := strings.CutSuffix(line, "(strict)")
		hx, _, _ = strings.Cut(hx, "→")
		tc, ok := specRejects[name]
		require.True(t, ok, "no test case for %s", name)
		t.Run(name, func(t *testing.T) {
			data := parseHex(t, hx)
			err := DecodeOptions{Strict: true}.Unmarshal(data, tc.target())
			require.ErrorIs(t, err, tc.err)
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			if strict {
				require.NoError(t, Unmarshal(data, tc.target()), "lenient mode accepts %s", name)
			} else {
				require.ErrorIs(t, Unmarshal(data, tc.target()), tc.err)
			}
		})
	}
}
