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

// tickObs is what the registry's selected series read at one Tick.
type tickObs struct {
	t          int64   // tick time, Unix seconds
	num, den   float64 // cumulative numerator and denominator
	gauge      float64 // sum of the selected gauges at the tick
	histValues []float64
	sample     bool // the rule kept this reading as a sample
}

// modelValue computes a rule's value at tick i from the raw record, by
// brute force, following Rule's documentation: the current reading
// against the newest sample at or before now − window (else the oldest);
// a gauge's mean over the samples inside the window and the current
// reading, NaN readings left out.
func modelValue(kind RuleKind, gaugeMetric bool, q float64, window int64, obs []tickObs, i int) (v, n float64, ok bool) {
	T := obs[i].t
	if gaugeMetric {
		sum := 0.0
		for j := 0; j < i; j++ {
			if obs[j].sample && obs[j].t > T-window && !math.IsNaN(obs[j].gauge) {
				sum += obs[j].gauge
				n++
			}
		}
		if !math.IsNaN(obs[i].gauge) {
			sum += obs[i].gauge
			n++
		}
		if n == 0 || math.IsNaN(sum) {
			return math.NaN(), n, false
		}
		return sum / n, n, true
	}
	base := -1
	for j := 0; j <= i; j++ {
		if obs[j].sample && (base < 0 || obs[j].t <= T-window) {
			base = j
		}
	}
	if obs[base].t >= T {
		return math.NaN(), 0, false
	}
	num := obs[i].num - obs[base].num
	switch kind {
	case Ratio:
		den := obs[i].den - obs[base].den
		if den <= 0 {
			return math.NaN(), 0, false
		}
		return num / den, den, true
	case Percentile:
		var vals []float64
		for j := base + 1; j <= i; j++ {
			vals = append(vals, obs[j].histValues...)
		}
		if len(vals) == 0 {
			return math.NaN(), 0, false
		}
		slices.Sort(vals)
		r := max(1, int(math.Ceil(q*float64(len(vals)))))
		return vals[min(r, len(vals))-1], float64(len(vals)), true
	}
	return num / float64(T-obs[base].t), num, true
}

// sameValue: equal within rounding, or the same infinity, or both NaN.
func sameValue(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if math.IsInf(a, 0) || math.IsInf(b, 0) {
		return a == b
	}
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(a))
}

// randGauge draws a gauge reading: mostly ordinary, sometimes NaN, ±Inf or
// huge.
func randGauge(rng *rand.Rand, scale int) float64 {
	switch rng.IntN(14) {
	case 0:
		return math.NaN()
	case 1:
		return math.Inf(1)
	case 2:
		return math.Inf(-1)
	case 3:
		return math.MaxFloat64 * (2*rng.Float64() - 1)
	}
	return float64(rng.IntN(6 * scale))
}

