package metrics

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"
	"unsafe"
)

// History ring sizes: per second for 5 minutes, per minute for 24 hours.
const (
	secSlots = 300
	minSlots = 1440
)

// historyCost is what a series' history costs on the heap, in bytes, as
// the allocator rounds each allocation up (to its size class, or to whole
// pages past 32 KiB): the value charged to the history budget.
type historyCost struct {
	scalar, hist int64
	// snapChunk is one lazily allocated chunk of a histogram's bucket
	// snapshots; hist reserves all of them (2 × numChunks).
	snapChunk int64
}

// historyCosts measures the costs once: appending to a nil slice allocates
// exactly the rounded size and reports it as the capacity, so the figures
// follow the Go runtime in use rather than a copy of its size classes.
var historyCosts = sync.OnceValue(func() historyCost {
	rounded := func(n uintptr) int64 { return int64(cap(append([]byte(nil), make([]byte, n)...))) }
	const slots = secSlots + minSlots
	head := rounded(unsafe.Sizeof(history{}))
	chunk := rounded(unsafe.Sizeof([chunkSize]uint64{}))
	return historyCost{
		scalar:    head + rounded(slots*8),
		hist:      head + rounded(2*slots*8) + rounded(3*slots*4) + rounded(unsafe.Sizeof(histSnaps{})) + 2*numChunks*chunk,
		snapChunk: chunk,
	}
})

// Point is one closed interval of a series. For a counter Value is the
// increase in the interval; for a gauge its value when the interval closed;
// for a histogram Value and Count are the observations in the interval, Sum
// their sum and P50, P90, P99 their quantiles (NaN when there were none).
type Point struct {
	Time                             time.Time // start of the interval
	Value, Count, Sum, P50, P90, P99 float64
}

type tickState struct {
	next    int64 // first second not yet closed (Unix seconds)
	first   int64 // the first second a Tick closed, once ticked is set
	ticked  bool
	scratch bucketCounts
	delta   bucketCounts
	rules   []*ruleState
	names   map[string]*ruleState
}

func (t *tickState) init(now time.Time) {
	t.next = floorSec(now)
	t.names = map[string]*ruleState{}
}

// The registry's time domain: what Tick and the clock give is clamped to
// years 1 through 9999, the range time.Time encodes in JSON and RFC 3339,
// so no clock, however wrong, can overflow the interval arithmetic.
var (
	minUnix = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	maxUnix = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
)

// floorSec returns t's Unix second, clamped to the registry's time domain.
func floorSec(t time.Time) int64 {
	return min(max(t.Unix(), minUnix), maxUnix)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && (a < 0) {
		q--
	}
	return q
}

// seriesTick is the interval state of one series.
type seriesTick struct {
	prevSec, prevMin       uint64 // counter total or histogram count at the last close
	prevSecSum, prevMinSum float64
	hist                   *history
	noHist                 bool
	// minute values of the last closed minute, for sinks
	lastMin Point
}

// history is a series' rings. Its float storage is one or two slabs
// without pointers, so the allocations are few and their sizes known.
type history struct {
	sec, min ring
	snap     *histSnaps // histograms only
}

// histSnaps are a histogram's bucket counts at the last closed second and
// minute, for the quantiles of the next.
type histSnaps struct{ sec, min bucketCounts }

type ring struct {
	last int64
	n    int
	v    []float64
	sum  []float64
	q    []float32
}

// newHistory allocates a series' rings: per second and per minute values
// in one slab, and for a histogram sums in a second part of it, quantiles
// in a float32 slab and the bucket snapshots.
func newHistory(hist bool) *history {
	const slots = secSlots + minSlots
	h := &history{}
	if !hist {
		f := make([]float64, slots)
		h.sec.v, h.min.v = f[:secSlots:secSlots], f[secSlots:]
		return h
	}
	f := make([]float64, 2*slots)
	q := make([]float32, 3*slots)
	h.sec.v, h.min.v = f[:secSlots:secSlots], f[secSlots:slots:slots]
	h.sec.sum, h.min.sum = f[slots:slots+secSlots:slots+secSlots], f[slots+secSlots:]
	h.sec.q, h.min.q = q[:3*secSlots:3*secSlots], q[3*secSlots:]
	h.snap = new(histSnaps)
	return h
}

