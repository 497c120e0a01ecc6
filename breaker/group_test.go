package breaker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestGroupNeverEvictsOpen streams random keys (some dead) through small
// groups and checks after every call: no open or half-open breaker was
// evicted (its key still maps to the same breaker), Len stays within
// MaxKeys, the open share respects MaxOpenFraction, and a dead key whose
// breaker opened sees no call until its open period ends.
func TestGroupNeverEvictsOpen(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 3))
			clk := newFakeClock()
			maxKeys := 5 + rng.IntN(40)
			frac := []float64{0, 0.1, 0.3, 1}[rng.IntN(4)]
			g, err := NewGroup[int](GroupConfig{MaxKeys: maxKeys, MaxOpenFraction: frac,
				Breaker: Config{Clock: clk, Trip: ConsecutiveFailures(2), Timeout: time.Hour}})
			require.NoError(t, err)
			keys := 10 + rng.IntN(500)
			dead := func(k int) bool { return k%7 == 0 }
			opened := map[string]*Breaker[int]{}
			for i := range 3000 {
				k := rng.IntN(keys)
				key := fmt.Sprint(k)
				if ob, ok := opened[key]; ok && ob.State() == StateOpen {
					e := g.lookup(key)
					require.NotNil(t, e, "open breaker of %s evicted", key)
					require.Same(t, ob, &e.b)
				}
				called := false
				_, _ = g.Execute(context.Background(), key, func(context.Context) (int, error) {
					called = true
					if dead(k) {
						return 0, errBoom
					}
					return 1, nil
				})
				if ob, ok := opened[key]; ok && ob.State() == StateOpen {
					require.False(t, called, "call %d reached open key %s", i, key)
				}
				if e := g.lookup(key); e != nil && e.b.State() == StateOpen {
					opened[key] = &e.b
				}
				require.LessOrEqual(t, g.Len(), maxKeys)
				open := g.openN.Load()
				if frac > 0 {
					require.True(t, open <= 1 || float64(open-1) < frac*float64(g.Len()), "open %d of %d, fraction %v", open, g.Len(), frac)
				}
				if rng.IntN(200) == 0 {
					clk.Advance(time.Minute)
				}
			}
		})
	}
}