// TestRulesAgainstModel: random rules of every non-anomaly kind (windows
// up to 30 minutes, so the sampling step grows past a second; per-route
// ratios with a denominator narrowed by labels; gauges that go NaN, ±Inf
// or huge) on random series, ticked at random 1–5 s steps, compared with
// the model at every Tick: state, since, value and callback counts. Before
// rules were evaluated at every Tick, a rule with a window over a minute
// kept its old value and state between samples.
func TestRulesAgainstModel(t *testing.T) {
	totalFires, totalResolves := 0, 0
	t.Cleanup(func() {
		assert.Positive(t, totalFires, "no rule ever fired")
		assert.Positive(t, totalResolves, "no rule ever resolved")
	})
	for seed := uint64(1); seed <= 36; seed++ {
		rng := rand.New(rand.NewPCG(seed, 2024))
		r := NewRegistry(WithClock(fixedClock{t0}))
		routes := []string{"/a", "/b"}
		errs := r.CounterVec("errors_total", "", "route", "code")
		reqs := r.CounterVec("requests_total", "", "route")
		gv := r.GaugeVec("queue", "", "shard")
		h := r.Histogram("lat_seconds", "")
		kind := []RuleKind{Threshold, Ratio, Percentile}[rng.IntN(3)]
		gaugeMetric := kind == Threshold && rng.IntN(2) == 0
		win := time.Duration(1+rng.IntN(90)) * time.Second
		if rng.IntN(3) == 0 {
			win = time.Duration(61+rng.IntN(1800)) * time.Second
		}
		rule := Rule{
			Name: "r", Kind: kind, Window: win, Above: rng.IntN(2) == 0,
			For: time.Duration(rng.IntN(12)) * time.Second, KeepFiringFor: time.Duration(rng.IntN(12)) * time.Second,
			MinCount: float64(rng.IntN(4)),
		}
		var fires, resolves int
		rule.OnFire = func(a Alert) {
			fires++
			assert.Equal(t, Firing, a.State)
			_ = r.Alerts() // callbacks may call back in
		}
		rule.OnResolve = func(a Alert) { resolves++; assert.Equal(t, Inactive, a.State) }
		pick := func() string { // a route or "*"
			if rng.IntN(3) == 0 {
				return "*"
			}
			return routes[rng.IntN(2)]
		}
		numRoute, denRoute, shard := pick(), pick(), pick()
		switch {
		case kind == Ratio:
			rule.Metric, rule.Denominator, rule.Labels = "errors_total", "requests_total", []string{numRoute, "500"}
			if rng.IntN(3) > 0 {
				rule.DenominatorLabels = []string{denRoute}
			} else {
				denRoute = "*"
			}
			rule.Threshold = rng.Float64() * 0.6
		case kind == Percentile:
			rule.Metric, rule.Quantile = "lat_seconds", []float64{0.5, 0.9, 0.99, 1}[rng.IntN(4)]
			rule.Threshold = bucketEstimate(-minIndex + rng.IntN(12))
		case gaugeMetric:
			rule.Metric, rule.Labels, rule.Threshold = "queue", []string{shard}, float64(rng.IntN(10))
			if rng.IntN(5) == 0 {
				rule.Threshold = []float64{math.Inf(1), math.Inf(-1)}[b2i(rule.Above)]
			}
		default:
			rule.Metric, rule.Labels, rule.Threshold = "errors_total", []string{numRoute, "*"}, rng.Float64()*4
		}
		if !rule.Above && !gaugeMetric && rule.Threshold <= 0 {
			rule.Threshold = 0.5 // a rate below 0 is refused (TestAddRuleNeverFiring)
		}
		require.NoError(t, r.AddRule(rule), "seed %d", seed)
		m := modelState{forD: rule.For, keep: rule.KeepFiringFor, since: t0}
		step := max(int64(1), int64(win/time.Second)/60)
		var lastSample int64
		var obs []tickObs
		var num, den float64
		gauges := map[string]float64{}
		now := t0
		hot := false // regime switches make the condition flip now and then
		for i := 0; i < 400; i++ {
			if rng.IntN(25) == 0 {
				hot = !hot
			}
			rate := 1
			if hot {
				rate = 4
			}
			var o tickObs
			for _, rt := range routes {
				n5, n2 := rng.IntN(rate+1), rng.IntN(3)
				errs.With(rt, "500").Add(uint64(n5))
				errs.With(rt, "404").Add(uint64(n2))
				nr := n5 + n2 + rng.IntN(4)
				reqs.With(rt).Add(uint64(nr))
				if numRoute == "*" || numRoute == rt {
					num += float64(n5)
					if kind != Ratio {
						num += float64(n2)
					}
				}
				if denRoute == "*" || denRoute == rt {
					den += float64(nr)
				}
			}
			for _, sh := range routes {
				if rng.IntN(3) > 0 {
					gauges[sh] = randGauge(rng, rate)
					gv.With(sh).Set(gauges[sh])
				}
			}
			for j := rng.IntN(3 * rate); j > 0; j-- {
				v := bucketEstimate(-minIndex + rng.IntN(6*rate)) // exact bucket estimates
				h.Observe(v)
				o.histValues = append(o.histValues, v)
			}
			now = now.Add(time.Duration(1+rng.IntN(2)+rng.IntN(2)*rng.IntN(4)) * time.Second)
			o.t = now.Unix()
			r.Tick(now)
			o.num, o.den = num, den
			if kind == Percentile {
				o.num = 0
			}
			for _, sh := range routes {
				if shard == "*" || shard == sh {
					o.gauge += gauges[sh]
				}
			}
			if len(obs) == 0 || o.t-lastSample >= step {
				o.sample, lastSample = true, o.t
			}
			obs = append(obs, o)
			v, n, ok := modelValue(kind, gaugeMetric, rule.Quantile, int64(win/time.Second), obs, len(obs)-1)
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
			if a.State != m.state || !a.Since.Equal(m.since) {
				t.Fatalf("seed %d tick %d rule %+v: state %v since %v, model %v since %v (value %v, model %v)",
					seed, i, rule, a.State, a.Since, m.state, m.since, a.Value, v)
			}
			if !sameValue(v, a.Value) {
				t.Fatalf("seed %d tick %d: value %v, model %v (ok %v)", seed, i, a.Value, v, ok)
			}
		}
		totalFires += fires
		totalResolves += resolves
		assert.Equal(t, m.fires, fires, "seed %d", seed)
		assert.Equal(t, m.resolves, resolves, "seed %d", seed)
	}
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
	require.NoError(t, r.AddRule(Rule{Name: "ok", Metric: "c_total", Kind: Threshold, Above: true}))
	assert.ErrorIs(t, r.AddRule(Rule{Name: "ok", Metric: "c_total", Kind: Threshold, Above: true}), ErrInvalidRule)
	assert.Len(t, r.Alerts(), 1)
	_ = strconv.Itoa
}

