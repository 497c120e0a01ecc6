package depcheck

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRepository is the gate itself: the real module must have no violations.
func TestRepository(t *testing.T) {
	v, err := Check("../..")
	require.NoError(t, err)
	require.Empty(t, v, "dependency rules broken (see DESIGN.md)")
}

// TestGoodFixture shows what is allowed: internal/ shared, examples/ composing.
func TestGoodFixture(t *testing.T) {
	v, err := Check("testdata/good")
	require.NoError(t, err)
	require.Empty(t, v)
}

// TestBadFixture proves the check can fail: a top-level package importing
// another, internal/ importing a top-level package, and an unlisted module.
func TestBadFixture(t *testing.T) {
	v, err := Check("testdata/bad")
	require.NoError(t, err)
	var got []string
	for _, x := range v {
		got = append(got, x.String())
	}
	require.Len(t, got, 4, "got %q", got)
	require.Contains(t, got[0], "go.mod: requires example.com/unlisted")
	require.Contains(t, got[1], "internal/x/x.go: package internal imports example.com/fake/tlv")
	require.Contains(t, got[2], "quorum/q.go: package quorum imports example.com/fake/tlv")
	require.Contains(t, got[3], "tlv/t.go: package tlv imports example.com/fake/overload/sub")
}

func TestMissingGoMod(t *testing.T) {
	_, err := Check(t.TempDir())
	require.ErrorContains(t, err, "depcheck:")
}