func (g *ring) slot(i int64) int {
	m := i % int64(len(g.v))
	if m < 0 {
		m += int64(len(g.v))
	}
	return int(m)
}

// put writes interval i. Skipped intervals get zero counts (a counter or
// histogram saw nothing the registry can place in them) or, for a gauge,
// the previous value.
func (g *ring) put(i int64, p Point, gauge bool) {
	size := int64(len(g.v))
	if g.n > 0 {
		if i <= g.last {
			return
		}
		prev := g.v[g.slot(g.last)]
		// gap is how far i moved; a difference that overflows (i and
		// g.last far apart) counts as more than the ring holds.
		gap := i - g.last
		if gap <= 0 || gap > size {
			gap = size + 1
		}
		start := i - gap + 1
		for j := start; j < i; j++ {
			k := g.slot(j)
			if gauge {
				g.v[k] = prev
			} else {
				g.v[k] = 0
			}
			if g.sum != nil {
				g.sum[k] = 0
				nan := float32(math.NaN())
				g.q[3*k], g.q[3*k+1], g.q[3*k+2] = nan, nan, nan
			}
		}
		g.n = int(min(int64(g.n)+gap, size))
	} else {
		g.n = 1
	}
	k := g.slot(i)
	g.v[k] = p.Value
	if g.sum != nil {
		g.sum[k] = p.Sum
		g.q[3*k], g.q[3*k+1], g.q[3*k+2] = float32(p.P50), float32(p.P90), float32(p.P99)
	}
	g.last = i
}

// meanFrom returns the mean value of up to n intervals that end skip
// intervals before the newest one (NaN when there are none), with the
// intervals from floor up to the ring's oldest counted as zero: a series gets its rings on its first non-zero value, so
// before them it was 0 (or did not exist yet) at every closed interval.
func (g *ring) meanFrom(skip, n int, floor int64) float64 {
	oldest := g.last - int64(g.n) + 1
	floor = min(max(floor, g.last-int64(len(g.v))+1), oldest)
	s, c := 0.0, 0
	for i := g.last - int64(skip); i > g.last-int64(skip+n) && i >= floor; i-- {
		if i >= oldest {
			s += g.v[g.slot(i)]
		}
		c++
	}
	if c == 0 {
		return math.NaN()
	}
	return s / float64(c)
}

func (g *ring) points(step time.Duration, hist bool) []Point { return g.tail(g.n, step, hist) }

// tail returns the newest n points (fewer if the ring holds fewer).
func (g *ring) tail(n int, step time.Duration, hist bool) []Point {
	n = min(n, g.n)
	ps := make([]Point, 0, n)
	for i := g.last - int64(n) + 1; i <= g.last; i++ {
		k := g.slot(i)
		p := Point{Time: time.Unix(i*int64(step/time.Second), 0).UTC(), Value: g.v[k]}
		if hist {
			p.Count, p.Sum = p.Value, g.sum[k]
			p.P50, p.P90, p.P99 = float64(g.q[3*k]), float64(g.q[3*k+1]), float64(g.q[3*k+2])
		} else {
			p.Count, p.P50, p.P90, p.P99 = math.NaN(), math.NaN(), math.NaN(), math.NaN()
			p.Sum = math.NaN()
		}
		ps = append(ps, p)
	}
	return ps
}

