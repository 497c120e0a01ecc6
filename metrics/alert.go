package metrics

import (
	"math"
	"time"
)

// RuleKind selects what a Rule measures.
type RuleKind uint8

const (
	// Threshold compares the metric over Window with Threshold: a counter's
	// (or histogram's observation) rate per second, a gauge's mean.
	Threshold RuleKind = iota + 1
	// Ratio compares Metric's increase over Window divided by
	// Denominator's (an error rate: errors / requests).
	Ratio
	// Percentile compares a histogram's Quantile over Window.
	Percentile
	// Anomaly compares the Threshold value with the same minute yesterday,
	// or, while less than a day of the rule's values exist, with an EWMA of
	// the previous minutes; Threshold is the allowed factor (≥ 1).
	Anomaly
)

func (k RuleKind) String() string {
	switch k {
	case Threshold:
		return "threshold"
	case Ratio:
		return "ratio"
	case Percentile:
		return "percentile"
	case Anomaly:
		return "anomaly"
	}
	return "unknown"
}

// AlertState is the state of a rule, with Prometheus's meaning.
type AlertState uint8

const (
	// Inactive: the condition does not hold (or holds on too few counts).
	Inactive AlertState = iota
	// Pending: the condition holds but not yet for For.
	Pending
	// Firing: the condition has held for For, or stopped less than
	// KeepFiringFor ago.
	Firing
)

func (s AlertState) String() string {
	switch s {
	case Inactive:
		return "inactive"
	case Pending:
		return "pending"
	case Firing:
		return "firing"
	}
	return "unknown"
}

// Alert is a rule's state.
type Alert struct {
	Rule  string
	State AlertState
	// Since is when the rule entered State (the rule's creation for a rule
	// that has never been active).
	Since time.Time
	// Value is the last evaluated value (NaN when the window held no data).
	Value float64
}

// Rule is an alert rule evaluated at every Tick (Anomaly rules at each
// closed minute). The condition holds when the value is above Threshold
// (Above) or below it, and the window's count is at least MinCount; For and
// KeepFiringFor have the meaning of Prometheus's for and keep_firing_for.
type Rule struct {
	Name   string
	Metric string
	// Labels selects the series: empty for the sum of all the metric's
	// series, else one value per label where "*" matches any value.
	Labels []string
	Kind   RuleKind
	// Denominator is the metric a Ratio divides by (all its series summed).
	Denominator string
	// Quantile is a Percentile rule's quantile, in (0, 1].
	Quantile  float64
	Above     bool
	Threshold float64
	// Window is the span measured (zero means one minute; at most 24 h).
	// The rule samples its series Window/60 apart (at least every second),
	// so a window starts within that step of now − Window.
	Window        time.Duration
	For           time.Duration
	KeepFiringFor time.Duration
	// MinCount keeps the rule inactive while the window's count is lower:
	// the increase for a counter, the observations for a histogram, the
	// denominator's increase for a Ratio, the samples for a gauge.
	MinCount float64
	// OnFire and OnResolve run on the goroutine that called Tick, after
	// the registry's locks are released; they may call back into it.
	OnFire, OnResolve func(Alert)
}

type sample struct {
	t    int64
	a, b float64
	bk   *bucketCounts
}

type matcher struct {
	f      *family
	labels []string
	seen   int
	ss     []*series
}

func (m *matcher) update() {
	all := m.f.all()
	for ; m.seen < len(all); m.seen++ {
		s := all[m.seen]
		if m.match(s) {
			m.ss = append(m.ss, s)
		}
	}
}

func (m *matcher) match(s *series) bool {
	if len(m.labels) == 0 {
		return true
	}
	for i, v := range m.labels {
		if v != "*" && v != s.values[i] {
			return false
		}
	}
	return true
}

type ruleState struct {
	rule     Rule
	num, den matcher
	step     int64
	window   int64
	samples  []sample
	free     []*bucketCounts
	last     int64 // time of the last sample

	state    AlertState
	since    time.Time
	activeAt time.Time
	keepFrom time.Time
	value    float64

	// Anomaly: the rule's value per minute for a day, and an EWMA.
	days   []float64
	daysOK []bool
	ewma   float64
	ewmaN  int
}

// ewmaAlpha weighs the newest minute in an Anomaly rule's EWMA baseline;
// ewmaWarm is how many minutes it needs before it is used.
const (
	ewmaAlpha = 0.2
	ewmaWarm  = 5
)

