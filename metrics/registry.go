package metrics

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Defaults of NewRegistry's options.
const (
	DefaultMaxSeries     = 10_000
	DefaultHistoryBudget = 64 << 20
)

// OverflowValue is the label value of every label of a vector's overflow
// series, and the key label of an Attr's overflow key.
const OverflowValue = "__overflow__"

// OverflowMetric counts what the registry had to fold or leave out, by
// metric and reason: "series" (a With past MaxSeries, routed to the overflow
// series), "key" (an Attr key out of range) and "history" (a series left
// without history because the budget was spent).
const OverflowMetric = "bulwark_metrics_overflow_total"

// Option configures NewRegistry.
type Option func(*options)

type options struct {
	maxSeries int
	clock     Clock
	budget    int
}

// WithMaxSeries sets how many label combinations one vector holds (zero means
// DefaultMaxSeries); further combinations share the overflow series.
// NewRegistry panics if n is negative.
func WithMaxSeries(n int) Option { return func(o *options) { o.maxSeries = n } }

// WithClock sets the time source (nil means time.Now). It dates the first
// interval and every interval Run closes; Tick takes its time as argument.
// NewRegistry reads it once and panics, naming the option, if that panics
// (a typed nil pointer, for instance).
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// WithHistoryBudget caps the bytes of history all series may hold together
// (zero means DefaultHistoryBudget). NewRegistry panics if bytes is negative.
func WithHistoryBudget(bytes int) Option { return func(o *options) { o.budget = bytes } }

// Registry holds metrics, their history and alert rules, and serves them. It
// is safe for concurrent use. Nothing runs by itself: call Tick, or Run on a
// goroutine you own, to close intervals, evaluate rules and feed sinks.
type Registry struct {
	clock     Clock
	maxSeries int
	budget    int64
	used      atomic.Int64 // history bytes reserved

	mu    sync.Mutex // registration
	fams  map[string]*family
	flist atomic.Pointer[[]*family]
	ovf   *family

	tick tickState // guarded by tickMu
	// tickMu serialises Tick, history reads and rule changes.
	tickMu sync.Mutex

	sinks   sinkSet
	running atomic.Bool
}

// NewRegistry returns an empty registry. It panics, naming the option, when
// an option's value is impossible.
func NewRegistry(opts ...Option) *Registry {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.maxSeries < 0 {
		panic("metrics: WithMaxSeries: negative series count " + strconv.Itoa(o.maxSeries))
	}
	if o.budget < 0 {
		panic("metrics: WithHistoryBudget: negative byte count " + strconv.Itoa(o.budget))
	}
	if o.maxSeries == 0 {
		o.maxSeries = DefaultMaxSeries
	}
	if o.budget == 0 {
		o.budget = DefaultHistoryBudget
	}
	if o.clock == nil {
		o.clock = realClock{}
	}
	r := &Registry{clock: o.clock, maxSeries: o.maxSeries, budget: int64(o.budget), fams: map[string]*family{}}
	r.flist.Store(&[]*family{})
	r.ovf = r.register(OverflowMetric, "Label combinations, Attr keys and history that the registry folded or left out, by metric and reason.", kindCounter, []string{"metric", "reason"}, math.MaxInt)
	r.tick.init(firstNow(r.clock))
	r.sinks.init()
	return r
}

// firstNow reads the clock once, turning a panic (a typed nil pointer
// passed to WithClock) into one that names the option.
func firstNow(c Clock) (now time.Time) {
	defer func() {
		if v := recover(); v != nil {
			panic(fmt.Sprintf("metrics: WithClock: the clock's Now panicked (a nil %T?): %v", c, v))
		}
	}()
	return c.Now()
}

type metricKind uint8

const (
	kindCounter metricKind = iota + 1
	kindGauge
	kindHistogram
)

func (k metricKind) String() string {
	switch k {
	case kindCounter:
		return "counter"
	case kindGauge:
		return "gauge"
	case kindHistogram:
		return "histogram"
	}
	return "untyped"
}

