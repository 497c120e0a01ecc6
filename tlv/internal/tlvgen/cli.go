package tlvgen

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Exit codes of Main.
const (
	ExitOK           = 0 // generated, or the schemas are compatible
	ExitIncompatible = 1 // check found a breaking change
	ExitError        = 2 // usage, I/O or schema error
)

const usage = `usage:
  tlvgen [-o out.go] [-pkg name] [-plain] schema.xml   generate Go code
  tlvgen check old.xml new.xml                         report incompatible changes (exit 1)
`

// Main runs the tlvgen command with the given arguments (without the
// program name) and returns its exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "check" {
		return runCheck(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("tlvgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	out := fs.String("o", "", "write the generated code to this file (default: standard output)")
	pkg := fs.String("pkg", "", "Go package name (default: the protocol's package attribute)")
	plain := fs.Bool("plain", false, "emit the types only, without methods (a reflection twin for tests)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitError
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return ExitError
	}
	schemaPath := fs.Arg(0)
	s, err := load(schemaPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitError
	}
	if *pkg != "" {
		if !isIdent(*pkg) || goKeywords[*pkg] {
			fmt.Fprintf(stderr, "tlvgen: -pkg %q is not a Go identifier\n", *pkg)
			return ExitError
		}
		s.Package = *pkg
	}
	code, err := Generate(s, Options{Source: filepath.Base(schemaPath), Plain: *plain})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitError
	}
	if *out == "" {
		if _, err := stdout.Write(code); err != nil {
			fmt.Fprintln(stderr, "tlvgen:", err)
			return ExitError
		}
		return ExitOK
	}
	if dir := filepath.Dir(*out); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fmt.Fprintln(stderr, "tlvgen:", err)
			return ExitError
		}
	}
	if err := os.WriteFile(*out, code, 0o644); err != nil {
		fmt.Fprintln(stderr, "tlvgen:", err)
		return ExitError
	}
	return ExitOK
}

func runCheck(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprint(stderr, usage)
		return ExitError
	}
	old, err := load(args[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitError
	}
	cur, err := load(args[1])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitError
	}
	changes := Check(old, cur)
	for _, c := range changes {
		fmt.Fprintln(stdout, c)
	}
	if Breaking(changes) {
		fmt.Fprintf(stdout, "%s is NOT compatible with %s\n", args[1], args[0])
		return ExitIncompatible
	}
	fmt.Fprintf(stdout, "%s is compatible with %s\n", args[1], args[0])
	return ExitOK
}

// load reads and parses a schema file, refusing files over MaxSchemaBytes
// before reading them whole.
func load(path string) (*Schema, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tlvgen: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSchemaBytes+1))
	if err != nil {
		return nil, fmt.Errorf("tlvgen: read %s: %w", path, err)
	}
	s, err := Parse(data)
	if err != nil {
		var es Errors
		if errors.As(err, &es) {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return nil, err
	}
	return s, nil
}
