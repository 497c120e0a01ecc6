package quorum_test

import (
	"go/ast"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDocSnippetsAreCompiledExamples: every Go code block in the package
// docs of quorum and its subpackages appears, line for line (indentation
// aside), in the body of an Example function of that package, so the docs
// cannot show code that does not compile. Blocks that are not Go (shell
// commands) are skipped; each package doc must have at least one Go block
// checked.
func TestDocSnippetsAreCompiledExamples(t *testing.T) {
	for _, dir := range []string{".", "memreplica", "redisreplica", "quorumtest"} {
		t.Run(dir, func(t *testing.T) {
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, filepath.Join(dir, "doc.go"), nil, parser.ParseComments)
			require.NoError(t, err)
			require.NotNil(t, f.Doc, "package doc")
			var p comment.Parser
			examples := exampleBodies(t, dir)
			require.NotEmpty(t, examples, "Example functions in %s", dir)
			checked := 0
			for _, block := range p.Parse(f.Doc.Text()).Content {
				code, ok := block.(*comment.Code)
				if !ok || !isGo(code.Text) {
					continue
				}
				checked++
				want := trimmedLines(code.Text)
				found := slices.ContainsFunc(examples, func(body []string) bool { return containsRun(body, want) })
				assert.True(t, found, "doc snippet not in any Example of %s:\n%s", dir, code.Text)
			}
			if dir != "quorumtest" { // its doc points to its Examples by name
				assert.Positive(t, checked, "Go code blocks in %s/doc.go", dir)
			}
		})
	}
}

// isGo reports whether text parses as Go statements.
func isGo(text string) bool {
	_, err := parser.ParseFile(token.NewFileSet(), "", "package p\nfunc _() {\n"+text+"\n}\n", 0)
	return err == nil
}

// exampleBodies returns the bodies of the Example functions in dir's test
// files, as trimmed lines.
func exampleBodies(t *testing.T, dir string) [][]string {
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	require.NoError(t, err)
	var out [][]string
	for _, name := range files {
		src, err := os.ReadFile(name)
		require.NoError(t, err)
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, name, src, 0)
		require.NoError(t, err)
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil || !strings.HasPrefix(fn.Name.Name, "Example") {
				continue
			}
			body := src[fset.Position(fn.Body.Lbrace).Offset+1 : fset.Position(fn.Body.Rbrace).Offset]
			out = append(out, trimmedLines(string(body)))
		}
	}
	return out
}

func trimmedLines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// containsRun reports whether want occurs in lines as a contiguous run.
func containsRun(lines, want []string) bool {
	for i := 0; i+len(want) <= len(lines); i++ {
		if slices.Equal(lines[i:i+len(want)], want) {
			return true
		}
	}
	return false
}
