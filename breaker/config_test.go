package breaker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// hostileDuration draws a duration from the values that break arithmetic:
// the extremes, their neighbours and halves, powers of two, tiny values and
// plain random ones.
func hostileDuration(rng *rand.Rand) time.Duration {
	switch rng.IntN(12) {
	case 0:
		return 0
	case 1:
		return math.MaxInt64 - time.Duration(rng.IntN(3))
	case 2:
		return math.MinInt64 + time.Duration(rng.IntN(3))
	case 3:
		return -time.Duration(1 + rng.IntN(1000))
	case 4:
		return math.MaxInt64 / time.Duration(1+rng.IntN(5000))
	case 5:
		return time.Duration(1) << rng.IntN(63)
	case 6:
		return time.Duration(1 + rng.IntN(20))
	case 7:
		return time.Duration(rng.Int64())
	case 8:
		return time.Duration(1+rng.IntN(100)) * 365 * 24 * time.Hour
	default:
		return time.Duration(1+rng.IntN(120)) * time.Second / time.Duration(1+rng.IntN(10))
	}
}

// configFaults is the reference for which fields of cfg are impossible,
// computed from the documented defaults without the package's code.
func configFaults(cfg Config) []string {
	var bad []string
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"Interval", cfg.Interval}, {"BucketPeriod", cfg.BucketPeriod}, {"Timeout", cfg.Timeout}, {"MaxTimeout", cfg.MaxTimeout}, {"SlowCall", cfg.SlowCall}} {
		if f.d < 0 {
			bad = append(bad, f.name)
		}
	}
	if len(bad) > 0 {
		return bad
	}
	iv, bp := cfg.Interval, cfg.BucketPeriod
	if iv == 0 {
		iv = DefaultInterval
	}
	if bp == 0 {
		bp = time.Duration(math.Ceil(float64(iv) / DefaultBuckets))
		if bp <= 0 || float64(bp)*DefaultBuckets < float64(iv) { // float rounding near MaxInt64
			bp = iv/DefaultBuckets + 1
		}
	}
	if bp > iv {
		return []string{"BucketPeriod", "Interval"}
	}
	if (iv/bp)+min(iv%bp, 1) > MaxBuckets {
		return []string{"BucketPeriod", "Interval"}
	}
	to, mt := cfg.Timeout, cfg.MaxTimeout
	if to == 0 {
		to = DefaultTimeout
	}
	if mt == 0 {
		mt = max(DefaultMaxTimeout, to)
	}
	if mt < to {
		return []string{"MaxTimeout"}
	}
	return nil
}

// requireNamesField checks that err names one of the fields (as a word, so
// that "MaxTimeout" does not pass for "Timeout").
func requireNamesField(t *testing.T, err error, fields []string, what string) {
	t.Helper()
	for _, f := range fields {
		if regexp.MustCompile(`\b` + f + `\b`).MatchString(err.Error()) {
			return
		}
	}
	t.Fatalf("%s: error %q names none of %v", what, err, fields)
}

// TestHostileConfigGenerative feeds random hostile Configs (extreme,
// negative, overflowing durations; any MaxRequests) to New and NewGroup:
// neither ever panics; an impossible Config (per the reference above) is an
// error naming the field; a possible one gives a breaker that survives a
// random schedule with huge clock jumps, keeps its counts consistent and
// opens for a period within [0.9·Timeout, MaxTimeout].
func TestHostileConfigGenerative(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 1))
	for i := range 1500 {
		cfg := Config{
			Interval:     hostileDuration(rng),
			BucketPeriod: hostileDuration(rng),
			Timeout:      hostileDuration(rng),
			MaxTimeout:   hostileDuration(rng),
			SlowCall:     hostileDuration(rng),
			MaxRequests:  []uint32{0, 1, 2, math.MaxUint32, rng.Uint32()}[rng.IntN(5)],
		}
		if rng.IntN(3) == 0 { // make a valid window more likely
			cfg.BucketPeriod = 0
		}
		what := fmt.Sprintf("case %d %+v", i, cfg)
		want := configFaults(cfg)
		clk := newFakeClock()
		cfg.Clock = clk
		b, err := New[int](cfg)
		if len(want) > 0 {
			require.Error(t, err, what)
			requireNamesField(t, err, want, what)
			_, gerr := NewGroup[int](GroupConfig{Breaker: cfg})
			require.Error(t, gerr, what)
			requireNamesField(t, gerr, want, what)
			continue
		}
		require.NoError(t, err, what)
		exerciseBreaker(t, rng, b, clk, cfg, what)

		g, err := NewGroup[int](GroupConfig{Breaker: cfg, MaxKeys: 1 + rng.IntN(3)})
		require.NoError(t, err, what)
		for j := range 20 {
			key := fmt.Sprint(rng.IntN(5))
			_, _ = g.Execute(context.Background(), key, []func(context.Context) (int, error){ok, fail}[j%2])
			if rng.IntN(4) == 0 {
				clk.Advance(hostileDuration(rng))
			}
			_ = g.State(key)
		}
	}
}