// AddRule adds an alert rule. It returns a *RuleError (matching
// ErrInvalidRule, and ErrUnknownMetric for an unknown metric) for a rule it
// cannot evaluate.
func (r *Registry) AddRule(rule Rule) error {
	bad := func(field, reason string) error { return &RuleError{Rule: rule.Name, Field: field, Reason: reason} }
	if rule.Name == "" {
		return bad("Name", "empty")
	}
	r.mu.Lock()
	num, den := r.fams[rule.Metric], r.fams[rule.Denominator]
	r.mu.Unlock()
	if num == nil {
		return &RuleError{Rule: rule.Name, Field: "Metric", Reason: quote(rule.Metric) + " is not registered", Err: ErrUnknownMetric}
	}
	if len(rule.Labels) != 0 && len(rule.Labels) != len(num.labels) {
		return bad("Labels", "want none or one per label of "+rule.Metric)
	}
	switch rule.Kind {
	case Threshold, Anomaly:
	case Ratio:
		if den == nil {
			return &RuleError{Rule: rule.Name, Field: "Denominator", Reason: quote(rule.Denominator) + " is not registered", Err: ErrUnknownMetric}
		}
		if num.kind == kindGauge || den.kind == kindGauge {
			return bad("Kind", "a ratio needs counters or histograms")
		}
	case Percentile:
		if num.kind != kindHistogram {
			return bad("Kind", "percentile of a "+num.kind.String())
		}
		if !(rule.Quantile > 0 && rule.Quantile <= 1) {
			return bad("Quantile", "want a value in (0, 1]")
		}
	default:
		return bad("Kind", "unknown kind")
	}
	if math.IsNaN(rule.Threshold) {
		return bad("Threshold", "NaN")
	}
	if rule.Kind == Anomaly && !(rule.Threshold >= 1) {
		return bad("Threshold", "an anomaly factor must be at least 1")
	}
	if rule.Window < 0 || rule.Window > 24*time.Hour {
		return bad("Window", "want 0 to 24h")
	}
	if rule.Window == 0 {
		rule.Window = time.Minute
	}
	if rule.Window < time.Second {
		return bad("Window", "want at least a second")
	}
	if rule.For < 0 {
		return bad("For", "negative")
	}
	if rule.KeepFiringFor < 0 {
		return bad("KeepFiringFor", "negative")
	}
	if !(rule.MinCount >= 0) {
		return bad("MinCount", "want a non-negative number")
	}
	rule.Labels = append([]string(nil), rule.Labels...)
	w := int64(rule.Window / time.Second)
	rs := &ruleState{rule: rule, window: w, step: max(1, w/60), value: math.NaN()}
	rs.num = matcher{f: num, labels: rule.Labels}
	if rule.Kind == Ratio {
		rs.den = matcher{f: den}
	}
	if rule.Kind == Anomaly {
		rs.days = make([]float64, minSlots)
		rs.daysOK = make([]bool, minSlots)
	}
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	if r.tick.names[rule.Name] != nil {
		return bad("Name", "a rule with this name exists")
	}
	rs.since = time.Unix(r.tick.next, 0).UTC()
	rs.last = math.MinInt64 / 2 // no sample yet (and no overflow in t - last)
	r.tick.names[rule.Name] = rs
	r.tick.rules = append(r.tick.rules, rs)
	return nil
}

// Alerts returns the state of every rule, in the order they were added.
func (r *Registry) Alerts() []Alert {
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	out := make([]Alert, len(r.tick.rules))
	for i, rs := range r.tick.rules {
		out[i] = rs.alert()
	}
	return out
}

func (rs *ruleState) alert() Alert {
	return Alert{Rule: rs.rule.Name, State: rs.state, Since: rs.since, Value: rs.value}
}

type alertEvent struct {
	fn func(Alert)
	a  Alert
}

// evalRules samples and evaluates every rule at time now (an interval end).
func (r *Registry) evalRules(now time.Time, minute bool) []alertEvent {
	var ev []alertEvent
	t := now.Unix()
	for _, rs := range r.tick.rules {
		if t-rs.last < rs.step && !(minute && rs.rule.Kind == Anomaly) {
			continue
		}
		rs.take(t)
		v, n, ok := rs.measure(t)
		cond := false
		if rs.rule.Kind == Anomaly {
			if !minute {
				continue
			}
			cond = rs.anomaly(t, v, ok)
		} else if ok {
			if rs.rule.Above {
				cond = v > rs.rule.Threshold
			} else {
				cond = v < rs.rule.Threshold
			}
		}
		rs.value = v
		active := ok && cond && n >= rs.rule.MinCount
		if e, fired := rs.step2(now, active); fired {
			ev = append(ev, e)
		}
	}
	return ev
}

