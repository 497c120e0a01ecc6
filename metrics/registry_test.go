package metrics

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRegisterSameReturnsSame(t *testing.T) {
	r := NewRegistry()
	assert.Same(t, r.Counter("a_total", "h"), r.Counter("a_total", "h"))
	assert.Same(t, r.Gauge("g", "h"), r.Gauge("g", "h"))
	assert.Same(t, r.Histogram("h_seconds", "h"), r.Histogram("h_seconds", "h"))
	v1, v2 := r.CounterVec("v_total", "h", "a", "b"), r.CounterVec("v_total", "h", "a", "b")
	assert.Same(t, v1.With("x", "y"), v2.With("x", "y"))
	assert.Same(t, r.Attr(7, "oss", 4), r.Attr(7, "oss", 4))
}

func TestRegisterConflictsPanic(t *testing.T) {
	cases := map[string]func(r *Registry){
		"other help":      func(r *Registry) { r.Counter("a_total", "h"); r.Counter("a_total", "other") },
		"other kind":      func(r *Registry) { r.Counter("a_total", "h"); r.Gauge("a_total", "h") },
		"other labels":    func(r *Registry) { r.CounterVec("a_total", "h", "x"); r.CounterVec("a_total", "h", "y") },
		"bad name":        func(r *Registry) { r.Counter("1abc", "h") },
		"empty name":      func(r *Registry) { r.Counter("", "h") },
		"bad label":       func(r *Registry) { r.CounterVec("a", "h", "a-b") },
		"reserved label":  func(r *Registry) { r.CounterVec("a", "h", "__x") },
		"le label":        func(r *Registry) { r.HistogramVec("a", "h", "le") },
		"dup label":       func(r *Registry) { r.CounterVec("a", "h", "x", "x") },
		"derived name":    func(r *Registry) { r.Histogram("lat", "h"); r.Counter("lat_count", "h") },
		"derived name 2":  func(r *Registry) { r.Counter("lat_sum", "h"); r.Histogram("lat", "h") },
		"wrong arity":     func(r *Registry) { r.CounterVec("a", "h", "x").With("1", "2") },
		"attr keys":       func(r *Registry) { r.Attr(1, "oss", 0) },
		"attr other keys": func(r *Registry) { r.Attr(1, "oss", 3); r.Attr(1, "oss", 4) },
		"attr vs counter": func(r *Registry) { r.Counter("oss", ""); r.Attr(1, "oss", 3) },
	}
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) {
			assert.Panics(t, func() { fn(NewRegistry()) })
		})
	}
}

func TestOptionPanicsNameOption(t *testing.T) {
	assert.PanicsWithValue(t, "metrics: WithMaxSeries: negative series count -1", func() { NewRegistry(WithMaxSeries(-1)) })
	assert.PanicsWithValue(t, "metrics: WithHistoryBudget: negative byte count -5", func() { NewRegistry(WithHistoryBudget(-5)) })
}

// TestCounterConcurrentExact: random goroutine counts and increments sum
// exactly, whether or not the counter went striped.
func TestCounterConcurrentExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 20; round++ {
		var c Counter
		g, m := 1+rng.IntN(8), 1+rng.IntN(3000)
		var wg sync.WaitGroup
		var want uint64
		for i := 0; i < g; i++ {
			n := uint64(1 + rng.IntN(5))
			want += n * uint64(m)
			wg.Go(func() {
				for j := 0; j < m; j++ {
					if n == 1 {
						c.Inc()
					} else {
						c.Add(n)
					}
				}
			})
		}
		wg.Wait()
		require.Equal(t, want, c.Value(), "round %d g=%d m=%d", round, g, m)
	}
}

// TestCardinalityBound streams random label values far past MaxSeries:
// the vector keeps exactly MaxSeries series plus the overflow one, every
// With past the cap is counted, and early series keep counting (never
// evicted).
func TestCardinalityBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, max := range []int{1, 7, 100, 1000} {
		r := NewRegistry(WithMaxSeries(max))
		v := r.CounterVec("req_total", "h", "user", "path")
		kept := map[[2]string]uint64{}
		var overflowCalls uint64
		var overflowSum uint64
		for i := 0; i < 20*max+50; i++ {
			k := [2]string{strconv.Itoa(rng.IntN(5 * max)), randLabel(rng)}
			if rng.IntN(4) == 0 && len(kept) > 0 {
				for kk := range kept { // reuse an existing one
					k = kk
					break
				}
			}
			c := v.With(k[0], k[1])
			c.Add(2)
			if _, ok := kept[k]; ok || len(kept) < max {
				kept[k] += 2
			} else {
				overflowCalls++
				overflowSum += 2
			}
		}
		require.Len(t, kept, max)
		for k, n := range kept {
			require.Equal(t, n, v.With(k[0], k[1]).Value(), "series %q", k)
		}
		assert.Equal(t, overflowSum, v.With(OverflowValue, OverflowValue).Value())
		assert.Equal(t, overflowCalls, r.CounterVec(OverflowMetric, r.ovf.help, "metric", "reason").With("req_total", "series").Value())
		assert.Len(t, v.f.all(), max+1)
	}
}

func randLabel(rng *rand.Rand) string {
	alphabet := []string{"a", "b", "\"", "\\", "\n", "é", "世", "<b>", "\xff", " ", "{", "}", "=", ","}
	n := rng.IntN(6)
	var sb strings.Builder
	for i := 0; i < n; i++ {
		sb.WriteString(alphabet[rng.IntN(len(alphabet))])
	}
	return sb.String()
}

