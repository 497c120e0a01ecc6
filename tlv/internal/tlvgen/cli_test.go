package tlvgen

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func run(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := Main(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestMainGenerate(t *testing.T) {
	out := filepath.Join(t.TempDir(), "new", "dir", "chat.go") // -o creates the directory
	code, _, stderr := run("-o", out, "testdata/golden/chat.xml")
	require.Equal(t, ExitOK, code, stderr)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	want, err := os.ReadFile("testdata/golden/chat.go.golden")
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))

	code, stdout, _ := run("-pkg", "other", "testdata/golden/chat.xml")
	require.Equal(t, ExitOK, code)
	assert.Contains(t, stdout, "package other")
}

func TestMainErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.xml")
	require.NoError(t, os.WriteFile(bad, []byte(`<protocol package="p"><message name="M"><field tag="1" name="A" type="nope"/></message></protocol>`), 0o644))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no args", nil, "usage"},
		{"missing file", []string{"nope.xml"}, "no such file"},
		{"invalid schema", []string{bad}, `unknown type "nope"`},
		{"bad pkg", []string{"-pkg", "a-b", "testdata/golden/chat.xml"}, "not a Go identifier"},
		{"bad flag", []string{"-x"}, "flag provided but not defined"},
		{"check arity", []string{"check", "a.xml"}, "usage"},
		{"check missing", []string{"check", "nope.xml", "testdata/check/v1.xml"}, "no such file"},
		{"check invalid", []string{"check", "testdata/check/v1.xml", bad}, `unknown type "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(tt.args...)
			assert.Equal(t, ExitError, code)
			assert.Contains(t, stderr, tt.want)
		})
	}
}

func TestMainCheck(t *testing.T) {
	code, stdout, stderr := run("check", "testdata/check/v1.xml", "testdata/check/v2_compatible.xml")
	require.Equal(t, ExitOK, code, stdout+stderr)
	assert.Contains(t, stdout, "ok: message Profile, tag 3: field Score: widened from int32 to int64: new readers read old records; an old reader rejects the whole message (range error) once a new writer sends a value that does not fit int32 (widened)")
	assert.Contains(t, stdout, "ok: message Profile, tag 2: field Name renamed to DisplayName (renamed)")
	assert.Contains(t, stdout, "is compatible with")

	code, stdout, _ = run("check", "testdata/check/v2_compatible.xml", "testdata/check/v3_breaking.xml")
	require.Equal(t, ExitIncompatible, code, stdout)
	assert.Contains(t, stdout, "INCOMPATIBLE: message Profile, tag 1: field UID: type changed from uint64 to int64 (type-changed)")
	assert.Contains(t, stdout, "INCOMPATIBLE: message Profile, tag 4: field Avatar reuses a deleted tag (it carried Nick string)")
	assert.Contains(t, stdout, "is NOT compatible with")

	// Straight from v1, tag 4 goes from string to bytes: the same wire bytes.
	code, stdout, _ = run("check", "testdata/check/v1.xml", "testdata/check/v3_breaking.xml")
	require.Equal(t, ExitIncompatible, code)
	assert.Contains(t, stdout, "ok: message Profile, tag 4: field Avatar: string to bytes: the same bytes on the wire")
}
