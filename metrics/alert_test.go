package metrics

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// modelState is an independent statement of Prometheus's for and
// keep_firing_for: given whether the condition held at each evaluation.
type modelState struct {
	state              AlertState
	since              time.Time
	activeAt, keepFrom time.Time
	fires, resolves    int
	forD, keep         time.Duration
}

func (m *modelState) eval(now time.Time, active bool) {
	if active {
		m.keepFrom = time.Time{}
		if m.state == Inactive {
			m.activeAt = now
			m.state, m.since = Pending, now
		}
		if m.state == Pending && now.Sub(m.activeAt) >= m.forD {
			m.state, m.since = Firing, now
			m.fires++
		}
		return
	}
	switch m.state {
	case Pending:
		m.state, m.since = Inactive, now
	case Firing:
		if m.keep > 0 {
			if m.keepFrom.IsZero() {
				m.keepFrom = now
			}
			if now.Sub(m.keepFrom) < m.keep {
				return
			}
		}
		m.state, m.since, m.keepFrom = Inactive, now, time.Time{}
		m.resolves++
	}
}

// obs is what the test did in one second.
type obs struct {
	t          int64 // interval end (tick time), Unix seconds
	num, den   float64
	gauge      float64
	histValues []float64
}

// modelValue computes a rule's value at sample index i from the raw
// per-tick record, by brute force.
func modelValue(kind RuleKind, gaugeMetric bool, q float64, window int64, samples []obs, i int) (v, n float64, ok bool) {
	T := samples[i].t
	if gaugeMetric {
		sum, cnt := 0.0, 0.0
		for j := 0; j <= i; j++ {
			if samples[j].t > T-window {
				sum += samples[j].gauge
				cnt++
			}
		}
		return sum / cnt, cnt, cnt > 0
	}
	base := 0
	for j := 0; j < i; j++ {
		if samples[j].t <= T-window {
			base = j
		}
	}
	if base == i {
		return math.NaN(), 0, false
	}
	var num, den float64
	var vals []float64
	for j := base + 1; j <= i; j++ {
		num += samples[j].num
		den += samples[j].den
		vals = append(vals, samples[j].histValues...)
	}
	switch kind {
	case Ratio:
		if den <= 0 {
			return math.NaN(), 0, false
		}
		return num / den, den, true
	case Percentile:
		if len(vals) == 0 {
			return math.NaN(), 0, false
		}
		slices.Sort(vals)
		r := max(1, int(math.Ceil(q*float64(len(vals)))))
		return vals[min(r, len(vals))-1], float64(len(vals)), true
	}
	return num / float64(T-samples[base].t), num, true
}

