package metrics

import (
	"math"
	"strconv"
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
	// Value is the last evaluated value (NaN when the window held no
	// data): the rate, mean, ratio or quantile, and for an Anomaly rule the
	// minute's rate or mean, not its factor against the baseline.
	Value float64
}

// Rule is an alert rule, evaluated at every Tick (Anomaly rules at each
// closed minute). The condition holds when the value is above Threshold
// (Above) or below it, and the window's count is at least MinCount; For and
// KeepFiringFor have the meaning of Prometheus's for and keep_firing_for,
// to the Tick (every second under Run).
//
// A rule reads its series at every evaluation and keeps a reading as a
// sample every Window/60 (at least every second). The value compares the
// current reading with the newest sample at or before now − Window, so a
// window spans Window to Window + Window/60; a gauge's mean is over the
// samples inside the window and the current reading. A gauge reading that
// is NaN (any selected series NaN) is left out of the mean and counts for
// nothing; an infinite one makes the mean infinite. An Anomaly rule learns
// its baseline only from finite values.
type Rule struct {
	Name   string
	Metric string
	// Labels selects the series: empty for the sum of all the metric's
	// series, else one value per label where "*" matches any value.
	Labels []string
	Kind   RuleKind
	// Denominator is the metric a Ratio divides by; DenominatorLabels
	// selects its series as Labels does Metric's (empty: all summed). For
	// a per-route error rate, Labels {"/items", "500"} over
	// DenominatorLabels {"/items", "*"}.
	Denominator       string
	DenominatorLabels []string
	// Quantile is a Percentile rule's quantile, in (0, 1].
	Quantile  float64
	Above     bool
	Threshold float64
	// Window is the span measured (zero means one minute; 1 s to 24 h).
	Window time.Duration
	// For and KeepFiringFor are at most MaxRuleDuration.
	For           time.Duration
	KeepFiringFor time.Duration
	// MinCount keeps the rule inactive while the window's count is lower:
	// the increase for a counter, the observations for a histogram, the
	// denominator's increase for a Ratio, the non-NaN readings for a gauge.
	MinCount float64
	// OnFire and OnResolve run on the goroutine that called Tick, after
	// the registry's locks are released; they may call back into it.
	OnFire, OnResolve func(Alert)
}