// Tick closes every one-second interval that ended at or before now, and the
// minute intervals among them; evaluates alert rules; and queues each closed
// minute for the sinks. Increments seen since the previous Tick go to the
// last interval it closes. A now before the previous Tick's does nothing;
// times outside years 1 to 9999 count as the nearest end of that range.
// Rule callbacks run after Tick releases its lock, on the caller's goroutine.
func (r *Registry) Tick(now time.Time) {
	r.tickMu.Lock()
	t := &r.tick
	end := floorSec(now)
	if end <= t.next {
		r.tickMu.Unlock()
		return
	}
	closedSec := end - 1
	if !t.ticked {
		t.first, t.ticked = closedSec, true
	}
	prevMinute, newMinute := floorDiv(t.next, 60), floorDiv(end, 60)
	minute := newMinute > prevMinute
	closedMin := newMinute - 1
	var iv *Interval
	wantIv := minute && r.sinks.active()
	if wantIv {
		iv = &Interval{Start: time.Unix(closedMin*60, 0).UTC(), End: time.Unix(newMinute*60, 0).UTC()}
	}
	for _, f := range r.families() {
		for _, s := range f.all() {
			r.closeSeries(s, closedSec, minute, closedMin)
			if wantIv {
				iv.Series = append(iv.Series, s.intervalValue())
			}
		}
	}
	t.next = end
	events := r.evalRules(time.Unix(end, 0).UTC(), minute)
	r.tickMu.Unlock()
	if iv != nil {
		r.sinks.enqueue(r, iv)
	}
	for _, e := range events {
		e.fn(e.a)
	}
}

func (r *Registry) closeSeries(s *series, sec int64, minute bool, minIdx int64) {
	st := &s.ts
	f := s.fam
	switch f.kind {
	case kindCounter:
		total := s.c.Value()
		if st.hist == nil && !st.noHist && total > 0 {
			r.allocHistory(s)
		}
		d := total - st.prevSec
		st.prevSec = total
		if st.hist != nil {
			st.hist.sec.put(sec, Point{Value: float64(d)}, false)
		}
		if minute {
			dm := total - st.prevMin
			st.prevMin = total
			st.lastMin = Point{Time: time.Unix(minIdx*60, 0).UTC(), Value: float64(dm)}
			if st.hist != nil {
				st.hist.min.put(minIdx, st.lastMin, false)
			}
		}
	case kindGauge:
		v := s.g.Value()
		if st.hist == nil && !st.noHist && v != 0 {
			r.allocHistory(s)
		}
		if st.hist != nil {
			st.hist.sec.put(sec, Point{Value: v}, true)
		}
		if minute {
			st.lastMin = Point{Time: time.Unix(minIdx*60, 0).UTC(), Value: v}
			if st.hist != nil {
				st.hist.min.put(minIdx, st.lastMin, true)
			}
		}
	case kindHistogram:
		t := &r.tick
		cur := &t.scratch
		cur.load(s.h)
		n := cur.count()
		sum := s.h.Sum()
		if st.hist == nil && !st.noHist && n > 0 {
			r.allocHistory(s)
		}
		p := Point{Value: float64(n - st.prevSec), Count: float64(n - st.prevSec), Sum: sum - st.prevSecSum}
		st.prevSec, st.prevSecSum = n, sum
		if h := st.hist; h != nil {
			t.delta.sub(cur, &h.snap.sec)
			p.P50, p.P90, p.P99 = t.delta.quantile(0.5), t.delta.quantile(0.9), t.delta.quantile(0.99)
			h.snap.sec.copyFrom(cur)
			h.sec.put(sec, p, false)
		}
		if minute {
			pm := Point{Time: time.Unix(minIdx*60, 0).UTC(), Value: float64(n - st.prevMin), Count: float64(n - st.prevMin), Sum: sum - st.prevMinSum}
			pm.P50, pm.P90, pm.P99 = math.NaN(), math.NaN(), math.NaN()
			st.prevMin, st.prevMinSum = n, sum
			if h := st.hist; h != nil {
				t.delta.sub(cur, &h.snap.min)
				pm.P50, pm.P90, pm.P99 = t.delta.quantile(0.5), t.delta.quantile(0.9), t.delta.quantile(0.99)
				h.snap.min.copyFrom(cur)
				h.min.put(minIdx, pm, false)
			}
			st.lastMin = pm
		}
	}
}