// take records a sample of the rule's series at t.
func (rs *ruleState) take(t int64) {
	rs.last = t
	rs.num.update()
	s := sample{t: t}
	pct := rs.rule.Kind == Percentile
	if pct {
		if n := len(rs.free); n > 0 {
			s.bk = rs.free[n-1]
			rs.free = rs.free[:n-1]
			*s.bk = bucketCounts{zero: 0, inf: 0, chunks: s.bk.chunks}
			for _, c := range s.bk.chunks {
				if c != nil {
					*c = [chunkSize]uint64{}
				}
			}
		} else {
			s.bk = new(bucketCounts)
		}
	}
	var tmp bucketCounts
	for _, x := range rs.num.ss {
		switch x.fam.kind {
		case kindCounter:
			s.a += float64(x.c.Value())
		case kindGauge:
			s.a += x.g.Value()
		case kindHistogram:
			if pct {
				tmp.load(x.h)
				s.bk.add(&tmp)
				s.a += float64(tmp.count())
			} else {
				s.a += float64(x.h.Count())
			}
		}
	}
	if rs.rule.Kind == Ratio {
		rs.den.update()
		for _, x := range rs.den.ss {
			if x.fam.kind == kindCounter {
				s.b += float64(x.c.Value())
			} else {
				s.b += float64(x.h.Count())
			}
		}
	}
	rs.samples = append(rs.samples, s)
	// Keep one sample at or before t − window, and everything after it.
	for len(rs.samples) >= 2 && rs.samples[1].t <= t-rs.window {
		if b := rs.samples[0].bk; b != nil {
			rs.free = append(rs.free, b)
		}
		rs.samples[0] = sample{}
		rs.samples = rs.samples[1:]
	}
}

// measure returns the rule's value over the window ending at t, the count
// MinCount is compared with, and whether there was data.
func (rs *ruleState) measure(t int64) (v, n float64, ok bool) {
	cur := rs.samples[len(rs.samples)-1]
	if rs.num.f.kind == kindGauge {
		var sum float64
		for _, s := range rs.samples {
			if s.t > t-rs.window {
				sum += s.a
				n++
			}
		}
		if n == 0 {
			return math.NaN(), 0, false
		}
		return sum / n, n, true
	}
	if len(rs.samples) < 2 {
		return math.NaN(), 0, false
	}
	base := rs.samples[0]
	inc := cur.a - base.a
	switch rs.rule.Kind {
	case Ratio:
		d := cur.b - base.b
		if d <= 0 {
			return math.NaN(), 0, false
		}
		return inc / d, d, true
	case Percentile:
		var d bucketCounts
		d.sub(cur.bk, base.bk)
		c := float64(d.count())
		if c == 0 {
			return math.NaN(), 0, false
		}
		return d.quantile(rs.rule.Quantile), c, true
	}
	return inc / float64(cur.t-base.t), inc, true
}

// anomaly compares v with the same minute yesterday or the EWMA baseline,
// records v, and reports whether the condition holds.
func (rs *ruleState) anomaly(t int64, v float64, ok bool) bool {
	m := floorDiv(t, 60) - 1 // the minute that just closed
	k := int(m % minSlots)
	if k < 0 {
		k += minSlots
	}
	if !ok {
		rs.daysOK[k] = false
		return false
	}
	var base float64
	have := false
	if rs.daysOK[k] {
		base, have = rs.days[k], true
	} else if rs.ewmaN >= ewmaWarm {
		base, have = rs.ewma, true
	}
	rs.days[k], rs.daysOK[k] = v, true
	if rs.ewmaN == 0 {
		rs.ewma = v
	} else {
		rs.ewma += ewmaAlpha * (v - rs.ewma)
	}
	rs.ewmaN++
	if !have {
		return false
	}
	f := rs.rule.Threshold
	if rs.rule.Above {
		return v > f*base
	}
	return v < base/f
}

// step2 advances the state machine with this evaluation's condition.
func (rs *ruleState) step2(now time.Time, active bool) (alertEvent, bool) {
	r := &rs.rule
	if active {
		rs.keepFrom = time.Time{}
		if rs.state == Inactive {
			rs.state, rs.since, rs.activeAt = Pending, now, now
		}
		if rs.state == Pending && now.Sub(rs.activeAt) >= r.For {
			rs.state, rs.since = Firing, now
			if r.OnFire != nil {
				return alertEvent{r.OnFire, rs.alert()}, true
			}
		}
		return alertEvent{}, false
	}
	switch rs.state {
	case Pending:
		rs.state, rs.since = Inactive, now
	case Firing:
		if r.KeepFiringFor > 0 {
			if rs.keepFrom.IsZero() {
				rs.keepFrom = now
			}
			if now.Sub(rs.keepFrom) < r.KeepFiringFor {
				return alertEvent{}, false
			}
		}
		rs.state, rs.since, rs.keepFrom = Inactive, now, time.Time{}
		if r.OnResolve != nil {
			return alertEvent{r.OnResolve, rs.alert()}, true
		}
	}
	return alertEvent{}, false
}