// TestRulesAgainstModel: random rules of every non-anomaly kind on random
// series, ticked every second (sometimes skipping), compared with the model
// at every evaluation: state, since, value and callback counts.
func TestRulesAgainstModel(t *testing.T) {
	totalFires, totalResolves := 0, 0
	t.Cleanup(func() {
		assert.Positive(t, totalFires, "no rule ever fired")
		assert.Positive(t, totalResolves, "no rule ever resolved")
	})
	for seed := uint64(1); seed <= 40; seed++ {
		rng := rand.New(rand.NewPCG(seed, 2024))
		r := NewRegistry(WithClock(fixedClock{t0}))
		errs := r.CounterVec("errors_total", "", "code")
		reqs := r.Counter("requests_total", "")
		g := r.Gauge("queue", "")
		h := r.Histogram("lat_seconds", "")
		kind := []RuleKind{Threshold, Ratio, Percentile}[rng.IntN(3)]
		gaugeMetric := kind == Threshold && rng.IntN(2) == 0
		win := time.Duration(1+rng.IntN(90)) * time.Second
		rule := Rule{
			Name: "r", Kind: kind, Window: win, Above: rng.IntN(2) == 0,
			For: time.Duration(rng.IntN(8)) * time.Second, KeepFiringFor: time.Duration(rng.IntN(8)) * time.Second,
			MinCount: float64(rng.IntN(4)),
		}
		var fires, resolves int
		rule.OnFire = func(a Alert) {
			fires++
			assert.Equal(t, Firing, a.State)
			_ = r.Alerts() // callbacks may call back in
		}
		rule.OnResolve = func(a Alert) { resolves++; assert.Equal(t, Inactive, a.State) }
		switch {
		case kind == Ratio:
			rule.Metric, rule.Denominator, rule.Labels, rule.Threshold = "errors_total", "requests_total", []string{"500"}, rng.Float64()*0.6
		case kind == Percentile:
			rule.Metric, rule.Quantile = "lat_seconds", []float64{0.5, 0.9, 0.99, 1}[rng.IntN(4)]
			rule.Threshold = bucketEstimate(-minIndex + rng.IntN(12))
		case gaugeMetric:
			rule.Metric, rule.Threshold = "queue", float64(rng.IntN(10))
		default:
			rule.Metric, rule.Labels, rule.Threshold = "errors_total", []string{"*"}, rng.Float64()*4
		}
		require.NoError(t, r.AddRule(rule))
		m := modelState{forD: rule.For, keep: rule.KeepFiringFor, since: t0}
		var samples []obs
		now := t0
		step := max(int64(1), int64(win/time.Second)/60)
		lastSample := int64(-1 << 40)
		// regime switches make the condition flip now and then
		hot := false
		for i := 0; i < 400; i++ {
			if rng.IntN(25) == 0 {
				hot = !hot
			}
			var o obs
			rate := 1
			if hot {
				rate = 4
			}
			n5, n2, nr := rng.IntN(rate+1), rng.IntN(3), 0
			errs.With("500").Add(uint64(n5))
			errs.With("404").Add(uint64(n2))
			nr = n5 + n2 + rng.IntN(4)
			reqs.Add(uint64(nr))
			o.den = float64(nr)
			if kind == Ratio {
				o.num = float64(n5)
			} else {
				o.num = float64(n5 + n2)
			}
			o.gauge = float64(rng.IntN(6 * rate))
			g.Set(o.gauge)
			for j := rng.IntN(3 * rate); j > 0; j-- {
				v := bucketEstimate(-minIndex + rng.IntN(6*rate)) // exact bucket estimates
				h.Observe(v)
				o.histValues = append(o.histValues, v)
			}
			if kind == Percentile {
				o.num = float64(len(o.histValues))
			}
			now = now.Add(time.Duration(1+rng.IntN(2)) * time.Second)
			o.t = now.Unix()
			r.Tick(now)
			if o.t-lastSample < step {
				// not a sample: carry the increments into the next one
				pending = append(pending, o)
				continue
			}
			o = merge(pending, o)
			pending = pending[:0]
			lastSample = o.t
			samples = append(samples, o)
			v, n, ok := modelValue(kind, gaugeMetric, rule.Quantile, int64(win/time.Second), samples, len(samples)-1)
			cond := false
			if ok {
				if rule.Above {
					cond = v > rule.Threshold
				} else {
					cond = v < rule.Threshold
				}
			}
			m.eval(now, ok && cond && n >= rule.MinCount)
			a := r.Alerts()[0]
			require.Equal(t, m.state, a.State, "seed %d tick %d rule %+v value %v/%v", seed, i, rule, a.Value, v)
			require.Equal(t, m.since, a.Since, "seed %d tick %d", seed, i)
			if ok {
				require.InDelta(t, v, a.Value, 1e-9*math.Max(1, math.Abs(v)), "seed %d tick %d", seed, i)
			} else {
				require.True(t, math.IsNaN(a.Value))
			}
		}
		totalFires += fires
		totalResolves += resolves
		assert.Equal(t, m.fires, fires, "seed %d", seed)
		assert.Equal(t, m.resolves, resolves, "seed %d", seed)
	}
}

var pending []obs

func merge(ps []obs, o obs) obs {
	for _, p := range ps {
		o.num += p.num
		o.den += p.den
		o.histValues = append(o.histValues, p.histValues...)
	}
	return o
}

