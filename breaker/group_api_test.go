package breaker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestGroupMirrorsBreaker drives a lone Breaker and one key of a Group
// with the same random schedule of Execute, ExecuteFallback, Allow/done
// (results in any order), Trip, Reset and clock advances, and requires the
// same errors, fallbacks, State and Counts after every step: a Group key
// is a Breaker.
func TestGroupMirrorsBreaker(t *testing.T) {
	for seed := range uint64(30) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 41))
			clk := newFakeClock()
			cfg := Config{Name: "k", Clock: clk, MaxRequests: uint32(1 + rng.IntN(3)),
				Interval: time.Duration(2+rng.IntN(8)) * time.Second, BucketPeriod: time.Second,
				Timeout: time.Duration(1+rng.IntN(4)) * time.Second, SlowCall: time.Duration(rng.IntN(2)) * time.Second,
				Trip: Any(ConsecutiveFailures(uint32(1+rng.IntN(4))), FailureRate(0.5, 4))}
			b, err := New[int](cfg)
			require.NoError(t, err)
			g, err := NewGroup[int](GroupConfig{Breaker: cfg, MaxKeys: 1 + rng.IntN(3)})
			require.NoError(t, err)
			// The key's breaker starts with the lone one (its buckets count
			// from its creation): Trip creates it, Reset closes both.
			g.Trip("k")
			b.Trip()
			g.Reset("k")
			b.Reset()
			type pend struct{ db, dg func(error) }
			var pending []pend
			outcome := func() error {
				switch rng.IntN(3) {
				case 0:
					return errBoom
				}
				return nil
			}
			for step := range 300 {
				what := fmt.Sprintf("step %d", step)
				switch op := rng.IntN(100); {
				case op < 30:
					e := outcome()
					fn := func(context.Context) (int, error) { return 1, e }
					vb, eb := b.Execute(context.Background(), fn)
					vg, eg := g.Execute(context.Background(), "k", fn)
					require.Equal(t, vb, vg, what)
					require.Equal(t, fmt.Sprint(eb), fmt.Sprint(eg), what)
				case op < 45:
					e := outcome()
					fn := func(context.Context) (int, error) { return 1, e }
					fb := func(_ context.Context, err error) (int, error) { return 2, nil }
					vb, eb := b.ExecuteFallback(context.Background(), fn, fb)
					vg, eg := g.ExecuteFallback(context.Background(), "k", fn, fb)
					require.Equal(t, vb, vg, what)
					require.Equal(t, fmt.Sprint(eb), fmt.Sprint(eg), what)
				case op < 60:
					db, eb := b.Allow(context.Background())
					dg, eg := g.Allow(context.Background(), "k")
					require.Equal(t, fmt.Sprint(eb), fmt.Sprint(eg), what)
					require.Equal(t, db == nil, dg == nil, what)
					if db != nil {
						pending = append(pending, pend{db, dg})
					}
				case op < 75 && len(pending) > 0:
					i := rng.IntN(len(pending))
					e := outcome()
					pending[i].db(e)
					pending[i].dg(e)
					pending = append(pending[:i], pending[i+1:]...)
				case op < 92:
					clk.Advance(time.Duration(rng.IntN(1500)) * time.Millisecond)
				case op < 96:
					b.Trip()
					g.Trip("k")
				default:
					b.Reset()
					g.Reset("k")
				}
				require.Equal(t, b.State(), g.State("k"), what)
				require.Equal(t, b.Counts(), g.Counts("k"), what)
			}
		})
	}
}

// TestGroupTripResetUnknownKeys: Trip of a key without a breaker creates an
// open one that later new keys never evict; Reset and Counts of an unknown
// key create nothing.
func TestGroupTripResetUnknownKeys(t *testing.T) {
	clk := newFakeClock()
	g, err := NewGroup[int](GroupConfig{MaxKeys: 2, Breaker: Config{Clock: clk, Timeout: time.Hour}})
	require.NoError(t, err)
	g.Reset("nobody")
	require.Equal(t, Counts{}, g.Counts("nobody"))
	require.Equal(t, StateClosed, g.State("nobody"))
	require.Zero(t, g.Len())

	g.Trip("dead")
	require.Equal(t, StateOpen, g.State("dead"))
	for i := range 100 {
		_, _ = g.Execute(context.Background(), fmt.Sprint("k", i), ok)
		clk.Advance(time.Second)
	}
	_, err = g.Execute(context.Background(), "dead", ok)
	require.True(t, errors.Is(err, ErrOpen), "a tripped key was evicted: %v", err)
	require.Equal(t, uint32(1), g.Counts("dead").Rejected)
	g.Reset("dead")
	require.Equal(t, StateClosed, g.State("dead"))
	v, err := g.Execute(context.Background(), "dead", ok)
	require.NoError(t, err)
	require.Equal(t, 1, v)
}