// allocHistory gives s its rings if the budget allows, else marks it.
// A histogram's snapshot chunks are reserved in full up front, though
// allocated only for the chunks its observations reach, so the budget
// holds whatever it observes later.
func (r *Registry) allocHistory(s *series) {
	size := historyCosts().scalar
	hist := s.fam.kind == kindHistogram
	if hist {
		size = historyCosts().hist
	}
	if r.used.Add(size) > r.budget {
		r.used.Add(-size)
		s.ts.noHist = true
		s.fam.countHistoryOverflow()
		return
	}
	s.ts.hist = newHistory(hist)
}

// HistoryBytes returns the bytes of history reserved so far (at most the
// budget).
func (r *Registry) HistoryBytes() int64 { return r.used.Load() }

func (s *series) intervalValue() SeriesValue {
	return SeriesValue{Metric: s.fam.name, Kind: s.fam.kind.String(), Labels: s.fam.labels, Values: s.values, Point: s.ts.lastMin}
}

// History returns the closed intervals of one series, oldest first: per
// second for the last 5 minutes (step time.Second) or per minute for the
// last 24 hours (step time.Minute). Label values are given in label order
// (for an Attr: id, key). It returns ErrUnknownMetric for an unknown name or
// series, and ErrNoHistory for a series without history.
func (r *Registry) History(name string, step time.Duration, labelValues ...string) ([]Point, error) {
	if step != time.Second && step != time.Minute {
		return nil, fmt.Errorf("metrics: History step %v: want time.Second or time.Minute", step)
	}
	s, err := r.lookup(name, labelValues)
	if err != nil {
		return nil, err
	}
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	h := s.ts.hist
	if h == nil {
		return nil, fmt.Errorf("metrics: %s%s: %w", name, fmtValues(labelValues), ErrNoHistory)
	}
	hist := s.fam.kind == kindHistogram
	if step == time.Second {
		return h.sec.points(step, hist), nil
	}
	return h.min.points(step, hist), nil
}

// lookup finds an existing series without creating it.
func (r *Registry) lookup(name string, values []string) (*series, error) {
	r.mu.Lock()
	f := r.fams[name]
	r.mu.Unlock()
	if f == nil {
		return nil, fmt.Errorf("metrics: %s: %w", quote(name), ErrUnknownMetric)
	}
	if len(values) != len(f.labels) {
		return nil, fmt.Errorf("metrics: %s: got %d label values, want %d: %w", name, len(values), len(f.labels), ErrUnknownMetric)
	}
	if len(values) == 0 {
		return f.all()[0], nil
	}
	t := canonical(values)
	s := f.idx.lookup(f.idx.hash(t), t)
	if s == nil {
		return nil, fmt.Errorf("metrics: %s%s: %w", name, fmtValues(values), ErrUnknownMetric)
	}
	return s, nil
}

func fmtValues(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return fmt.Sprintf("%q", v)
}

// Run calls Tick just after every second boundary until ctx ends, delivers
// closed minutes to the sinks on goroutines it owns, and returns ctx's
// error once they have stopped. One Run at a time: while one runs, another
// returns ErrRunning at once; after it returns, Run may be called again.
func (r *Registry) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer r.running.Store(false)
	stop := r.sinks.start(ctx)
	defer stop()
	// Wake just after each second boundary, so a closed second holds the
	// increments of that second rather than of a second shifted by the
	// phase Run happened to start at.
	tm := time.NewTimer(untilNextSecond(time.Now()))
	defer tm.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tm.C:
			r.Tick(r.clock.Now())
			tm.Reset(untilNextSecond(time.Now()))
		case <-r.sinks.added:
			r.sinks.startNew(ctx)
		}
	}
}

// tickLag is how long after a second boundary Run ticks.
const tickLag = 2 * time.Millisecond

func untilNextSecond(now time.Time) time.Duration {
	return now.Truncate(time.Second).Add(time.Second + tickLag).Sub(now)
}