// TestAnomalyAgainstModel: per-minute ticks over 26 hours of a daily
// pattern with random spikes; yesterday's minute is the baseline after a
// day, an EWMA before.
func TestAnomalyAgainstModel(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		rng := rand.New(rand.NewPCG(seed, 77))
		r := NewRegistry(WithClock(fixedClock{t0}))
		c := r.Counter("req_total", "")
		var fires int
		rule := Rule{Name: "anom", Metric: "req_total", Kind: Anomaly, Above: true, Threshold: 3, MinCount: 10, For: time.Minute,
			OnFire: func(Alert) { fires++ }}
		require.NoError(t, r.AddRule(rule))
		m := modelState{forD: rule.For, since: t0}
		day := map[int64]float64{}
		ewma, ewmaN := 0.0, 0
		spike := 0
		now := t0
		for i := 0; i < 26*60; i++ {
			base := 100 + 50*math.Sin(float64(i%1440)/1440*2*math.Pi)
			n := base * (0.8 + 0.4*rng.Float64())
			if spike == 0 && rng.IntN(150) == 0 {
				spike = 1 + rng.IntN(4)
			}
			if spike > 0 {
				n *= 10
				spike--
			}
			c.Add(uint64(n))
			now = now.Add(time.Minute)
			r.Tick(now)
			// the rule's value: the rate over the last minute
			min := now.Unix()/60 - 1
			v := math.Floor(n) / 60
			var baseline float64
			have := false
			if y, ok := day[min-1440]; ok {
				baseline, have = y, true
			} else if ewmaN >= 5 {
				baseline, have = ewma, true
			}
			day[min] = v
			if ewmaN == 0 {
				ewma = v
			} else {
				ewma += 0.2 * (v - ewma)
			}
			ewmaN++
			cond := have && v > 3*baseline && math.Floor(n) >= 10
			if i == 0 {
				cond = false // no window yet: a single sample
				delete(day, min)
				ewmaN, ewma = 0, 0
			}
			m.eval(now, cond)
			a := r.Alerts()[0]
			require.Equal(t, m.state, a.State, "seed %d minute %d v=%v base=%v", seed, i, v, baseline)
		}
		assert.Equal(t, m.fires, fires)
		assert.Positive(t, fires, "no spike fired; the test shows nothing")
	}
}

func TestAddRuleErrors(t *testing.T) {
	r := NewRegistry()
	r.Counter("c_total", "")
	r.Gauge("g", "")
	r.Histogram("h", "")
	r.CounterVec("v_total", "", "a")
	cases := map[string]Rule{
		"Name":          {Metric: "c_total", Kind: Threshold},
		"Metric":        {Name: "x", Metric: "nope", Kind: Threshold},
		"Kind":          {Name: "x", Metric: "c_total"},
		"Labels":        {Name: "x", Metric: "v_total", Labels: []string{"a", "b"}, Kind: Threshold},
		"Denominator":   {Name: "x", Metric: "c_total", Kind: Ratio, Denominator: "nope"},
		"gauge ratio":   {Name: "x", Metric: "g", Kind: Ratio, Denominator: "c_total"},
		"Quantile":      {Name: "x", Metric: "h", Kind: Percentile, Quantile: 1.5},
		"pct counter":   {Name: "x", Metric: "c_total", Kind: Percentile, Quantile: 0.5},
		"Window":        {Name: "x", Metric: "c_total", Kind: Threshold, Window: -1},
		"Window small":  {Name: "x", Metric: "c_total", Kind: Threshold, Window: time.Millisecond},
		"For":           {Name: "x", Metric: "c_total", Kind: Threshold, For: -1},
		"KeepFiringFor": {Name: "x", Metric: "c_total", Kind: Threshold, KeepFiringFor: -1},
		"MinCount":      {Name: "x", Metric: "c_total", Kind: Threshold, MinCount: math.NaN()},
		"Threshold":     {Name: "x", Metric: "c_total", Kind: Threshold, Threshold: math.NaN()},
		"factor":        {Name: "x", Metric: "c_total", Kind: Anomaly, Threshold: 0.5},
	}
	for name, rule := range cases {
		err := r.AddRule(rule)
		require.ErrorIs(t, err, ErrInvalidRule, name)
		var re *RuleError
		require.True(t, errors.As(err, &re), name)
	}
	err := r.AddRule(Rule{Name: "x", Metric: "nope", Kind: Threshold})
	assert.ErrorIs(t, err, ErrUnknownMetric)
	require.NoError(t, r.AddRule(Rule{Name: "ok", Metric: "c_total", Kind: Threshold}))
	assert.ErrorIs(t, r.AddRule(Rule{Name: "ok", Metric: "c_total", Kind: Threshold}), ErrInvalidRule)
	assert.Len(t, r.Alerts(), 1)
	_ = strconv.Itoa
}
