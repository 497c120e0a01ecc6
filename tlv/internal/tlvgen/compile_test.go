package tlvgen

import (
	"flag"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var compileSweep = flag.Int("compile-sweep", 0, "random multi-field schemas TestGeneratedCodeCompiles type-checks (default 24)")

// Field shapes the compile test draws from: every value type, alone or
// repeated, and as a map value (plain or list) under every key type.
var (
	compileValueTypes = []string{"bool", "int32", "int64", "uint32", "uint64", "float32", "float64",
		"string", "bytes", "time", "duration", "Sub", "M"}
	compileKeyTypes = []string{"string", "int32", "int64", "uint32", "uint64"}
)

// compileField is one <field> element of shape: singular, repeated, or a map
// with the given key (list says map[K][]V).
func compileField(tag int, name, typ, shape, key string, list bool) string {
	switch shape {
	case "repeated":
		return fmt.Sprintf(`<field tag="%d" name="%s" type="%s" repeated="true"/>`, tag, name, typ)
	case "map":
		l := ""
		if list {
			l = ` list="true"`
		}
		return fmt.Sprintf(`<field tag="%d" name="%s" type="map" key="%s" value="%s"%s/>`, tag, name, key, typ, l)
	}
	return fmt.Sprintf(`<field tag="%d" name="%s" type="%s"/>`, tag, name, typ)
}

// compileSchema wraps the fields of M in a protocol that also declares Sub
// (one int64 field, so Sub itself needs no import beyond the wire layer).
func compileSchema(pkg string, fields []string) string {
	return fmt.Sprintf(`<protocol package="%s"><message name="Sub"><field tag="1" name="X" type="int64"/></message>`+
		`<message name="M">%s</message></protocol>`, pkg, strings.Join(fields, ""))
}

// TestGeneratedCodeCompiles generates code (with methods and -plain) for a
// one-field schema of every type × shape — singular, repeated, map of every
// key type, list-valued map — and for seeded random multi-field schemas,
// then type-checks each file alone with go/types, as the compiler would
// (an unused import is an error there too). Before the fix most repeated and map shapes failed with
// "unsafe" imported and not used.
func TestGeneratedCodeCompiles(t *testing.T) {
	var schemas []string
	add := func(fields ...string) {
		schemas = append(schemas, compileSchema(fmt.Sprintf("p%d", len(schemas)), fields))
	}
	// Every type × shape alone.
	for _, typ := range compileValueTypes {
		add(compileField(1, "F", typ, "singular", "", false))
		add(compileField(1, "F", typ, "repeated", "", false))
		for _, list := range []bool{false, true} {
			key := compileKeyTypes[len(schemas)%len(compileKeyTypes)] // every key type comes round
			add(compileField(1, "F", typ, "map", key, list))
		}
	}
	// Seeded random mixes of several fields.
	n := 24
	if *compileSweep > 0 {
		n = *compileSweep
	}
	rng := rand.New(rand.NewPCG(14, 22))
	for range n {
		var fields []string
		tag := 0
		for i := range 1 + rng.IntN(8) {
			tag += 1 + rng.IntN(100)
			typ := compileValueTypes[rng.IntN(len(compileValueTypes))]
			shape := []string{"singular", "repeated", "map"}[rng.IntN(3)]
			key := compileKeyTypes[rng.IntN(len(compileKeyTypes))]
			fields = append(fields, compileField(tag, fmt.Sprintf("F%d", i), typ, shape, key, rng.IntN(2) == 0))
		}
		add(fields...)
	}

	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", exportLookup(t))
	for _, xml := range schemas {
		s, err := Parse([]byte(xml))
		require.NoError(t, err, xml)
		for _, plain := range []bool{false, true} {
			code, err := Generate(s, Options{Plain: plain})
			require.NoError(t, err, xml)
			f, err := parser.ParseFile(fset, "m_tlv.go", code, 0)
			require.NoError(t, err, xml)
			conf := types.Config{Importer: imp}
			_, err = conf.Check(f.Name.Name, fset, []*ast.File{f}, nil)
			require.NoError(t, err, "generated code (plain=%v) does not type-check for\n%s\n%s", plain, xml, code)
		}
	}
}

// exportLookup finds the compiler's export data of everything generated code
// may import, with one go list -export (built once, then from the cache).
func exportLookup(t *testing.T) importer.Lookup {
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to find export data")
	cmd := exec.Command(goBin, "list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}",
		"github.com/bulwark-go/bulwark/tlv", "github.com/bulwark-go/bulwark/tlv/tlvwire",
		"fmt", "math", "slices", "time", "unsafe")
	out, err := cmd.Output()
	require.NoError(t, err, "go list -export")
	files := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, file, _ := strings.Cut(line, "\t")
		files[path] = file
	}
	return func(path string) (io.ReadCloser, error) {
		f, ok := files[path]
		if !ok || f == "" {
			return nil, fmt.Errorf("no export data for %q", path)
		}
		return os.Open(f)
	}
}
