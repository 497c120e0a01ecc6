package breaker

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// refCap is the most breakers MaxOpenFraction, written as the decimal
// frac, lets the trip rule hold open or half-open in a Group of n
// breakers: max(1, ⌊frac × n⌋) in exact rational arithmetic.
func refCap(frac string, n int) int {
	r, ok := new(big.Rat).SetString(frac)
	if !ok {
		panic(frac)
	}
	r.Mul(r, big.NewRat(int64(n), 1))
	k := new(big.Int).Quo(r.Num(), r.Denom())
	return max(1, int(k.Int64()))
}

// randDecimal is a random fraction in (0, 1] with 1 to 10 decimal digits,
// often near a multiple of 1/n (0.3, 0.2999999999, 0.29, 0.7).
func randDecimal(rng *rand.Rand) string {
	switch rng.IntN(3) {
	case 0:
		return []string{"0.1", "0.25", "0.3", "0.5", "0.7", "1", "0.29", "0.2999999999", "0.29999999999", "0.3000000001", "0.07", "0.33", "0.6666666667"}[rng.IntN(13)]
	case 1:
		d := 1 + rng.IntN(10)
		p := int64(1)
		for range d {
			p *= 10
		}
		return new(big.Rat).SetFrac64(1+rng.Int64N(p), p).FloatString(d)
	default:
		return fmt.Sprintf("0.%d", 1+rng.IntN(99))
	}
}

// TestOpenCapIsTheDecimalFloor: openCap agrees with exact arithmetic on
// the decimal written, for random decimals and Group sizes up to 100,000.
func TestOpenCapIsTheDecimalFloor(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 4))
	for range 20000 {
		d := randDecimal(rng)
		f, err := strconv.ParseFloat(d, 64)
		require.NoError(t, err)
		n := 1 + rng.IntN([]int{20, 1000, 100000}[rng.IntN(3)])
		require.Equal(t, int64(refCap(d, n)), openCap(f, int64(n)), "fraction %s of %d", d, n)
	}
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
			fracS := randDecimal(rng)
			frac, err := strconv.ParseFloat(fracS, 64)
			require.NoError(t, err)
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
				require.LessOrEqual(t, countOpen(g1), refCap(fracS, g1.Len()), "open share over %v of %d", frac, g1.Len())
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
			require.Equal(t, min(nFailing, refCap(fracS, n)), countOpen(g1), "keys %d failing %d fraction %v", n, nFailing, frac)
			for _, k := range keys {
				require.Equal(t, g1.State(k), g2.State(k), k)
			}
		})
	}
}