// TestAnomalyGaugeNonFinite: per-minute ticks of a gauge that now and then
// reads NaN, ±Inf or a huge finite value, with random 10× spikes; an Anomaly
// rule matches a model that learns its baseline (yesterday's minute, else
// the EWMA) from finite values only. Before, one NaN reading turned the
// EWMA into NaN for good and the rule never fired again until a day of
// history existed.
func TestAnomalyGaugeNonFinite(t *testing.T) {
	fired := 0
	for seed := uint64(1); seed <= 8; seed++ {
		rng := rand.New(rand.NewPCG(seed, 78))
		minutes := 3 * 60
		if seed <= 2 {
			minutes = 26 * 60 // past a day: yesterday's minute as the baseline
		}
		r := NewRegistry(WithClock(fixedClock{t0}))
		g := r.Gauge("temp", "")
		rule := Rule{Name: "anom", Metric: "temp", Kind: Anomaly, Above: rng.IntN(3) > 0, Threshold: 1.5 + 3*rng.Float64(),
			For: time.Duration(rng.IntN(3)) * time.Minute, OnFire: func(Alert) { fired++ }}
		require.NoError(t, r.AddRule(rule))
		m := modelState{forD: rule.For, since: t0}
		day := map[int64]float64{}
		ewma, ewmaN := 0.0, 0
		spike := 0
		now := t0
		for i := 0; i < minutes; i++ {
			v := 10 + 5*math.Sin(float64(i%1440)/1440*2*math.Pi) + rng.NormFloat64()
			if spike == 0 && rng.IntN(40) == 0 {
				spike = 1 + rng.IntN(5)
			}
			if spike > 0 {
				spike--
				if rule.Above {
					v *= 10
				} else {
					v /= 10
				}
			}
			switch rng.IntN(25) {
			case 0:
				v = math.NaN()
			case 1:
				v = math.Inf(1)
			case 2:
				v = math.Inf(-1)
			case 3:
				v = math.MaxFloat64 * (2*rng.Float64() - 1)
			}
			g.Set(v)
			now = now.Add(time.Minute)
			r.Tick(now)
			min := now.Unix()/60 - 1
			cond := false
			if !math.IsNaN(v) {
				var base float64
				have := false
				if y, ok := day[min-1440]; ok {
					base, have = y, true
				} else if ewmaN >= 5 {
					base, have = ewma, true
				}
				if !math.IsInf(v, 0) {
					day[min] = v
					e := ewma + 0.2*(v-ewma)
					if ewmaN == 0 || math.IsInf(e, 0) || math.IsNaN(e) {
						e, ewmaN = v, 0
					}
					ewma = e
					ewmaN++
				}
				if have {
					if rule.Above {
						cond = v > rule.Threshold*base
					} else {
						cond = v < base/rule.Threshold
					}
				}
			}
			m.eval(now, cond)
			a := r.Alerts()[0]
			require.Equal(t, m.state, a.State, "seed %d minute %d v=%v", seed, i, v)
			require.True(t, sameValue(v, a.Value), "seed %d minute %d: value %v, want %v", seed, i, a.Value, v)
		}
	}
	assert.Positive(t, fired, "no spike fired; the test shows nothing")

	// the reviewer's case: a NaN at minute 3, a 100× spike from minute 40
	r := NewRegistry(WithClock(fixedClock{t0}))
	g := r.Gauge("temp", "")
	firedAt := -1
	require.NoError(t, r.AddRule(Rule{Name: "a", Metric: "temp", Kind: Anomaly, Above: true, Threshold: 3}))
	for i := 0; i < 60 && firedAt < 0; i++ {
		g.Set(map[bool]float64{true: 1000, false: 10}[i >= 40])
		if i == 3 {
			g.Set(math.NaN())
		}
		r.Tick(t0.Add(time.Duration(i+1) * time.Minute))
		if r.Alerts()[0].State == Firing {
			firedAt = i
		}
	}
	assert.Equal(t, 40, firedAt)
}

