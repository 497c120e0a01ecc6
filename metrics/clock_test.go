package metrics

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// randClock returns a random time: the zero time, the ends of int64, huge
// and tiny Unix seconds, the ends of the registry's domain, or a small step
// (forward or back) from prev.
func randClock(rng *rand.Rand, prev time.Time) time.Time {
	switch rng.IntN(10) {
	case 0:
		return time.Time{}
	case 1:
		return time.Unix(rng.Int64(), rng.Int64N(1e9))
	case 2:
		return time.Unix(-rng.Int64(), rng.Int64N(1e9))
	case 3:
		return time.Unix(math.MaxInt64-rng.Int64N(1000), 0)
	case 4:
		return time.Unix(math.MinInt64+rng.Int64N(1000), 0)
	case 5:
		return time.Unix([]int64{1 << 62, -1 << 62, 1 << 40, -1 << 40}[rng.IntN(4)]+rng.Int64N(100), 0)
	case 6:
		return time.Unix([]int64{maxUnix, minUnix}[rng.IntN(2)]+rng.Int64N(200)-100, 0)
	case 7:
		return time.Date(10000+rng.IntN(1e6), 1, 1, 0, 0, 0, 0, time.UTC)
	default:
		return prev.Add(time.Duration(rng.Int64N(100_000)-5_000) * time.Millisecond)
	}
}

type seqClock struct {
	rng  *rand.Rand
	prev time.Time
}

func (c *seqClock) Now() time.Time { c.prev = randClock(c.rng, c.prev); return c.prev }

type discardSink struct{}

func (discardSink) Export(context.Context, Interval) error { return nil }

// TestAnyClockNoPanic: random clocks (zero time, ends of int64, far past and
// future, jumps back and forth) drive a registry with every kind of metric
// and rule; Tick, History, Alerts, the exposition and the snapshot never
// panic, histories stay within their rings with consecutive times, and the
// snapshot stays valid JSON. Before times were clamped, a jump from
// -2^62 s to 2^62 s overflowed the ring's length and History panicked in
// makeslice.
func TestAnyClockNoPanic(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		rng := rand.New(rand.NewPCG(seed, 51))
		clk := &seqClock{rng: rng, prev: t0}
		r := NewRegistry(WithClock(clk), WithMaxSeries(4))
		c := r.Counter("c_total", "")
		v := r.CounterVec("v_total", "", "code")
		g := r.Gauge("g", "")
		h := r.Histogram("h_seconds", "")
		a := r.Attr(3, "oss", 2)
		r.AddSink(discardSink{})
		for _, rule := range []Rule{
			{Name: "rate", Metric: "c_total", Kind: Threshold, Above: true, Threshold: 1, Window: time.Duration(1+rng.IntN(3600)) * time.Second, For: 3 * time.Second},
			{Name: "gauge", Metric: "g", Kind: Threshold, Above: true, Threshold: 1, KeepFiringFor: time.Minute},
			{Name: "ratio", Metric: "v_total", Labels: []string{"500"}, Kind: Ratio, Denominator: "v_total", Above: true, Threshold: 0.1},
			{Name: "p99", Metric: "h_seconds", Kind: Percentile, Quantile: 0.99, Above: true, Threshold: 0.5, Window: time.Hour},
			{Name: "anom", Metric: "c_total", Kind: Anomaly, Above: true, Threshold: 2},
			{Name: "anomg", Metric: "g", Kind: Anomaly, Above: false, Threshold: 2},
		} {
			require.NoError(t, r.AddRule(rule))
		}
		for i := 0; i < 50; i++ {
			c.Add(uint64(rng.IntN(10)))
			v.With([]string{"200", "500"}[rng.IntN(2)]).Inc()
			g.Set(rng.NormFloat64())
			h.Observe(rng.ExpFloat64())
			a.Add(rng.IntN(4), 1)
			if rng.IntN(3) == 0 {
				r.Tick(clk.Now())
			} else {
				r.Tick(randClock(rng, clk.prev))
			}
			for _, f := range r.families() {
				for _, s := range f.all() {
					for _, step := range []time.Duration{time.Second, time.Minute} {
						ps, err := r.History(f.name, step, s.values...)
						if err != nil {
							require.ErrorIs(t, err, ErrNoHistory)
							continue
						}
						require.LessOrEqual(t, len(ps), map[time.Duration]int{time.Second: secSlots, time.Minute: minSlots}[step])
						for k := 1; k < len(ps); k++ {
							if d := ps[k].Time.Sub(ps[k-1].Time); d != step {
								t.Fatalf("seed %d tick %d %s: points %v apart, want %v", seed, i, f.name, d, step)
							}
						}
					}
				}
			}
			for _, al := range r.Alerts() {
				assert.False(t, al.Since.IsZero() && al.State != Inactive)
			}
			if i%5 != 4 {
				continue
			}
			rec := httptest.NewRecorder()
			r.SnapshotHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			require.Equal(t, 200, rec.Code, rec.Body.String())
			require.True(t, json.Valid(rec.Body.Bytes()), "seed %d tick %d", seed, i)
			w := bufio.NewWriter(io.Discard)
			r.WriteText(w)
		}
	}
}

// TestTypedNilClockNamesOption: a nil *T passed as the Clock panics in
// NewRegistry with a message naming WithClock, not a bare nil dereference.
func TestTypedNilClockNamesOption(t *testing.T) {
	var c *ptrClock
	defer func() {
		v := recover()
		require.NotNil(t, v)
		assert.Contains(t, v, "metrics: WithClock:")
	}()
	NewRegistry(WithClock(c))
}

type ptrClock struct{ t time.Time }

func (c *ptrClock) Now() time.Time { return c.t }