// family is one metric name: its kind, help, label names and series.
type family struct {
	r      *Registry
	name   string
	help   string
	kind   metricKind
	labels []string
	max    int64
	attr   bool

	idx     index
	count   atomic.Int64 // series, excluding the overflow series
	aliases int64        // raw label values mapped to a cleaned series; guarded by mu

	mu      sync.Mutex // inserts
	list    atomic.Pointer[[]*series]
	ovfS    atomic.Pointer[series]
	ovfCtr  atomic.Pointer[Counter] // reason="series"
	histCtr atomic.Pointer[Counter] // reason="history"
	attrs   map[uint32]*Attr        // Attr ids; guarded by Registry.mu
	attrOvf *Attr                   // guarded by Registry.mu
}

// series is one label combination of a family.
type series struct {
	fam    *family
	values []string // as exposed: valid UTF-8, each at most MaxLabelValueLen bytes
	c      Counter
	g      Gauge
	h      *Histogram
	ts     seriesTick // guarded by Registry.tickMu
}

func (r *Registry) families() []*family { return *r.flist.Load() }

func (r *Registry) register(name, help string, kind metricKind, labels []string, max int) *family {
	checkNames(name, kind, labels)
	r.mu.Lock()
	defer r.mu.Unlock()
	if f := r.fams[name]; f != nil {
		if f.kind != kind || f.help != help || !equalStrings(f.labels, labels) || f.attr {
			what := f.kind.String()
			if f.attr {
				what = "Attr"
			}
			panic("metrics: " + name + " registered again with a different kind, help or labels: have " +
				what + " " + strconv.Quote(f.help) + " [" + strings.Join(f.labels, ",") + "], asked for " +
				kind.String() + " " + strconv.Quote(help) + " [" + strings.Join(labels, ",") + "]")
		}
		return f
	}
	return r.registerLocked(name, help, kind, labels, max)
}

// checkNames panics if a metric or label name breaks Prometheus's rules.
func checkNames(name string, kind metricKind, labels []string) {
	if err := checkName(name); err != "" {
		panic("metrics: metric name " + strconv.Quote(name) + ": " + err)
	}
	seen := map[string]bool{}
	for _, l := range labels {
		if err := checkLabel(l, kind); err != "" {
			panic("metrics: " + name + ": label name " + strconv.Quote(l) + ": " + err)
		}
		if seen[l] {
			panic("metrics: " + name + ": duplicate label name " + strconv.Quote(l))
		}
		seen[l] = true
	}
}

// registerLocked adds a new family; the caller holds r.mu and has checked
// that name is free and valid.
func (r *Registry) registerLocked(name, help string, kind metricKind, labels []string, max int) *family {
	for _, n := range derivedNames(name, kind) {
		if g := r.fams[n]; g != nil {
			panic("metrics: " + name + ": exposition name " + n + " is already a metric")
		}
	}
	for _, g := range r.fams {
		for _, n := range derivedNames(g.name, g.kind) {
			if n == name {
				panic("metrics: " + name + ": name is already used in the exposition of " + g.name)
			}
		}
	}
	f := &family{r: r, name: name, help: help, kind: kind, labels: append([]string(nil), labels...), max: int64(max)}
	f.idx.init()
	f.list.Store(&[]*series{})
	if len(labels) == 0 {
		f.newSeries(0, nil)
	}
	r.fams[name] = f
	old := r.families()
	nl := make([]*family, len(old), len(old)+1)
	copy(nl, old)
	nl = append(nl, f)
	r.flist.Store(&nl)
	return f
}

func derivedNames(name string, kind metricKind) []string {
	if kind == kindHistogram {
		return []string{name + "_bucket", name + "_sum", name + "_count"}
	}
	return nil
}

func checkName(name string) string {
	if name == "" {
		return "empty"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return "must match [a-zA-Z_:][a-zA-Z0-9_:]*"
	}
	return ""
}

func checkLabel(l string, kind metricKind) string {
	if l == "" {
		return "empty"
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return "must match [a-zA-Z_][a-zA-Z0-9_]*"
	}
	if strings.HasPrefix(l, "__") {
		return "names starting with __ are reserved"
	}
	if kind == kindHistogram && l == "le" {
		return "le is reserved for histogram buckets"
	}
	return ""
}

