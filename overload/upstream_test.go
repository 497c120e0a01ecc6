package overload

import (
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// upstreamDemand is a window's demand per business class (uniform over the
// UserLevels user levels), seen complete up to trunc and only as a few
// probes above it, as behind a Gate enforcing trunc.
func upstreamDemand(rng *rand.Rand, perLevel []float64, trunc uint16) []bucket {
	var h []bucket
	for b, d := range perLevel {
		for u := range UserLevels {
			key := uint16(b)<<8 | uint16(u)
			if key <= trunc {
				if n := uint32(d + rng.Float64()); n > 0 {
					h = append(h, bucket{key: key, n: n})
				}
			} else if rng.IntN(64) == 0 {
				h = append(h, bucket{key: key, n: 1}) // a probe
			}
		}
	}
	return h
}

// trueDemand is the demand a level admits, from the per-level densities.
func trueDemand(perLevel []float64, key uint16) float64 {
	var sum float64
	for b, d := range perLevel {
		for u := range UserLevels {
			if uint16(b)<<8|uint16(u) <= key {
				sum += d
			}
		}
	}
	return sum
}

// TestRiseLevelBehindAGate: random class volumes, Gate levels, targets and
// held-back counts (at least the demand the Gate hid). A rise extrapolated
// above the Gate's level never admits more than the target, give or take
// one user level and the counts' rounding (it errs small), never falls
// below the current level, stays in the Gate level's class unless that
// level is at the class's end (then it stays in the next), and opens only
// when the target covers the whole demand or past the highest class seen.
// With nothing held back, or without a Gate, it is ceilLevel.
func TestRiseLevelBehindAGate(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 16))
	for i := range 3000 {
		classes := 1 + rng.IntN(4)
		perLevel := make([]float64, classes)
		for b := range perLevel {
			perLevel[b] = 0.05 + 3*rng.Float64()
		}
		tb := rng.IntN(classes)
		tu := rng.IntN(UserLevels)
		if rng.IntN(4) == 0 {
			tu = UserLevels - 1
		}
		trunc := uint16(tb)<<8 | uint16(tu)
		h := upstreamDemand(rng, perLevel, trunc)
		if len(h) == 0 {
			continue
		}
		var seen, total uint64
		for _, b := range h {
			total += uint64(b.n)
			if b.key <= trunc {
				seen += uint64(b.n)
			}
		}
		hiddenTrue := trueDemand(perLevel, keyOpen) - trueDemand(perLevel, trunc)
		hidden := uint64(math.Ceil(hiddenTrue * (1 + 0.5*rng.Float64())))
		want := seen + uint64(rng.Float64()*2*float64(seen+1))
		cur := trunc
		if rng.IntN(3) == 0 && trunc > 0 {
			cur = uint16(rng.IntN(int(trunc)))
		}
		got := riseLevel(h, want, cur, trunc, hidden)
		assert.Equal(t, ceilLevel(h, want, cur), riseLevel(h, want, cur, keyOpen, hidden), "case %d", i)
		assert.Equal(t, ceilLevel(h, want, cur), riseLevel(h, want, cur, trunc, 0), "case %d", i)
		assert.GreaterOrEqual(t, got, cur, "case %d: below the current level", i)
		if got == keyOpen {
			if want < total+hidden {
				assert.Equal(t, UserLevels-1, tu, "case %d: opened from inside a class", i)
				assert.Equal(t, int(h[len(h)-1].key>>8), tb, "case %d: opened below the highest class seen", i)
			}
			continue
		}
		if got <= trunc {
			continue
		}
		gb := int(got >> 8)
		if tu < UserLevels-1 {
			assert.Equal(t, tb, gb, "case %d: left the class from inside it", i)
		} else {
			assert.Equal(t, tb+1, gb, "case %d: not in the next class", i)
		}
		assert.LessOrEqual(t, trueDemand(perLevel, got), float64(want)+perLevel[gb]+float64(UserLevels)*0.5+1,
			"case %d: rise overshoots the target", i)
	}
}

// TestGateLevelHeader: RoundTripper tells the downstream the level its Gate
// enforces, only while it caches a closed one, and Middleware counts the
// request as gated.
func TestGateLevelHeader(t *testing.T) {
	var gotHeader atomic.Value
	var gated atomic.Int64
	down, err := New(Config{MaxConcurrency: 4, Hooks: Hooks{OnWindow: func(s WindowStats) { gated.Add(s.Gated) }}})
	require.NoError(t, err)
	srv := httptest.NewServer(Middleware(down, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHeader.Store(r.Header.Get(GateLevelHeader))
	})))
	defer srv.Close()
	g, err := NewGate(GateConfig{})
	require.NoError(t, err)
	client := &http.Client{Transport: RoundTripper(g, srv.Client().Transport)}
	send := func(header string) {
		req, err := http.NewRequestWithContext(WithPriority(t.Context(), Priority{}), "GET", srv.URL, nil)
		require.NoError(t, err)
		if header != "" {
			req.Header.Set(GateLevelHeader, header)
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, header, req.Header.Get(GateLevelHeader), "caller's request not modified")
	}

	send("")
	assert.Empty(t, gotHeader.Load(), "open: no header")
	send("1.2")
	assert.Empty(t, gotHeader.Load(), "a caller's stale header is not forwarded")

	g.Observe(srv.Listener.Addr().String(), Level{Business: 1, User: 7})
	send("")
	assert.Equal(t, "1.7", gotHeader.Load())
	before := down.gated.Load() + gated.Load()
	assert.Equal(t, int64(1), before, "Middleware counted the gated request")

	down.ObserveGate(LevelOpen, 5)
	assert.Equal(t, before, down.gated.Load()+gated.Load(), "an open level is not a Gate")
	var zero *Controller
	zero.ObserveGate(Level{}, 1) // no panic
}
