package experiment

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/overload"
	"github.com/platinummonkey/go-concurrency-limits/core"
	"github.com/platinummonkey/go-concurrency-limits/limit"
	"github.com/platinummonkey/go-concurrency-limits/limiter"
	"github.com/platinummonkey/go-concurrency-limits/strategy"
	"golang.org/x/time/rate"
)

// server is one admission policy in front of the same 8 workers. admit
// blocks until the request may run (it then holds one of the 8 workers) or
// refuses it; release is called when the work is done.
type server interface {
	admit(ctx context.Context, class int, user uint8) (release func(), ok bool)
	// level is the admission level to piggyback on responses (LevelOpen
	// for policies without one).
	level() overload.Level
}

// workers is the service's 8 execution slots for the policies that do not
// own them: an unbounded FIFO wait, abandoned only when the run stops (a
// harness artefact so that a collapsed run does not take minutes to drain).
type workers struct {
	sem  chan struct{}
	stop <-chan struct{}
}

func newWorkers(n int, stop <-chan struct{}) *workers {
	return &workers{sem: make(chan struct{}, n), stop: stop}
}

func (w *workers) take() bool {
	select {
	case w.sem <- struct{}{}:
		return true
	case <-w.stop:
		return false
	}
}

func (w *workers) give() { <-w.sem }

// bulwarkServer: the Controller owns the 8 slots and its bounded queue.
type bulwarkServer struct {
	c *overload.Controller
	n *refusals
}

// refusals counts a Bulwark server's refusals by reason, and the windows
// that ended with the level closed.
type refusals struct {
	level, queue, deadline, gone, closedWindows, windows atomic.Int64

	mu    sync.Mutex
	trace []overload.Level // the level at the end of every window
}

func newBulwark(slots, maxQueue int) *bulwarkServer {
	cfg := overload.Config{MaxConcurrency: slots, MaxQueue: maxQueue}
	if os.Getenv("OVERLOAD_DEBUG") != "" {
		start := time.Now()
		cfg.Hooks.OnWindow = func(s overload.WindowStats) {
			fmt.Fprintf(os.Stderr, "%6.2fs arrivals=%d passed=%d started=%d meanQ=%v over=%v idle=%v cap=%.0f/s backlog=%d %v->%v\n",
				time.Since(start).Seconds(), s.Arrivals, s.Passed, s.Started, s.MeanQueue.Round(time.Millisecond/10), s.Overloaded, s.Idle, s.Capacity, s.Backlog, s.From, s.To)
		}
	}
	if os.Getenv("OVERLOAD_DEBUG") != "" {
		cfg.Hooks.OnShed = func(p overload.Priority, e *overload.ShedError) {
			if p.Business == 0 {
				fmt.Fprintf(os.Stderr, "class 0 shed: %v\n", e)
			}
		}
	}
	n := &refusals{}
	onShed, onWindow := cfg.Hooks.OnShed, cfg.Hooks.OnWindow
	cfg.Hooks.OnShed = func(p overload.Priority, e *overload.ShedError) {
		switch e.Reason {
		case overload.ReasonLevel:
			n.level.Add(1)
		case overload.ReasonDeadline:
			n.deadline.Add(1)
		default:
			n.queue.Add(1)
		}
		if onShed != nil {
			onShed(p, e)
		}
	}
	cfg.Hooks.OnWindow = func(s overload.WindowStats) {
		n.windows.Add(1)
		n.mu.Lock()
		n.trace = append(n.trace, s.To)
		n.mu.Unlock()
		if !s.To.IsOpen() {
			n.closedWindows.Add(1)
		}
		if onWindow != nil {
			onWindow(s)
		}
	}
	c, err := overload.New(cfg)
	if err != nil {
		panic(err)
	}
	return &bulwarkServer{c: c, n: n}
}

func (s *bulwarkServer) admit(ctx context.Context, class int, user uint8) (func(), bool) {
	p, err := s.c.Acquire(ctx, overload.Priority{Business: uint8(class), User: user})
	if err != nil {
		if !errors.Is(err, overload.ErrShed) {
			s.n.gone.Add(1)
		}
		return nil, false
	}
	return p.Release, true
}