// newSeries creates a series with the given key, which is also how it is
// exposed; the caller holds f.mu (or owns f exclusively).
func (f *family) newSeries(h uint64, key []string) *series {
	s := &series{fam: f, values: key}
	if f.kind == kindHistogram {
		s.h = new(Histogram)
	}
	if len(f.labels) > 0 {
		f.idx.insert(&entry{hash: h, key: key, s: s})
	}
	old := *f.list.Load()
	nl := append(old, s)
	f.list.Store(&nl)
	return s
}

func (f *family) all() []*series { return *f.list.Load() }

// with returns the series for values, creating it if there is room.
func (f *family) with(values []string) *series {
	if len(values) != len(f.labels) {
		f.badCount(len(values))
	}
	if len(f.labels) == 0 {
		return f.all()[0]
	}
	h := uint64(len(values))
	for _, v := range values {
		if len(v) > MaxLabelValueLen {
			return f.withLong(values)
		}
		h = f.idx.hashString(h, v)
	}
	if s := f.idx.lookup(h, values); s != nil {
		return s
	}
	return f.insert(h, values)
}

func (f *family) badCount(n int) {
	panic("metrics: " + f.name + ": got " + strconv.Itoa(n) + " label values, want " + strconv.Itoa(len(f.labels)) +
		" (" + strings.Join(f.labels, ", ") + ")")
}

// withLong handles values of which one is longer than MaxLabelValueLen:
// they are looked up by their cleaned, cut form (an allocation per call;
// no alias is kept for them, as their raw text is unbounded).
//
//go:noinline
func (f *family) withLong(values []string) *series {
	c := canonical(values)
	h := f.idx.hash(c)
	if s := f.idx.lookup(h, c); s != nil {
		return s
	}
	return f.insertCanonical(h, c, 0, nil)
}

// insert handles values (each at most MaxLabelValueLen bytes) that the
// index does not hold. Valid UTF-8 is its own canonical form; invalid
// UTF-8 is looked up cleaned, and the raw values become an alias of that
// series (while there is room for aliases), so the next With of the same
// raw values is again one lock-free lookup.
//
//go:noinline
func (f *family) insert(h uint64, values []string) *series {
	for _, v := range values {
		if !utf8.ValidString(v) {
			c := canonical(values)
			ch := f.idx.hash(c)
			if s := f.idx.lookup(ch, c); s != nil {
				f.mu.Lock()
				f.addAlias(h, values, s)
				f.mu.Unlock()
				return s
			}
			return f.insertCanonical(ch, c, h, values)
		}
	}
	return f.insertCanonical(h, values, 0, nil)
}

// insertCanonical returns the series of the canonical values c, creating
// it if the family has room, else the overflow series; alias, if not nil,
// are raw values to map to it. Only distinct canonical series count
// against MaxSeries.
func (f *family) insertCanonical(h uint64, c []string, aliasH uint64, alias []string) *series {
	if f.count.Load() >= f.max && f.idx.lookup(h, c) == nil {
		return f.overflow()
	}
	f.mu.Lock()
	s := f.idx.lookup(h, c)
	if s == nil {
		if f.count.Load() >= f.max {
			f.mu.Unlock()
			return f.overflow()
		}
		key := make([]string, len(c))
		for i, v := range c {
			key[i] = strings.Clone(v)
		}
		s = f.newSeries(h, key)
		f.count.Add(1)
	}
	if alias != nil {
		f.addAlias(aliasH, alias, s)
	}
	f.mu.Unlock()
	return s
}

// addAlias maps raw values to s if there is room for another alias and
// they are not mapped yet; the caller holds f.mu. A family keeps at most
// MaxSeries aliases, each at most labels × MaxLabelValueLen bytes of text.
func (f *family) addAlias(h uint64, raw []string, s *series) {
	if f.aliases >= f.max || f.idx.lookup(h, raw) != nil {
		return
	}
	key := make([]string, len(raw))
	for i, v := range raw {
		key[i] = strings.Clone(v)
	}
	f.idx.insert(&entry{hash: h, key: key, s: s})
	f.aliases++
}

