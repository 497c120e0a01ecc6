package metrics

import (
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

func sumValues(ps []Point) float64 {
	s := 0.0
	for _, p := range ps {
		s += p.Value
	}
	return s
}

// TestHistoryExactRacingTick: random goroutines do random Inc/Add/With/
// Observe/Attr.Add while another goroutine ticks through random (sometimes
// skipped) seconds; after a final Tick, every series' per-second and
// per-minute history sums exactly to its total.
func TestHistoryExactRacingTick(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			r := NewRegistry(WithClock(fixedClock{t0}), WithMaxSeries(20))
			c := r.Counter("c_total", "")
			v := r.CounterVec("v_total", "", "k")
			h := r.HistogramVec("h_seconds", "", "k")
			a := r.Attr(5, "oss", 4)
			g, m := 2+rng.IntN(6), 500+rng.IntN(2000)
			var wg sync.WaitGroup
			done := make(chan struct{})
			var tickWG sync.WaitGroup
			tickWG.Add(1)
			var last time.Time
			go func() { // ticker: up to 200 s of random steps
				defer tickWG.Done()
				trng := rand.New(rand.NewPCG(seed, 7))
				now := t0
				for {
					select {
					case <-done:
						last = now
						return
					default:
					}
					if now.Sub(t0) < 200*time.Second {
						now = now.Add(time.Duration(trng.IntN(2500)) * time.Millisecond)
					}
					r.Tick(now)
				}
			}()
			for i := 0; i < g; i++ {
				seedI := rng.Uint64()
				wg.Go(func() {
					rr := rand.New(rand.NewPCG(seedI, 1))
					for j := 0; j < m; j++ {
						switch rr.IntN(5) {
						case 0:
							c.Inc()
						case 1:
							c.Add(uint64(rr.IntN(10)))
						case 2:
							v.With(strconv.Itoa(rr.IntN(30))).Add(uint64(1 + rr.IntN(3)))
						case 3:
							h.With(strconv.Itoa(rr.IntN(3))).Observe(rr.ExpFloat64())
						case 4:
							a.Add(rr.IntN(6)-1, uint64(rr.IntN(4)))
						}
					}
				})
			}
			wg.Wait()
			close(done)
			tickWG.Wait()
			// close the current minute and the one after it
			end := last.Truncate(time.Minute).Add(2 * time.Minute)
			r.Tick(end)
			checked := 0
			for _, f := range r.families() {
				for _, s := range f.all() {
					var total float64
					switch f.kind {
					case kindCounter:
						total = float64(s.c.Value())
					case kindHistogram:
						total = float64(s.h.Count())
					default:
						continue
					}
					sec, err := r.History(f.name, time.Second, s.values...)
					if total == 0 {
						assert.True(t, errors.Is(err, ErrNoHistory), "%s%q: %v", f.name, s.values, err)
						continue
					}
					require.NoError(t, err, "%s%q", f.name, s.values)
					mins, err := r.History(f.name, time.Minute, s.values...)
					require.NoError(t, err)
					if end.Sub(t0) < 300*time.Second {
						assert.Equal(t, total, sumValues(sec), "%s%q per second", f.name, s.values)
					}
					assert.Equal(t, total, sumValues(mins), "%s%q per minute", f.name, s.values)
					checked++
				}
			}
			require.Greater(t, checked, 5)
		})
	}
}

// TestHistoryBudget: random budgets and series counts; the reserved bytes
// never exceed the budget, every series past it is counted, and the
// allocation is lazy (a series that never moves gets none).
func TestHistoryBudget(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for round := 0; round < 30; round++ {
		budget := 1 + rng.IntN(40*int(historyCosts().scalar))
		r := NewRegistry(WithHistoryBudget(budget), WithClock(fixedClock{t0}))
		cv := r.CounterVec("c_total", "", "k")
		hv := r.HistogramVec("h_seconds", "", "k")
		idle := r.CounterVec("idle_total", "", "k")
		nc, nh := rng.IntN(50), rng.IntN(5)
		for i := 0; i < nc; i++ {
			cv.With(strconv.Itoa(i)).Inc()
			idle.With(strconv.Itoa(i))
		}
		for i := 0; i < nh; i++ {
			hv.With(strconv.Itoa(i)).Observe(1)
		}
		r.Tick(t0.Add(time.Second))
		require.LessOrEqual(t, r.HistoryBytes(), int64(budget))
		with, without := 0, 0
		for _, f := range []*family{cv.f, hv.f} {
			for _, s := range f.all() {
				if s.ts.hist != nil {
					with++
				} else {
					without++
				}
			}
		}
		for _, s := range idle.f.all() {
			assert.Nil(t, s.ts.hist, "idle series got history")
		}
		require.Equal(t, nc+nh, with+without)
		ovf := r.CounterVec(OverflowMetric, r.ovf.help, "metric", "reason")
		dropped := ovf.With("c_total", "history").Value() + ovf.With("h_seconds", "history").Value()
		assert.Equal(t, uint64(without), dropped)
		// nothing more was reserved than the series that got history need
		assert.LessOrEqual(t, r.HistoryBytes(), int64(with)*historyCosts().hist)
	}
}

