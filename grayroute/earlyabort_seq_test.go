package grayroute

import (
	"context"
	"flag"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var earlyPlans = flag.Int("grayroute.earlyplans", 0, "healthy plans simulated by TestEarlyAbortHealthyUnderRepeatedLooks (0: the default size)")

// approxBinomial draws a binomial(n, p) count: exactly for small n, by the
// normal approximation for large ones (only the control uses those).
func approxBinomial(rng *rand.Rand, n int64, p float64) int64 {
	if n <= 2000 {
		return binomial(rng, n, p)
	}
	x := math.Round(float64(n)*p + math.Sqrt(float64(n)*p*(1-p))*rng.NormFloat64())
	return int64(min(max(x, 0), float64(n)))
}

// TestEarlyAbortHealthyUnderRepeatedLooks measures the early abort's
// false rollback rate where it used to fail: a canary exactly as healthy
// as its control (random true rate 0..50 %, random allowed increase, a
// control of 1,000..200,000 requests sampled at the same rate), or in a
// quarter of the plans worse by exactly the allowed increase (the worst
// case the gate still passes), looked at
// after every one of its first 200 requests and then at random gaps up to
// 5,000 requests: a plan rolled back at any look counts once. The bound is
// 2e-4 per step (earlyAbortAlpha on each side); the test allows 5e-4 of
// the plans and logs the measured rate.
func TestEarlyAbortHealthyUnderRepeatedLooks(t *testing.T) {
	plans := scaled(20000, 10)
	if *earlyPlans > 0 {
		plans = *earlyPlans
	}
	rng := rand.New(rand.NewPCG(18, 2))
	aborted, looks, atLimit, abortedAtLimit := 0, 0, 0, 0
	for range plans {
		p := rng.Float64() * 0.5
		if rng.IntN(2) == 0 {
			p = []float64{0.001, 0.005, 0.01, 0.02}[rng.IntN(4)]
		}
		inc := []float64{0.001, 0.01, 0.05}[rng.IntN(3)]
		kn := 1000 + rng.Int64N(200000)
		hk := klUpper(approxBinomial(rng, kn, p), kn)
		limit := rng.IntN(4) == 0
		pc := p
		if limit {
			pc, atLimit = p+inc, atLimit+1
		}
		var n, x int64
		for n < 5000 {
			step := int64(1)
			if n >= 200 {
				step = 1 + rng.Int64N(200)
			}
			x += binomial(rng, step, pc)
			n += step
			looks++
			if rejects(x, n, hk+inc) {
				aborted++
				abortedAtLimit += boolInt(limit)
				break
			}
		}
	}
	rate := float64(aborted) / float64(plans)
	t.Logf("healthy canaries rolled back early: %d of %d plans (%.2g; %d of the %d at the allowed increase), %d looks", aborted, plans, rate, abortedAtLimit, atLimit, looks)
	require.LessOrEqual(t, rate, 5e-4)
}

// TestEarlyAbortHealthyPlanner is the reviewer's ramp through a real
// Planner: canary and control both at 1 %, a Tick after every canary
// request up to 200, min_samples out of reach so only the early abort can
// act. No healthy plan may roll back.
func TestEarlyAbortHealthyPlanner(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 3))
	src := &scriptedHealth{}
	for trial := range scaled(400, 8) {
		cfg := twoStepConfig(0, 0, false)
		cfg.Releases["r"].Plan.Steps[0].MinSamples = math.MaxInt64
		r, err := New(cfg)
		require.NoError(t, err)
		p, err := NewPlanner(r, src, PlannerConfig{Clock: &fakeClock{t: time.Unix(1e9, 0)}})
		require.NoError(t, err)
		ctrl := Health{Requests: 100000, Errors: approxBinomial(rng, 100000, 0.01)}
		var c Health
		for range 200 {
			c.Requests++
			c.Errors += binomial(rng, 1, 0.01)
			src.h = map[string]Health{"canary": c, "stable": ctrl}
			require.NoError(t, p.Tick(context.Background()))
			require.False(t, p.Status()["r"].RolledBack, "trial %d: healthy canary %+v rolled back", trial, c)
		}
	}
}

// TestEarlyAbortSpeed measures how many requests a catastrophically bad
// canary needs before the early abort rolls it back, looked at after
// every request, against a control of 100,000 requests at 1 % errors and
// the default increase: at 100 % errors 4 requests, at 50 % errors a
// dozen or so (the test logs the distribution over 2,000 seeds and bounds
// its worst case). Then the worst case over random controls (0..30 %,
// 1,000..200,000 requests) and increases: a canary failing every request
// aborts within 20.
func TestEarlyAbortSpeed(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 4))
	g := Gate{MaxErrorRateIncrease: DefaultMaxErrorRateIncrease}
	ctrl := Health{Requests: 100000, Errors: 1000}
	until := func(rate float64) int64 {
		var c Health
		for c.Requests < 100000 {
			c.Requests++
			c.Errors += binomial(rng, 1, rate)
			if earlyAbort(g, c, ctrl) != "" {
				return c.Requests
			}
		}
		return -1
	}
	require.Equal(t, int64(4), until(1))
	var ns []int64
	for range scaled(2000, 4) {
		ns = append(ns, until(0.5))
	}
	slices.Sort(ns)
	require.Positive(t, ns[0])
	t.Logf("50%% errors: rolled back after median %d, p99 %d, max %d requests", ns[len(ns)/2], ns[len(ns)*99/100], ns[len(ns)-1])
	require.LessOrEqual(t, ns[len(ns)/2], int64(20))
	require.LessOrEqual(t, ns[len(ns)-1], int64(80))
	worst := int64(0)
	for range scaled(2000, 4) {
		p := rng.Float64() * 0.3
		kn := 1000 + rng.Int64N(200000)
		k := Health{Requests: kn, Errors: approxBinomial(rng, kn, p)}
		gg := Gate{MaxErrorRateIncrease: []float64{0.001, 0.01, 0.05}[rng.IntN(3)]}
		var c Health
		for c.Requests < 100 {
			c.Requests++
			c.Errors++
			if earlyAbort(gg, c, k) != "" {
				break
			}
		}
		worst = max(worst, c.Requests)
	}
	t.Logf("100%% errors, random controls: rolled back within %d requests", worst)
	require.LessOrEqual(t, worst, int64(20))
}