// overflow counts one With past the cap and returns the overflow series.
func (f *family) overflow() *series {
	if f != f.r.ovf {
		c := f.ovfCtr.Load()
		if c == nil {
			c = &f.r.ovf.with([]string{f.name, "series"}).c
			f.ovfCtr.Store(c)
		}
		c.Inc()
	}
	if s := f.ovfS.Load(); s != nil {
		return s
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.ovfS.Load(); s != nil {
		return s
	}
	key := make([]string, len(f.labels))
	for i := range key {
		key[i] = OverflowValue
	}
	h := f.idx.hash(key)
	s := f.idx.lookup(h, key)
	if s == nil {
		s = f.newSeries(h, key)
	}
	f.ovfS.Store(s)
	return s
}

func (f *family) countHistoryOverflow() {
	if f == f.r.ovf {
		return
	}
	c := f.histCtr.Load()
	if c == nil {
		c = &f.r.ovf.with([]string{f.name, "history"}).c
		f.histCtr.Store(c)
	}
	c.Inc()
}

// Counter returns the counter registered under name, registering it first.
// It panics if name is invalid or registered with another kind or help.
func (r *Registry) Counter(name, help string) *Counter {
	return &r.register(name, help, kindCounter, nil, 0).all()[0].c
}

// Gauge returns the gauge registered under name, registering it first.
func (r *Registry) Gauge(name, help string) *Gauge {
	return &r.register(name, help, kindGauge, nil, 0).all()[0].g
}

// Histogram returns the histogram registered under name, registering it
// first. Observations are in base units (seconds, bytes), as Prometheus
// names them (http_request_duration_seconds).
func (r *Registry) Histogram(name, help string) *Histogram {
	return r.register(name, help, kindHistogram, nil, 0).all()[0].h
}

// CounterVec is a counter per label combination.
type CounterVec struct{ f *family }

// GaugeVec is a gauge per label combination.
type GaugeVec struct{ f *family }

// HistogramVec is a histogram per label combination.
type HistogramVec struct{ f *family }

// CounterVec returns the counter vector registered under name with the given
// label names, registering it first. It panics if a name is invalid or the
// metric exists with another kind, help or labels.
func (r *Registry) CounterVec(name, help string, labels ...string) *CounterVec {
	return &CounterVec{r.register(name, help, kindCounter, labels, r.maxSeries)}
}

// GaugeVec returns the gauge vector registered under name.
func (r *Registry) GaugeVec(name, help string, labels ...string) *GaugeVec {
	return &GaugeVec{r.register(name, help, kindGauge, labels, r.maxSeries)}
}

// HistogramVec returns the histogram vector registered under name.
func (r *Registry) HistogramVec(name, help string, labels ...string) *HistogramVec {
	return &HistogramVec{r.register(name, help, kindHistogram, labels, r.maxSeries)}
}

// With returns the counter for the label values, one per label name in
// order. An existing series costs a lock-free lookup and no allocation; a
// new one past MaxSeries is the overflow series. It panics if the number of
// values differs from the number of labels.
func (v *CounterVec) With(values ...string) *Counter { return &v.f.with(values).c }

// With returns the gauge for the label values (see CounterVec.With).
func (v *GaugeVec) With(values ...string) *Gauge { return &v.f.with(values).g }

// With returns the histogram for the label values (see CounterVec.With).
func (v *HistogramVec) With(values ...string) *Histogram { return v.f.with(values).h }

// sortedSeries returns a family's series ordered by label values.
func sortedSeries(f *family) []*series {
	ss := append([]*series(nil), f.all()...)
	sort.Slice(ss, func(i, j int) bool {
		a, b := ss[i].values, ss[j].values
		for k := range a {
			if a[k] != b[k] {
				return a[k] < b[k]
			}
		}
		return false
	})
	return ss
}

func quote(s string) string { return strconv.Quote(s) }

// MaxSeries returns the per-vector series cap.
func (r *Registry) MaxSeries() int { return r.maxSeries }
