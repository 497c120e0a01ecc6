package breaker

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestThrottleMatchesFormula: over random streams (random gaps of at least
// a sixteenth of a bucket, so the clock is read on every call, and random
// accept rates), RejectProbability equals the SRE formula over a reference
// window exactly, and the observed local-rejection share matches the mean
// probability within 4 standard errors.
func TestThrottleMatchesFormula(t *testing.T) {
	for seed := range uint64(10) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 11))
			clk := newFakeClock()
			k := 1 + rng.Float64()*2
			n := 2 + rng.IntN(20)
			period := 100 * time.Millisecond
			minReq := rng.IntN(30)
			th, err := NewThrottle(ThrottleConfig{K: k, Window: time.Duration(n) * period, Buckets: n, MinRequests: minReq, Clock: clk})
			require.NoError(t, err)
			type ev struct {
				bucket int64
				acc    bool
			}
			var evs []ev
			first := 0
			start := clk.Now()
			acceptRate := rng.Float64()
			var sumP, rejected, total float64
			for i := range 4000 {
				if i%500 == 0 {
					acceptRate = rng.Float64()
				}
				clk.Advance(period/16 + time.Duration(rng.IntN(int(period/8))))
				cur := int64(clk.Now().Sub(start) / period)
				var reqs, accs float64
				for first < len(evs) && evs[first].bucket <= cur-int64(n) {
					first++ // events are in time order: the ones before first left the window
				}
				for _, e := range evs[first:] {
					if e.bucket > cur-int64(n) {
						reqs++
						if e.acc {
							accs++
						}
					}
				}
				want := 0.0
				if reqs >= float64(minReq) {
					want = math.Max(0, (reqs-k*accs)/(reqs+1))
				}
				p := th.RejectProbability()
				require.InDelta(t, want, p, 1e-9, "step %d", i)
				sumP += want
				total++
				evs = append(evs, ev{bucket: cur})
				if th.Allow() {
					if rng.Float64() < acceptRate {
						th.Record(true)
						evs[len(evs)-1].acc = true
					}
				} else {
					rejected++
				}
			}
			mean := sumP / total
			se := math.Sqrt(mean*(1-mean)/total) + 1e-3
			require.InDelta(t, mean, rejected/total, 4*se+0.01, "rejected share vs mean probability")
		})
	}
}

// TestThrottleNeverRejectsHealthy: with every request accepted it never
// rejects (at the widest stride), and it sheds once the backend refuses all.
func TestThrottleNeverRejectsHealthy(t *testing.T) {
	clk := newFakeClock()
	th, err := NewThrottle(ThrottleConfig{Clock: clk})
	require.NoError(t, err)
	for i := range 100_000 {
		if i%100 == 0 {
			clk.Advance(10 * time.Millisecond)
		}
		require.True(t, th.Allow(), "call %d", i)
		th.Record(true)
	}
	// The backend now refuses everything: the throttle must start shedding.
	shed := 0
	for i := range 200_000 {
		if i%100 == 0 {
			clk.Advance(10 * time.Millisecond)
		}
		if !th.Allow() {
			shed++
		}
	}
	// K=2 and 100,000 accepts in the window: shedding starts past 200,000
	// requests, reaching p = 1/3 at 300,000.
	require.Greater(t, shed, 10_000)
	require.InDelta(t, 1.0/3, th.RejectProbability(), 0.01)
	// Once the accepts leave the window, nearly everything is shed.
	clk.Advance(3 * time.Minute)
	shed = 0
	for range 10_000 {
		if !th.Allow() {
			shed++
		}
	}
	require.Greater(t, shed, 9_000)
}

// TestThrottleAfterSilenceGenerative drives random schedules through the
// real decision path only (Allow and Record, never RejectProbability, which
// ticks): phases of dense or sparse calls with a random accept rate (often
// all accepted), separated by random silences around the window length
// (shorter, equal, a bucket longer, hours), with random K, window, buckets
// and MinRequests. Whenever no request that went unaccepted (refused by the
// backend or shed locally) lies within the window plus one bucket (the
// clock-read stride may book a request one bucket early), every request in
// the window was accepted, the formula gives 0 and Allow must say yes.
func TestThrottleAfterSilenceGenerative(t *testing.T) {
	for seed := range uint64(30) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 31))
			clk := newFakeClock()
			n := 1 + rng.IntN(130)
			period := time.Duration(1+rng.IntN(1000)) * time.Millisecond
			window := time.Duration(n) * period
			th, err := NewThrottle(ThrottleConfig{K: 1 + 2*rng.Float64(), Window: window, Buckets: n,
				MinRequests: rng.IntN(3) * rng.IntN(20), Clock: clk})
			require.NoError(t, err)
			lastBad := clk.Now().Add(-time.Hour * 1000)
			calls := 0
			for phase := range 40 {
				healthy := rng.IntN(3) > 0
				acceptRate := rng.Float64()
				dense := rng.IntN(2) == 0 // many calls per clock step: the stride grows
				for range rng.IntN(400) {
					if dense {
						if rng.IntN(200) == 0 {
							clk.Advance(period / time.Duration(1+rng.IntN(300)))
						}
					} else {
						clk.Advance(time.Duration(rng.Int64N(int64(period))))
					}
					calls++
					clean := clk.Now().Sub(lastBad) > window+period
					if !th.Allow() {
						require.False(t, clean, "phase %d call %d: rejected with only accepted requests in the window", phase, calls)
						lastBad = clk.Now()
						continue
					}
					if healthy || rng.Float64() < acceptRate {
						th.Record(true)
					} else {
						th.Record(false)
						lastBad = clk.Now()
					}
				}
				silences := []time.Duration{window / 2, window - period, window, window + period/2, window + period, 3 * window, time.Hour,
					time.Duration(rng.Int64N(int64(4 * window)))}
				clk.Advance(silences[rng.IntN(len(silences))])
			}
		})
	}
}
