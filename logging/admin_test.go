package logging

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDyeAdmin(t *testing.T) {
	clk := newFakeClock()
	var buf bytes.Buffer
	log := New(&buf, &Options{Clock: clk, Level: LevelNever()})
	h := log.Handler().(*Handler)
	adm := h.DyeAdmin()
	do := func(method, q string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		adm.ServeHTTP(rec, httptest.NewRequest(method, "/dyes?"+q, nil))
		return rec
	}
	require.Equal(t, http.StatusNoContent, do("POST", "key=alice&ttl=10m").Code)
	rec := do("GET", "")
	require.Equal(t, 200, rec.Code)
	var list []Dye
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	require.Len(t, list, 1)
	assert.Equal(t, "alice", list[0].Key)
	assert.True(t, list[0].Expires.Equal(clk.Now().Add(10*time.Minute)))

	for _, bad := range []struct{ method, q, reason string }{
		{"POST", "", "missing key"},
		{"POST", "key=a&ttl=banana", "bad ttl"},
		{"POST", "key=a&ttl=-1s", "ttl must be"},
		{"POST", "key=a&ttl=48h", "ttl must be"},
		{"POST", "key=" + strings.Repeat("k", 257), "longer than"},
		{"POST", "key=%ff", "not UTF-8"},
		{"DELETE", "", "missing key"},
	} {
		rec := do(bad.method, bad.q)
		assert.Equal(t, 400, rec.Code, bad.q)
		assert.Contains(t, rec.Body.String(), bad.reason, bad.q)
	}
	assert.Equal(t, 404, do("DELETE", "key=bob").Code)
	assert.Equal(t, 405, do("PUT", "key=bob").Code)
	require.Equal(t, http.StatusNoContent, do("DELETE", "key=alice").Code)
	assert.Empty(t, h.Dyes().List())

	// Audit lines are written even though the level filters everything.
	ms := parseJSONLines(t, buf.Bytes())
	require.Len(t, ms, 2)
	assert.Equal(t, "logging: dye added", ms[0]["msg"])
	assert.Equal(t, "alice", ms[0]["dye"])
	assert.Equal(t, "logging: dye removed", ms[1]["msg"])
}
