package grayroute

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStickySurvivesVariantChanges: random sequences of accepted Updates
// that insert and remove arms anywhere (keeping the relative order, so
// Update accepts them) and re-weight every arm, with sticky users routed
// after each. Against a model: a key the split sent to a non-default arm
// stays in that arm (ReasonSticky) while the split now gives it the
// default and the arm still exists; sticky never sends a key to an arm it
// was not in.
func TestStickySurvivesVariantChanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 7))
	all := []string{"stable", "a1", "a2", "canary", "a3", "a4"}
	for round := range scaled(30, 5) {
		keys := make([]string, scaled(3000, 3))
		for i := range keys {
			keys[i] = fmt.Sprint(rng.Uint64())
		}
		last := map[string]string{} // key -> arm the split last sent it to
		var r *Router
		for upd := range 10 {
			var variants []string
			for _, v := range all {
				if v == "stable" || v == "canary" || rng.IntN(2) == 0 {
					variants = append(variants, v)
				}
			}
			w := make([]int, len(variants))
			left := Buckets
			for i := range w[:len(w)-1] {
				w[i] = rng.IntN(left/2 + 1)
				left -= w[i]
			}
			w[len(w)-1] = left
			split := map[string]int{}
			for i, v := range variants {
				split[v] = w[i]
			}
			cfg := Config{Releases: map[string]Release{"r": {Variants: variants, Default: "stable", Sticky: 100000,
				Rules: []Rule{{Name: "s", Split: split}}}}}
			if r == nil {
				var err error
				r, err = New(cfg)
				require.NoError(t, err)
			} else {
				require.NoError(t, r.Update(cfg), "round %d update %d", round, upd)
			}
			for _, k := range keys {
				d := r.Route("r", Request{Key: k})
				arm, acc := "", 0
				for i, v := range variants {
					acc += w[i]
					if d.Bucket < acc {
						arm = v
						break
					}
				}
				want, reason := arm, ReasonSplit
				if arm == "stable" {
					if l, ok := last[k]; ok && slices.Contains(variants, l) {
						want, reason = l, ReasonSticky
					}
				} else {
					last[k] = arm
				}
				if d.Variant != want || d.Reason != reason {
					t.Fatalf("round %d update %d key %s: variants %v weights %v: got %s/%v, want %s/%v (last arm %q)",
						round, upd, k, variants, w, d.Variant, d.Reason, want, reason, last[k])
				}
			}
		}
	}
}

// TestStickyRetainsNoKeyBytes: keys that are substrings of large request
// buffers are not retained by the sticky set (entries are keyed by hash),
// and an entry costs at most stickyEntryBytes.
func TestStickyRetainsNoKeyBytes(t *testing.T) {
	r, err := New(Config{Releases: map[string]Release{"r": {Variants: []string{"stable", "canary"}, Sticky: 100000,
		Rules: []Rule{{Split: map[string]int{"canary": Buckets}}}}}})
	require.NoError(t, err)
	var ms runtime.MemStats
	heap := func() uint64 { runtime.GC(); runtime.ReadMemStats(&ms); return ms.HeapAlloc }
	h0 := heap()
	for i := range 32 {
		buf := strings.Repeat(fmt.Sprint(i%10), 1<<20)
		r.Route("r", Request{Key: buf[:1+i]})
		r.Route("r", Request{Key: buf})
	}
	h1 := heap()
	require.Less(t, int64(h1)-int64(h0), int64(4<<20), "the sticky set retains request buffers")
	n := 50000
	for i := range n {
		r.Route("r", Request{Key: fmt.Sprint("user-", i)})
	}
	h2 := heap()
	per := (int64(h2) - int64(h1)) / int64(n)
	t.Logf("%d bytes per sticky entry", per)
	require.LessOrEqual(t, per, int64(stickyEntryBytes))
	runtime.KeepAlive(r)
}