// exerciseBreaker runs a random schedule on b and checks what holds for
// every valid Config.
func exerciseBreaker(t *testing.T, rng *rand.Rand, b *Breaker[int], clk *fakeClock, cfg Config, what string) {
	to, mt := cfg.Timeout, cfg.MaxTimeout
	if to == 0 {
		to = DefaultTimeout
	}
	if mt == 0 {
		mt = max(DefaultMaxTimeout, to)
	}
	ctx := context.Background()
	for step := range 40 {
		switch rng.IntN(8) {
		case 0, 1:
			_, _ = b.Execute(ctx, ok)
		case 2, 3:
			_, _ = b.Execute(ctx, fail)
		case 4:
			_, _ = b.Execute(ctx, func(context.Context) (int, error) {
				clk.Advance(hostileDuration(rng) & math.MaxInt64)
				return 0, nil
			})
		case 5:
			if b.State() != StateOpen {
				b.Trip()
				_, err := b.Execute(ctx, ok)
				var re *RejectedError
				require.True(t, errors.As(err, &re), "%s step %d: not rejected after Trip: %v", what, step, err)
				open := re.RetryAt.Sub(clk.Now())
				require.GreaterOrEqual(t, open, to-to/10, "%s step %d", what, step)
				require.LessOrEqual(t, open, mt, "%s step %d", what, step)
			}
		case 6:
			b.Reset()
			require.Equal(t, StateClosed, b.State(), what)
		default:
			d := hostileDuration(rng)
			if d < 0 && rng.IntN(2) == 0 {
				d = -d / 2 // a clock that runs backwards sometimes
			}
			clk.Advance(d)
		}
		c := b.Counts()
		st := b.State()
		require.True(t, st == StateClosed || st == StateOpen || st == StateHalfOpen, what)
		require.LessOrEqual(t, uint64(c.Successes)+uint64(c.Failures)+uint64(c.Excluded), uint64(c.Requests), "%s step %d: %+v", what, step, c)
		require.LessOrEqual(t, c.Slow, c.Successes+c.Failures, "%s step %d: %+v", what, step, c)
		require.False(t, c.ConsecutiveFailures > 0 && c.ConsecutiveSuccesses > 0, "%s step %d: %+v", what, step, c)
	}
}

// TestHostileGroupAndThrottleConfig: random hostile GroupConfig and
// ThrottleConfig values never panic; impossible ones are errors naming the
// field; possible ones work under random use with clock jumps both ways.
func TestHostileGroupAndThrottleConfig(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 2))
	floats := []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1), 1, 0.5, 1 + 1e-15, -1e-300,
		math.SmallestNonzeroFloat64, math.MaxFloat64, 1e308, 2}
	for i := range 1000 {
		gc := GroupConfig{
			MaxKeys:         []int{-1, 0, 1, 2, math.MaxInt, math.MinInt, rng.IntN(50)}[rng.IntN(7)],
			MaxOpenFraction: floats[rng.IntN(len(floats))],
			Breaker:         Config{Clock: newFakeClock(), Trip: ConsecutiveFailures(1)},
		}
		if rng.IntN(3) == 0 {
			gc.MaxOpenFraction = rng.Float64()
		}
		var want []string
		if gc.MaxKeys < 0 {
			want = append(want, "MaxKeys")
		}
		if f := gc.MaxOpenFraction; f != f || f < 0 || f > 1 {
			want = append(want, "MaxOpenFraction")
		}
		what := fmt.Sprintf("group case %d %+v", i, gc)
		g, err := NewGroup[int](gc)
		if len(want) > 0 {
			require.Error(t, err, what)
			requireNamesField(t, err, want, what)
		} else {
			require.NoError(t, err, what)
			for j := range 30 {
				_, _ = g.Execute(context.Background(), fmt.Sprint(rng.IntN(6)), []func(context.Context) (int, error){ok, fail}[j%2])
			}
			require.LessOrEqual(t, g.Len(), groupCapacity(max(gc.MaxKeys, 0)), what)
		}

		clk := newFakeClock()
		tc := ThrottleConfig{
			K:           floats[rng.IntN(len(floats))],
			Window:      hostileDuration(rng),
			Buckets:     []int{-1, 0, 1, 2, MaxBuckets, MaxBuckets + 1, math.MaxInt, math.MinInt, rng.IntN(300)}[rng.IntN(9)],
			MinRequests: []int{-1, 0, 1, math.MaxInt, math.MinInt, rng.IntN(50)}[rng.IntN(6)],
			Clock:       clk,
		}
		want = nil
		if k := tc.K; k != k || k < 0 || (k > 0 && k < 1) || math.IsInf(k, 0) {
			want = append(want, "K")
		}
		if tc.Window < 0 {
			want = append(want, "Window")
		}
		if tc.Buckets < 0 || tc.Buckets > MaxBuckets {
			want = append(want, "Buckets")
		}
		if tc.MinRequests < 0 {
			want = append(want, "MinRequests")
		}
		if len(want) == 0 {
			w, n := tc.Window, tc.Buckets
			if w == 0 {
				w = 2 * time.Minute
			}
			if n == 0 {
				n = 120
			}
			if time.Duration(n) > w {
				want = append(want, "Window", "Buckets")
			}
		}
		what = fmt.Sprintf("throttle case %d %+v", i, tc)
		th, err := NewThrottle(tc)
		if len(want) > 0 {
			require.Error(t, err, what)
			requireNamesField(t, err, want, what)
			continue
		}
		require.NoError(t, err, what)
		for range 50 {
			if th.Allow() {
				th.Record(rng.IntN(3) > 0)
			}
			if rng.IntN(5) == 0 {
				clk.Advance(hostileDuration(rng))
			}
			p := th.RejectProbability()
			require.True(t, p >= 0 && p < 1, "%s: probability %v", what, p)
		}
	}
}
