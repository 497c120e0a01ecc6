// Package depcheck enforces Bulwark's dependency rules (DESIGN.md):
//
//   - a top-level package (tlv, quorum, overload, …) never imports another
//     top-level package; only internal/ is shared, and internal/ imports no
//     top-level package either. Programs under examples/ compose packages and
//     are exempt, as are the separate benchmarks/ and e2e/ modules.
//   - the root go.mod requires directly only the modules DESIGN.md lists.
//
// The check runs as an ordinary test (depcheck_test.go) over the repository
// and over a committed negative fixture, so `go test ./...` fails the moment
// a rule is broken, and the fixture proves the check can fail.
package depcheck

import (
	"bufio"
	"bytes"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Allowed lists the modules the root go.mod may require directly, with the
// reason each is there. Keep it in step with README.md's dependency table.
var Allowed = map[string]string{
	"github.com/sony/gobreaker/v2":       "breaker: errors.Is matches its sentinels",
	"golang.org/x/time":                  "overload, quorum: token-bucket rate limits",
	"github.com/hashicorp/golang-lru/v2": "overload, grayroute: bounded key sets",
	"github.com/stretchr/testify":        "tests: assertions",
	"github.com/redis/go-redis/v9":       "quorum/redisreplica: the Redis client",
	"github.com/alicebob/miniredis/v2":   "quorum/redisreplica tests: in-process Redis",
	"github.com/anishathalye/porcupine":  "quorum/quorumtest: linearizability checker",
}

// exempt are top-level folders whose code may import any package.
var exempt = map[string]bool{"examples": true, "benchmarks": true, "e2e": true}

// Violation is one broken rule.
type Violation struct {
	File string // path relative to the checked root
	Msg  string
}

func (v Violation) String() string { return v.File + ": " + v.Msg }

// Check inspects the module rooted at root and returns every violation,
// sorted by file. An error is returned only when the tree cannot be read.
func Check(root string) ([]Violation, error) {
	modPath, direct, err := readGoMod(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, err
	}
	var out []Violation
	for _, m := range direct {
		if _, ok := Allowed[m]; !ok {
			out = append(out, Violation{"go.mod", fmt.Sprintf("requires %s, which is not in DESIGN.md's dependency list", m)})
		}
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			name := d.Name()
			if rel != "." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
				return filepath.SkipDir
			}
			// A nested module (benchmarks/, e2e/) is not part of this one.
			if rel != "." {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") {
			return nil
		}
		top, _, _ := strings.Cut(rel, "/")
		if top == rel || exempt[top] {
			return nil // a file at the root, or an exempt folder
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return fmt.Errorf("depcheck: %s: %w", rel, err)
		}
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				continue
			}
			rest, ok := strings.CutPrefix(p, modPath+"/")
			if !ok {
				continue
			}
			impTop, _, _ := strings.Cut(rest, "/")
			if impTop == top || impTop == "internal" {
				continue
			}
			out = append(out, Violation{rel, fmt.Sprintf("package %s imports %s: top-level packages never import each other (share code through internal/)", top, p)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out, nil
}

// readGoMod returns the module path and the directly required modules.
func readGoMod(path string) (string, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("depcheck: %w", err)
	}
	var mod string
	var direct []string
	inBlock := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		indirect := strings.Contains(line, "// indirect")
		if i := strings.Index(line, "//"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		fields := strings.Fields(line)
		switch {
		case len(fields) == 0:
		case fields[0] == "module" && len(fields) == 2:
			mod = strings.Trim(fields[1], `"`)
		case fields[0] == "require" && len(fields) == 2 && fields[1] == "(":
			inBlock = true
		case inBlock && fields[0] == ")":
			inBlock = false
		case fields[0] == "require" && len(fields) == 3:
			if !indirect {
				direct = append(direct, fields[1])
			}
		case inBlock && len(fields) == 2:
			if !indirect {
				direct = append(direct, fields[0])
			}
		}
	}
	if mod == "" {
		return "", nil, fmt.Errorf("depcheck: %s: no module line", path)
	}
	return mod, direct, nil
}
