package metrics

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// SinkQueue is how many closed minutes wait for one sink; a minute that
// finds the queue full is dropped and counted in
// bulwark_metrics_sink_dropped_total{sink="…"}.
const SinkQueue = 16

// Sink receives each closed minute, for pushing to another system. Export
// runs on a goroutine Run owns, one per sink, never on the Tick path; ctx
// ends when Run's context does. A returned error is counted in
// bulwark_metrics_sink_errors_total and the minute is not retried.
// metricstest.TestSink checks an implementation.
type Sink interface {
	Export(ctx context.Context, iv Interval) error
}

// Interval is one closed minute of every series. It is shared by all sinks:
// treat it as read-only.
type Interval struct {
	Start, End time.Time
	Series     []SeriesValue
}

// SeriesValue is one series' values over an Interval (see Point for what the
// fields hold per kind; histogram quantiles are NaN for a series without
// history).
type SeriesValue struct {
	Metric string
	Kind   string // "counter", "gauge" or "histogram"
	Labels []string
	Values []string
	Point  Point
}

type sinkRunner struct {
	sink    Sink
	q       chan *Interval
	dropped *Counter
	errs    *Counter
	running bool
}

type sinkSet struct {
	mu    sync.Mutex
	list  []*sinkRunner
	n     atomic.Int32
	added chan struct{}
	wg    sync.WaitGroup
}

func (ss *sinkSet) init() { ss.added = make(chan struct{}, 1) }

func (ss *sinkSet) active() bool { return ss.n.Load() > 0 }

// AddSink registers s to receive every minute closed from now on. Minutes
// are queued by Tick and delivered while Run runs.
func (r *Registry) AddSink(s Sink) {
	if s == nil {
		return
	}
	dropped := r.CounterVec("bulwark_metrics_sink_dropped_total", "Closed minutes a sink's full queue dropped.", "sink")
	errs := r.CounterVec("bulwark_metrics_sink_errors_total", "Closed minutes a sink's Export failed on.", "sink")
	ss := &r.sinks
	ss.mu.Lock()
	id := strconv.Itoa(len(ss.list))
	ss.list = append(ss.list, &sinkRunner{sink: s, q: make(chan *Interval, SinkQueue), dropped: dropped.With(id), errs: errs.With(id)})
	ss.n.Add(1)
	ss.mu.Unlock()
	select {
	case ss.added <- struct{}{}:
	default:
	}
}

func (ss *sinkSet) enqueue(_ *Registry, iv *Interval) {
	ss.mu.Lock()
	list := ss.list
	ss.mu.Unlock()
	for _, sr := range list {
		select {
		case sr.q <- iv:
		default:
			sr.dropped.Inc()
		}
	}
}

// start launches a worker per sink; the returned func stops and waits.
func (ss *sinkSet) start(ctx context.Context) func() {
	ctx, cancel := context.WithCancel(ctx)
	ss.startNew(ctx)
	return func() {
		cancel()
		ss.wg.Wait()
		ss.mu.Lock()
		for _, sr := range ss.list {
			sr.running = false
		}
		ss.mu.Unlock()
	}
}

func (ss *sinkSet) startNew(ctx context.Context) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, sr := range ss.list {
		if sr.running {
			continue
		}
		sr.running = true
		ss.wg.Add(1)
		go func() {
			defer ss.wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case iv := <-sr.q:
					if err := sr.sink.Export(ctx, *iv); err != nil {
						sr.errs.Inc()
					}
				}
			}
		}()
	}
}