// TestInvalidUTF8Aliases: values that clean up to the same text share one
// exposed series, so the exposition never has duplicates.
func TestInvalidUTF8Aliases(t *testing.T) {
	r := NewRegistry()
	v := r.CounterVec("x_total", "h", "v")
	v.With("a\xff").Inc()
	v.With("a\xfe").Inc()
	v.With("a\uFFFD").Inc()
	assert.Len(t, v.f.all(), 1)
	assert.Equal(t, uint64(3), v.With("a\xff").Value())
}

func TestLongLabelValuesTruncated(t *testing.T) {
	r := NewRegistry()
	v := r.CounterVec("x_total", "h", "v")
	long := strings.Repeat("é", MaxLabelValueLen) // 2 bytes each
	v.With(long).Inc()
	v.With(long + "tail").Inc()
	require.Len(t, v.f.all(), 1)
	assert.LessOrEqual(t, len(v.f.all()[0].values[0]), MaxLabelValueLen)
	assert.Equal(t, uint64(2), v.With(long).Value())
}

func TestAttr(t *testing.T) {
	r := NewRegistry()
	a := r.Attr(29878, "oss_attr", 4)
	a.Add(0, 5)
	a.Inc(3)
	a.Add(4, 2)  // out of range
	a.Add(-1, 1) // out of range
	assert.Equal(t, uint64(5), a.Value(0))
	assert.Equal(t, uint64(1), a.Value(3))
	assert.Equal(t, uint64(3), a.Value(99))
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	r.WriteText(w)
	require.NoError(t, w.Flush())
	out := buf.String()
	assert.Contains(t, out, `oss_attr{id="29878",key="0"} 5`)
	assert.Contains(t, out, `oss_attr{id="29878",key="__overflow__"} 3`)
	assert.Contains(t, out, `bulwark_metrics_overflow_total{metric="oss_attr",reason="key"} 2`)
}

func TestExpositionText(t *testing.T) {
	r := NewRegistry()
	r.Counter("c_total", "a \\ help\nline").Add(3)
	r.GaugeVec("g", "", "v").With("q\"b\\n\n").Set(1.5)
	h := r.Histogram("h_seconds", "lat")
	h.Observe(0)
	h.Observe(1)
	h.Observe(1e30)
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	r.WriteText(w)
	require.NoError(t, w.Flush())
	out := buf.String()
	assert.Contains(t, out, "# HELP c_total a \\\\ help\\nline\n# TYPE c_total counter\nc_total 3\n")
	assert.Contains(t, out, `g{v="q\"b\\n\n"} 1.5`)
	assert.Contains(t, out, "h_seconds_bucket{le=\"0\"} 1\nh_seconds_bucket{le=\"1\"} 2\nh_seconds_bucket{le=\"+Inf\"} 3\nh_seconds_sum 1e+30\nh_seconds_count 3\n")
}

// TestConcurrentWithBounded: goroutines create and hit random label
// combinations at once (table growth racing lookups); nothing is lost (the
// series, overflow included, sum to every Add) and the cap holds.
func TestConcurrentWithBounded(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		rng := rand.New(rand.NewPCG(seed, 42))
		max := 1 + rng.IntN(300)
		r := NewRegistry(WithMaxSeries(max))
		v := r.CounterVec("x_total", "", "a", "b")
		g := 2 + rng.IntN(6)
		var wg sync.WaitGroup
		var want uint64
		var mu sync.Mutex
		for i := 0; i < g; i++ {
			s := rng.Uint64()
			wg.Go(func() {
				rr := rand.New(rand.NewPCG(s, 1))
				var local uint64
				for j := 0; j < 2000; j++ {
					n := uint64(1 + rr.IntN(3))
					v.With(strconv.Itoa(rr.IntN(2*max)), randLabel(rr)).Add(n)
					local += n
				}
				mu.Lock()
				want += local
				mu.Unlock()
			})
		}
		wg.Wait()
		var got uint64
		for _, s := range v.f.all() {
			got += s.c.Value()
		}
		require.Equal(t, want, got, "seed %d", seed)
		require.LessOrEqual(t, len(v.f.all()), max+1)
		require.LessOrEqual(t, v.f.count.Load(), int64(max))
	}
}

// TestCounterWrapsModulo2to64: counters count modulo 2^64, as documented:
// random starts just below 2^64 and random adds across the wrap; Value is
// the sum modulo 2^64, and the per-second history (deltas taken modulo
// 2^64) still sums exactly to what was added after the first point.
func TestCounterWrapsModulo2to64(t *testing.T) {
	rng := rand.New(rand.NewPCG(103, 104))
	for round := 0; round < 30; round++ {
		r := NewRegistry(WithClock(fixedClock{t0}))
		c := r.Counter("c_total", "")
		start := ^uint64(0) - uint64(rng.IntN(5000))
		c.Add(start)
		now := t0.Add(time.Second)
		r.Tick(now)
		var added uint64
		for i := 0; i < 20; i++ {
			n := uint64(rng.IntN(600))
			if rng.IntN(2) == 0 {
				c.Add(n)
			} else {
				for range n {
					c.Inc()
				}
			}
			added += n
			now = now.Add(time.Second)
			r.Tick(now)
		}
		require.Equal(t, start+added, c.Value(), "round %d", round)
		ps, err := r.History("c_total", time.Second)
		require.NoError(t, err)
		require.Equal(t, float64(added), sumValues(ps[1:]), "round %d", round)
	}
}