// MaxRuleDuration bounds a Rule's For and KeepFiringFor.
const MaxRuleDuration = 7 * 24 * time.Hour

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
	cur      sample        // the current reading when it is not a sample
	curBk    *bucketCounts // cur's buckets (Percentile)
	sampled  bool          // samples has been appended to at least once
	last     int64         // time of the last sample
	lastT    int64         // time of the last reading

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
// cannot evaluate or that could never fire: a threshold of +Inf to be above
// or -Inf to be below, a rate, ratio or quantile to be below 0 or less, an
// infinite anomaly factor or MinCount, a gauge MinCount above the readings a
// window can hold, For or KeepFiringFor above MaxRuleDuration, and fields
// its kind does not use.
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
	if rule.Kind != Ratio && (rule.Denominator != "" || len(rule.DenominatorLabels) != 0) {
		return bad("Denominator", "only a Ratio rule has a denominator")
	}
	if rule.Kind != Percentile && rule.Quantile != 0 {
		return bad("Quantile", "only a Percentile rule has a quantile")
	}
	switch rule.Kind {
	case Threshold, Anomaly:
	case Ratio:
		if rule.Denominator == "" {
			return bad("Denominator", "required for a Ratio rule")
		}
		if den == nil {
			return &RuleError{Rule: rule.Name, Field: "Denominator", Reason: quote(rule.Denominator) + " is not registered", Err: ErrUnknownMetric}
		}
		if num.kind == kindGauge || den.kind == kindGauge {
			return bad("Kind", "a ratio needs counters or histograms")
		}
		if len(rule.DenominatorLabels) != 0 && len(rule.DenominatorLabels) != len(den.labels) {
			return bad("DenominatorLabels", "want none or one per label of "+rule.Denominator)
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
	switch {
	case math.IsNaN(rule.Threshold):
		return bad("Threshold", "NaN")
	case rule.Above && math.IsInf(rule.Threshold, 1):
		return bad("Threshold", "nothing is above +Inf")
	case !rule.Above && math.IsInf(rule.Threshold, -1):
		return bad("Threshold", "nothing is below -Inf")
	case rule.Kind == Anomaly && !(rule.Threshold >= 1 && rule.Threshold < math.Inf(1)):
		return bad("Threshold", "an anomaly factor must be at least 1 and finite")
	case rule.Kind != Anomaly && !rule.Above && rule.Threshold <= 0 && num.kind != kindGauge:
		return bad("Threshold", "a "+rule.Kind.String()+" of a "+num.kind.String()+" is never below 0")
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
	if rule.For < 0 || rule.For > MaxRuleDuration {
		return bad("For", "want 0 to "+MaxRuleDuration.String())
	}
	if rule.KeepFiringFor < 0 || rule.KeepFiringFor > MaxRuleDuration {
		return bad("KeepFiringFor", "want 0 to "+MaxRuleDuration.String())
	}
	if !(rule.MinCount >= 0) || math.IsInf(rule.MinCount, 1) {
		return bad("MinCount", "want a finite non-negative number")
	}
	w := int64(rule.Window / time.Second)
	step := max(1, w/60)
	if most := float64(maxReadings(w, step)); num.kind == kindGauge && rule.MinCount > most {
		return bad("MinCount", "a window of "+rule.Window.String()+" holds at most "+strconv.FormatFloat(most, 'f', -1, 64)+" gauge readings")
	}
	rule.Labels = append([]string(nil), rule.Labels...)
	rule.DenominatorLabels = append([]string(nil), rule.DenominatorLabels...)
	rs := &ruleState{rule: rule, window: w, step: step, value: math.NaN()}
	rs.num = matcher{f: num, labels: rule.Labels}
	if rule.Kind == Ratio {
		rs.den = matcher{f: den, labels: rule.DenominatorLabels}
	}
	if rule.Kind == Percentile {
		rs.curBk = new(bucketCounts)
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

// maxReadings is the most gauge readings a window of w seconds holds:
// samples at whole seconds at least step apart in (now − w, now], or in
// (now − w, now − 1] plus the current reading.
func maxReadings(w, step int64) int64 {
	if w == 1 {
		return 1
	}
	return max((w-1)/step+1, (w-2)/step+2)
}

// evalRules reads and evaluates every rule at time now (an interval end).
func (r *Registry) evalRules(now time.Time, minute bool) []alertEvent {
	var ev []alertEvent
	t := now.Unix()
	for _, rs := range r.tick.rules {
		cur := rs.read(t)
		if rs.rule.Kind == Anomaly && !minute {
			continue
		}
		v, n, ok := rs.measure(t, cur)
		cond := false
		if rs.rule.Kind == Anomaly {
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

// read takes the current reading of the rule's series at t. Every step it
// is kept as a sample; samples older than the window are dropped, except
// the newest one at or before t − window, the window's base.
func (rs *ruleState) read(t int64) *sample {
	due := !rs.sampled || t-rs.last >= rs.step
	rs.lastT = t
	s := &rs.cur
	if due {
		rs.samples = append(rs.samples, sample{})
		s = &rs.samples[len(rs.samples)-1]
		rs.sampled, rs.last = true, t
	}
	*s = sample{t: t}
	pct := rs.rule.Kind == Percentile
	if pct {
		if !due {
			s.bk = rs.curBk
		} else if n := len(rs.free); n > 0 {
			s.bk = rs.free[n-1]
			rs.free = rs.free[:n-1]
		} else {
			s.bk = new(bucketCounts)
		}
		s.bk.reset()
	}
	rs.num.update()
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
	for len(rs.samples) >= 2 && rs.samples[1].t <= t-rs.window {
		if b := rs.samples[0].bk; b != nil {
			rs.free = append(rs.free, b)
		}
		rs.samples[0] = sample{}
		rs.samples = rs.samples[1:]
	}
	if due {
		return &rs.samples[len(rs.samples)-1]
	}
	return s
}

// lastRead returns the reading of the last evaluation.
func (rs *ruleState) lastRead() *sample {
	if rs.last == rs.lastT {
		return &rs.samples[len(rs.samples)-1]
	}
	return &rs.cur
}

// measure returns the rule's value over the window ending at t (cur is the
// reading at t), the count MinCount is compared with, and whether there was
// data.
func (rs *ruleState) measure(t int64, cur *sample) (v, n float64, ok bool) {
	if rs.num.f.kind == kindGauge {
		var sum float64
		for i := range rs.samples {
			s := &rs.samples[i]
			if s.t > t-rs.window && s != cur && !math.IsNaN(s.a) {
				sum += s.a
				n++
			}
		}
		if !math.IsNaN(cur.a) {
			sum += cur.a
			n++
		}
		if n == 0 || math.IsNaN(sum) { // no readings, or +Inf and -Inf
			return math.NaN(), n, false
		}
		return sum / n, n, true
	}
	base := &rs.samples[0]
	if base.t >= t {
		return math.NaN(), 0, false
	}
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
	return inc / float64(t-base.t), inc, true
}

// anomaly compares v with the same minute yesterday or the EWMA baseline,
// records v if it is finite, and reports whether the condition holds.
func (rs *ruleState) anomaly(t int64, v float64, ok bool) bool {
	m := floorDiv(t, 60) - 1 // the minute that just closed
	k := int(m % minSlots)
	if k < 0 {
		k += minSlots
	}
	if !ok || math.IsNaN(v) {
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
	if math.IsInf(v, 0) {
		// compared (an infinite reading is an anomaly against any
		// baseline) but never learnt: it would poison the baseline
		rs.daysOK[k] = false
	} else {
		rs.days[k], rs.daysOK[k] = v, true
		e := rs.ewma + ewmaAlpha*(v-rs.ewma)
		if rs.ewmaN == 0 || math.IsInf(e, 0) || math.IsNaN(e) {
			// first value, or finite values so far apart the EWMA
			// overflowed: start again from this one
			e, rs.ewmaN = v, 0
		}
		rs.ewma = e
		rs.ewmaN++
	}
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
