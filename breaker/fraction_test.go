package breaker

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// openCap is the most breakers MaxOpenFraction lets the trip rule hold open
// or half-open in a Group of n breakers.
func openCap(frac float64, n int) int {
	return max(1, int(math.Floor(frac*float64(n)+1e-9)))
}

// TestMaxOpenFractionIsACap: with 0.1 and 11 keys, one breaker may open
// (2 of 11 would be 18 %).
func TestMaxOpenFractionIsACap(t *testing.T) {
	g, err := NewGroup[int](GroupConfig{MaxOpenFraction: 0.1, Breaker: Config{Clock: newFakeClock(), Trip: ConsecutiveFailures(1)}})
	require.NoError(t, err)
	for i := range 11 {
		_, _ = g.Execute(context.Background(), fmt.Sprint("k", i), ok)
	}
	_, _ = g.Execute(context.Background(), "k0", fail)
	_, _ = g.Execute(context.Background(), "k1", fail)
	require.Equal(t, StateOpen, g.State("k0"))
	require.Equal(t, StateClosed, g.State("k1"), "2 of 11 open is more than 10 %")
}

// TestMaxOpenFractionGenerative: random Group sizes, fractions, sets of
// failing keys, arrival orders and interleavings of calls. After every
// call the breakers the trip rule holds open number at most
// max(1, ⌊fraction × Len⌋). Once every key has arrived, one more failure
// of each failing key (in a random order) leaves exactly
// min(failing, max(1, ⌊fraction × keys⌋)) open, whatever the arrival order
// was; and a second Group (another hash seed) fed the same schedule ends
// with the same state for every key.
func TestMaxOpenFractionGenerative(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 13))
			n := 1 + rng.IntN(30)
			frac := []float64{0.1, 0.25, 0.3, 0.5, 0.7, 1}[rng.IntN(6)]
			cfg := GroupConfig{MaxOpenFraction: frac, MaxKeys: 100,
				Breaker: Config{Clock: newFakeClock(), Timeout: time.Hour, Trip: ConsecutiveFailures(uint32(1 + rng.IntN(3)))}}
			g1, err := NewGroup[int](cfg)
			require.NoError(t, err)
			g2, err := NewGroup[int](cfg)
			require.NoError(t, err)
			failing := map[string]bool{}
			var keys []string
			for i := range n {
				k := fmt.Sprint("host-", i)
				keys = append(keys, k)
				failing[k] = rng.IntN(2) == 0
			}
			nFailing := 0
			for _, f := range failing {
				if f {
					nFailing++
				}
			}
			countOpen := func(g *Group[int]) int {
				o := 0
				for _, k := range keys {
					if g.State(k) != StateClosed {
						o++
					}
				}
				return o
			}
			call := func(k string) {
				fn := ok
				if failing[k] {
					fn = fail
				}
				_, _ = g1.Execute(context.Background(), k, fn)
				_, _ = g2.Execute(context.Background(), k, fn)
				require.LessOrEqual(t, countOpen(g1), openCap(frac, g1.Len()), "open share over %v of %d", frac, g1.Len())
			}
			// Arrival in a random order, interleaved with random calls of
			// keys already seen.
			order := rng.Perm(n)
			for i, j := range order {
				call(keys[j])
				for range rng.IntN(4) {
					call(keys[order[rng.IntN(i+1)]])
				}
			}
			// Every failing key fails often enough to trip once more.
			for range 3 {
				for _, j := range rng.Perm(n) {
					if failing[keys[j]] {
						call(keys[j])
					}
				}
			}
			require.Equal(t, min(nFailing, openCap(frac, n)), countOpen(g1), "keys %d failing %d fraction %v", n, nFailing, frac)
			for _, k := range keys {
				require.Equal(t, g1.State(k), g2.State(k), k)
			}
		})
	}
}
