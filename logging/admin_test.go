package logging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDyeAdmin(t *testing.T) {
	clk := newFakeClock()
	var buf bytes.Buffer
	_, h := NewWithHandler(&buf, &Options{Clock: clk, Level: LevelNever()})
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

// fillDyes sets n live dyes (expiring at exp) directly: Add is O(n) per
// call, meant for admin rates, and too slow to fill MaxDyes in a test.
func fillDyes(d *Dyes, n int, exp time.Time) {
	m := make(map[string]time.Time, n)
	for i := range n {
		m[fmt.Sprint("filler-", i)] = exp
	}
	d.cur.Store(&dyeSet{m: m})
}

func post(adm http.Handler, q string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	adm.ServeHTTP(rec, httptest.NewRequest("POST", "/dyes?"+q, nil))
	return rec
}

// TestDyeAdminExpiredDoNotCount: the review's lockout. A set full of
// expired dyes accepts a new one; at the cap a live key can be refreshed
// and a new one gets 409.
func TestDyeAdminExpiredDoNotCount(t *testing.T) {
	clk := newFakeClock()
	h := NewHandler(slog.DiscardHandler, &Options{Clock: clk})
	adm := h.DyeAdmin()
	fillDyes(h.Dyes(), MaxDyes, clk.Now().Add(time.Minute))
	require.Equal(t, http.StatusConflict, post(adm, "key=alice").Code)
	clk.Advance(time.Hour)
	require.Equal(t, http.StatusNoContent, post(adm, "key=alice").Code)
	require.Len(t, h.Dyes().List(), 1)

	fillDyes(h.Dyes(), MaxDyes-1, clk.Now().Add(time.Hour))
	require.Equal(t, http.StatusNoContent, post(adm, "key=bob").Code)
	require.Equal(t, http.StatusNoContent, post(adm, "key=bob&ttl=2h").Code, "refresh at the cap")
	rec := post(adm, "key=carol")
	require.Equal(t, http.StatusConflict, rec.Code)
	require.Contains(t, rec.Body.String(), "dye set full")
}

// TestDyeAdminCapUnderConcurrency: concurrent POSTs of new keys one below
// the cap: exactly one gets in.
func TestDyeAdminCapUnderConcurrency(t *testing.T) {
	clk := newFakeClock()
	h := NewHandler(slog.DiscardHandler, &Options{Clock: clk})
	adm := h.DyeAdmin()
	fillDyes(h.Dyes(), MaxDyes-1, clk.Now().Add(time.Hour))
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if post(adm, fmt.Sprint("key=k", i)).Code == http.StatusNoContent {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int32(1), ok.Load())
	require.Equal(t, MaxDyes, h.Dyes().Len())
}

// TestDyesCapModel drives addCapped (with random caps), Remove and clock
// advances against a model: a new key is refused exactly when the live
// dyes (expired ones not counted) number the cap or more.
func TestDyesCapModel(t *testing.T) {
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 41))
		clk := newFakeClock()
		d := &Dyes{Clock: clk}
		model := map[string]time.Time{}
		live := func() int {
			n := 0
			for _, e := range model {
				if e.IsZero() || e.After(clk.Now()) {
					n++
				}
			}
			return n
		}
		for step := range 200 {
			key := fmt.Sprint("k", rng.IntN(12))
			switch rng.IntN(5) {
			case 0, 1, 2:
				capN := 1 + rng.IntN(8)
				ttl := time.Duration(rng.IntN(6)) * time.Second
				e, had := model[key]
				isLive := had && (e.IsZero() || e.After(clk.Now()))
				want := isLive || live() < capN
				require.Equal(t, want, d.addCapped(key, ttl, capN), "seed %d step %d", seed, step)
				if want {
					model[key] = time.Time{}
					if ttl > 0 {
						model[key] = clk.Now().Add(ttl)
					}
				}
			case 3:
				d.Remove(key)
				delete(model, key)
			case 4:
				clk.Advance(time.Duration(rng.IntN(3000)) * time.Millisecond)
			}
			require.Len(t, d.List(), live(), "seed %d step %d", seed, step)
		}
	}
}

// TestDyeAdminFormBody: curl -d key=bob&ttl=5m sends a form body.
func TestDyeAdminFormBody(t *testing.T) {
	var buf bytes.Buffer
	_, h := NewWithHandler(&buf, &Options{Level: LevelNever()})
	req := httptest.NewRequest("POST", "/dyes", strings.NewReader("key=bob&ttl=5m"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.DyeAdmin().ServeHTTP(rec, req)
	require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
	list := h.Dyes().List()
	require.Len(t, list, 1)
	require.Equal(t, "bob", list[0].Key)
	ms := parseJSONLines(t, buf.Bytes())
	require.Equal(t, "5m0s", ms[0]["ttl"], "ttl logged as a duration text")
	// A body over the limit is refused, not read to the end.
	req = httptest.NewRequest("POST", "/dyes", strings.NewReader("key="+strings.Repeat("k", maxAdminBody)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec = httptest.NewRecorder()
	h.DyeAdmin().ServeHTTP(rec, req)
	require.Equal(t, http.StatusBadRequest, rec.Code)
}