// TestAddRuleNeverFiring: random rules drawn around the impossible cases
// (thresholds of ±Inf, rates below 0, infinite factors and MinCounts, gauge
// MinCounts past what a window holds, For past MaxRuleDuration, fields of
// another kind). AddRule refuses exactly the rules the documented classes
// call impossible, and every rule it accepts in the witness space fires
// under a schedule built to fire it.
func TestAddRuleNeverFiring(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	accepted, refused, witnessed := 0, 0, 0
	for round := 0; round < 400; round++ {
		r := NewRegistry(WithClock(fixedClock{t0}))
		r.Counter("c_total", "")
		r.Counter("d_total", "")
		r.Gauge("g", "")
		r.Histogram("h", "")
		metric := []string{"c_total", "g", "h"}[rng.IntN(3)]
		kind := []RuleKind{Threshold, Ratio, Percentile, Anomaly}[rng.IntN(4)]
		if metric == "g" && kind == Ratio || metric != "h" && kind == Percentile {
			kind = Threshold
		}
		rule := Rule{Name: "r", Metric: metric, Kind: kind, Above: rng.IntN(2) == 0,
			Window: time.Duration(1+rng.IntN(600)) * time.Second}
		rule.Threshold = []float64{math.Inf(1), math.Inf(-1), 0, -1, 0.5, 3, 100}[rng.IntN(7)]
		if kind == Anomaly {
			rule.Threshold = []float64{math.Inf(1), 1, 2, 7}[rng.IntN(4)]
		}
		rule.MinCount = []float64{0, 0, 1, 5, 1e6, math.Inf(1)}[rng.IntN(6)]
		w := int64(rule.Window / time.Second)
		most := maxReadings(w, max(1, w/60))
		if metric == "g" && rng.IntN(3) == 0 {
			rule.MinCount = float64(most + int64(rng.IntN(2)))
		}
		rule.For = []time.Duration{0, 2 * time.Second, MaxRuleDuration, MaxRuleDuration + 1, math.MaxInt64}[rng.IntN(5)]
		if kind == Ratio {
			rule.Denominator = "d_total"
		} else if rng.IntN(10) == 0 {
			rule.Denominator = "nope"
		}
		if kind == Percentile {
			rule.Quantile = 0.9
		} else if rng.IntN(10) == 0 {
			rule.Quantile = 0.5
		}
		// the documented classes of rules that can never fire
		never := rule.Above && math.IsInf(rule.Threshold, 1) ||
			!rule.Above && math.IsInf(rule.Threshold, -1) ||
			kind == Anomaly && math.IsInf(rule.Threshold, 0) ||
			kind != Anomaly && !rule.Above && rule.Threshold <= 0 && metric != "g" ||
			math.IsInf(rule.MinCount, 1) ||
			metric == "g" && rule.MinCount > float64(most) ||
			rule.For > MaxRuleDuration ||
			kind != Ratio && rule.Denominator != "" || kind != Percentile && rule.Quantile != 0
		err := r.AddRule(rule)
		if never {
			require.ErrorIs(t, err, ErrInvalidRule, "round %d: %+v", round, rule)
			refused++
			continue
		}
		require.NoError(t, err, "round %d: %+v", round, rule)
		accepted++
		// witness space: For within reach, MinCount reachable by the
		// schedule (a gauge's readings reach the most a window holds only
		// at some ticks, so only with For 0)
		if rule.For > time.Minute || rule.MinCount > 5 && (metric != "g" || rule.For > 0) || kind == Anomaly || !rule.Above && metric != "g" {
			continue
		}
		c, d, g, h := r.Counter("c_total", ""), r.Counter("d_total", ""), r.Gauge("g", ""), r.Histogram("h", "")
		now := t0
		fired := false
		for s := 0; s < int(w)+70 && !fired; s++ {
			switch {
			case metric == "g" && rule.Above:
				g.Set(math.Inf(1))
			case metric == "g":
				g.Set(math.Inf(-1))
			case kind == Percentile:
				for range 10 {
					h.Observe(math.Inf(1))
				}
			case kind == Ratio && metric == "h":
				for range 200 {
					h.Observe(1)
				}
				d.Add(1)
			case kind == Ratio:
				c.Add(1e6)
				d.Add(1)
			case metric == "h":
				for range 200 {
					h.Observe(1)
				}
			default:
				c.Add(1e6)
			}
			now = now.Add(time.Second)
			r.Tick(now)
			fired = r.Alerts()[0].State == Firing
		}
		require.True(t, fired, "round %d: accepted rule %+v never fired", round, rule)
		witnessed++
	}
	t.Logf("%d refused, %d accepted (%d fired under a witness)", refused, accepted, witnessed)
	assert.Positive(t, refused)
	assert.Positive(t, witnessed)
}