// TestHistoryRingBounds: ticks with random gaps, including gaps longer than
// a ring; the rings never hold more than 300 seconds and 1440 minutes,
// points are consecutive, and skipped intervals are zero for counters and
// carry the value for gauges.
func TestHistoryRingBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	r := NewRegistry(WithClock(fixedClock{t0}))
	c := r.Counter("c_total", "")
	g := r.Gauge("g", "")
	now := t0
	var want float64
	for i := 0; i < 3000; i++ {
		gap := time.Duration(1+rng.IntN(3)) * time.Second
		if rng.IntN(100) == 0 {
			gap = time.Duration(rng.IntN(3000)) * time.Second
		}
		now = now.Add(gap)
		n := uint64(rng.IntN(5))
		c.Add(n)
		want += float64(n)
		g.Set(float64(i))
		r.Tick(now)
		if i%500 != 0 {
			continue
		}
		for _, name := range []string{"c_total", "g"} {
			for _, step := range []time.Duration{time.Second, time.Minute} {
				ps, err := r.History(name, step)
				if err != nil {
					require.ErrorIs(t, err, ErrNoHistory)
					continue
				}
				if len(ps) == 0 {
					continue
				}
				limit := map[time.Duration]int{time.Second: secSlots, time.Minute: minSlots}[step]
				require.LessOrEqual(t, len(ps), limit)
				for j := 1; j < len(ps); j++ {
					require.Equal(t, step, ps[j].Time.Sub(ps[j-1].Time))
				}
				require.True(t, ps[len(ps)-1].Time.Before(now))
			}
		}
	}
	ps, err := r.History("g", time.Second)
	require.NoError(t, err)
	assert.Equal(t, 2999.0, ps[len(ps)-1].Value)
}

func TestHistoryErrors(t *testing.T) {
	r := NewRegistry(WithClock(fixedClock{t0}))
	r.CounterVec("v_total", "", "a")
	_, err := r.History("nope", time.Second)
	assert.ErrorIs(t, err, ErrUnknownMetric)
	_, err = r.History("v_total", time.Second, "x")
	assert.ErrorIs(t, err, ErrUnknownMetric)
	_, err = r.History("v_total", time.Second)
	assert.ErrorIs(t, err, ErrUnknownMetric)
	_, err = r.History("v_total", time.Hour, "x")
	assert.Error(t, err)
	r.CounterVec("v_total", "", "a").With("x")
	_, err = r.History("v_total", time.Second, "x")
	assert.ErrorIs(t, err, ErrNoHistory)
}

// TestHistogramHistoryQuantiles: per-second quantiles match the
// observations of that second within 4.4 %.
func TestHistogramHistoryQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	r := NewRegistry(WithClock(fixedClock{t0}))
	h := r.Histogram("lat_seconds", "")
	now := t0
	var wants [][3]float64
	for i := 0; i < 50; i++ {
		n := 1 + rng.IntN(200)
		vals := make([]float64, n)
		for j := range vals {
			vals[j] = math.Exp2(rng.NormFloat64() * 4)
			h.Observe(vals[j])
		}
		sortFloats(vals)
		var w [3]float64
		for k, q := range []float64{0.5, 0.9, 0.99} {
			w[k] = vals[max(0, int(math.Ceil(q*float64(n)))-1)]
		}
		wants = append(wants, w)
		now = now.Add(time.Second)
		r.Tick(now)
	}
	ps, err := r.History("lat_seconds", time.Second)
	require.NoError(t, err)
	require.Len(t, ps, 50)
	for i, p := range ps {
		for k, got := range []float64{p.P50, p.P90, p.P99} {
			assert.LessOrEqual(t, relErr(got, wants[i][k]), 0.044, "second %d q%d", i, k)
		}
	}
}

func sortFloats(v []float64) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}