func (s *bulwarkServer) level() overload.Level { return s.c.Level() }

// ownQueueServer: a service that keeps its own queue (the 8 workers behind
// a FIFO wait) and reports to the Controller through Admit on arrival and
// ObserveQueueTime when the request starts (issue 23). A request whose
// deadline passes while it waits leaves the queue.
type ownQueueServer struct {
	c   *overload.Controller
	n   *refusals
	sem chan struct{}
}

func (s *ownQueueServer) admit(ctx context.Context, class int, user uint8) (func(), bool) {
	if s.c.Admit(overload.Priority{Business: uint8(class), User: user}) != nil {
		return nil, false
	}
	t := time.Now()
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		s.n.gone.Add(1)
		return nil, false
	}
	s.c.ObserveQueueTime(time.Since(t))
	return func() { <-s.sem }, true
}

func (s *ownQueueServer) level() overload.Level { return s.c.Level() }

// noControl: every request waits for a worker, however long.
type noControl struct{ w *workers }

func (s *noControl) admit(ctx context.Context, class int, user uint8) (func(), bool) {
	if !s.w.take() {
		return nil, false
	}
	return s.w.give, true
}

func (s *noControl) level() overload.Level { return overload.LevelOpen }

// rateServer: a fixed x/time/rate limit in front of the workers, set a little
// under the nominal capacity, as an operator would configure it.
type rateServer struct {
	lim *rate.Limiter
	w   *workers
}

func (s *rateServer) admit(ctx context.Context, class int, user uint8) (func(), bool) {
	if !s.lim.Allow() || !s.w.take() {
		return nil, false
	}
	return s.w.give, true
}

func (s *rateServer) level() overload.Level { return overload.LevelOpen }

// gclServer: platinummonkey/go-concurrency-limits v1.0.0, its default
// limiter (Vegas limit, simple strategy) in front of the workers; the
// measured RTT includes the wait for a worker, as it would in a server.
type gclServer struct {
	l *limiter.DefaultLimiter
	w *workers
}

func newGCL(w *workers) *gclServer {
	l, err := limiter.NewDefaultLimiterWithDefaults("experiment",
		strategy.NewSimpleStrategy(20), limit.NoopLimitLogger{}, core.EmptyMetricRegistryInstance)
	if err != nil {
		panic(err)
	}
	return &gclServer{l: l, w: w}
}

func (s *gclServer) admit(ctx context.Context, class int, user uint8) (func(), bool) {
	lis, ok := s.l.Acquire(ctx)
	if !ok {
		return nil, false
	}
	if !s.w.take() {
		lis.OnIgnore()
		return nil, false
	}
	return func() { s.w.give(); lis.OnSuccess() }, true
}

func (s *gclServer) level() overload.Level { return overload.LevelOpen }

// policies in table order.
var policies = []string{"bulwark", "bulwark-own", "bulwark-q64", "none", "rate", "gcl"}

var policyNames = map[string]string{
	"bulwark":     "Bulwark (DAGOR)",
	"bulwark-q64": "Bulwark, MaxQueue 64",
	"bulwark-own": "Bulwark, own queue (Admit+ObserveQueueTime)",
	"none":        "no control",
	"rate":        "x/time/rate 760/s",
	"gcl":         "go-concurrency-limits Vegas",
}

func newServer(name string, stop <-chan struct{}) server {
	switch name {
	case "bulwark":
		return newBulwark(slots, 0) // defaults: queue 4 × 8 = 32, waits up to about 40 ms
	case "bulwark-own":
		b := newBulwark(slots, 0)
		return &ownQueueServer{c: b.c, n: b.n, sem: make(chan struct{}, slots)}
	case "bulwark-q64":
		return newBulwark(slots, 64) // a longer queue, waits up to about 80 ms
	case "none":
		return &noControl{w: newWorkers(slots, stop)}
	case "rate":
		return &rateServer{lim: rate.NewLimiter(760, slots), w: newWorkers(slots, stop)}
	case "gcl":
		return newGCL(newWorkers(slots, stop))
	}
	panic("unknown policy " + name)
}