// TestMaxReadings: ticking a gauge rule every second, or at random gaps,
// never puts more readings in a window than maxReadings says (so AddRule
// refuses only MinCounts no window can reach), and every second reaches it.
func TestMaxReadings(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	for round := 0; round < 60; round++ {
		w := int64(1 + rng.IntN(400))
		if round%3 == 0 {
			w = int64(60 + rng.IntN(7200))
		}
		step := max(1, w/60)
		r := NewRegistry(WithClock(fixedClock{t0}))
		r.Gauge("g", "").Set(1)
		require.NoError(t, r.AddRule(Rule{Name: "r", Metric: "g", Kind: Threshold, Above: true, Window: time.Duration(w) * time.Second}))
		rs := r.tick.rules[0]
		regular := round%2 == 0
		most := 0.0
		now := t0
		for i := 0; i < int(3*w)+10 && i < 3000; i++ {
			d := time.Second
			if !regular {
				d = time.Duration(1+rng.IntN(int(step)+1)) * time.Second
			}
			now = now.Add(d)
			r.Tick(now)
			r.tickMu.Lock()
			_, n, _ := rs.measure(now.Unix(), rs.lastRead())
			r.tickMu.Unlock()
			most = math.Max(most, n)
		}
		require.LessOrEqual(t, most, float64(maxReadings(w, step)), "window %d", w)
		if regular && 3*w+10 <= 3000 {
			require.Equal(t, float64(maxReadings(w, step)), most, "window %d", w)
		}
	}
}

// TestRatioPerRoute is the newcomer's case: route /a fails half its 10
// requests a second while /b serves 1,000 without errors. Over all routes
// the error ratio is 0.5 %; narrowed with DenominatorLabels to /a it is 50 %
// and the rule fires.
func TestRatioPerRoute(t *testing.T) {
	r := NewRegistry(WithClock(fixedClock{t0}))
	reqs := r.CounterVec("http_requests_total", "", "route", "code")
	all := Rule{Name: "all", Metric: "http_requests_total", Labels: []string{"/a", "500"}, Kind: Ratio,
		Denominator: "http_requests_total", Above: true, Threshold: 0.05, Window: 10 * time.Second}
	perRoute := all
	perRoute.Name, perRoute.DenominatorLabels = "per-route", []string{"/a", "*"}
	require.NoError(t, r.AddRule(all))
	require.NoError(t, r.AddRule(perRoute))
	now := t0
	for range 15 {
		reqs.With("/a", "200").Add(5)
		reqs.With("/a", "500").Add(5)
		reqs.With("/b", "200").Add(1000)
		now = now.Add(time.Second)
		r.Tick(now)
	}
	as := r.Alerts()
	assert.Equal(t, Inactive, as[0].State)
	assert.InDelta(t, 5.0/1010, as[0].Value, 1e-9)
	assert.Equal(t, Firing, as[1].State)
	assert.InDelta(t, 0.5, as[1].Value, 1e-9)
}
