package overload

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// This file is a small load simulator for the tests: Poisson arrivals of
// requests with business classes 0..3 (10/20/30/40 %) and uniform user
// levels, exponential service times, a deadline per request. Run it inside a
// synctest bubble: time is virtual, so the results depend on the seed only.

type simConfig struct {
	seed       uint64
	slots      int
	service    time.Duration // mean handler time
	segments   []simSegment  // load multiples of capacity (slots / service)
	deadline   time.Duration // per request; 0 means 500 ms
	ownQueue   bool          // the service keeps its own FIFO and reports via Admit/ObserveQueueTime
	gateSheds  bool          // the Gate in front sheds what the cached level refuses (else it only learns)
	cfg        Config        // Controller config; MaxConcurrency is set to slots
	gateSilent bool          // the shedding Gate does not tell the Controller its level
}

type simSegment struct {
	mult float64
	dur  time.Duration
}

// simRecord is the outcome of one request.
type simRecord struct {
	at     time.Duration // arrival since the start
	class  int
	ok     bool          // finished within its deadline
	queued time.Duration // reported or measured queuing time, if it started
	start  time.Duration // when it started, if it did
	svc    time.Duration // service time, if it started
	began  bool
}

type simResult struct {
	recs           []simRecord
	firstLevelShed time.Duration // -1 if none
	gateLearned    bool          // a Gate fed the responses' level cached a closed level
	windows        []WindowStats
	windowEnds     []time.Duration
	busy           time.Duration // worker time spent serving
	c              *Controller
}

func (r *simResult) capacity(cfg simConfig) float64 {
	return float64(cfg.slots) / cfg.service.Seconds()
}

// goodput over arrivals in [from, to): finished in time ÷ min(offered, capacity × span).
func (r *simResult) goodput(cfg simConfig, from, to time.Duration) float64 {
	var offered, ok int
	for _, x := range r.recs {
		if x.at >= from && x.at < to {
			offered++
			if x.ok {
				ok++
			}
		}
	}
	d := math.Min(float64(offered), r.capacity(cfg)*(to-from).Seconds())
	if d <= 0 {
		return 1
	}
	return float64(ok) / d
}

func (r *simResult) classSuccess(class int, from, to time.Duration) float64 {
	var n, ok int
	for _, x := range r.recs {
		if x.class == class && x.at >= from && x.at < to {
			n++
			if x.ok {
				ok++
			}
		}
	}
	if n == 0 {
		return 1
	}
	return float64(ok) / float64(n)
}

// busyIn is the worker time spent serving within [from, to).
func (r *simResult) busyIn(from, to time.Duration) time.Duration {
	var sum time.Duration
	for _, x := range r.recs {
		if !x.began {
			continue
		}
		s, e := max(x.start, from), min(x.start+x.svc, to)
		if e > s {
			sum += e - s
		}
	}
	return sum
}

// meanQueued is the mean queuing time of requests that started in [from, to).
func (r *simResult) meanQueued(from, to time.Duration) time.Duration {
	var sum time.Duration
	var n int
	for _, x := range r.recs {
		if x.began && x.start >= from && x.start < to {
			sum += x.queued
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / time.Duration(n)
}

func runSim(sc simConfig) *simResult {
	if sc.deadline == 0 {
		sc.deadline = 500 * time.Millisecond
	}
	res := &simResult{firstLevelShed: -1}
	start := time.Now()
	var mu sync.Mutex
	cfg := sc.cfg
	cfg.MaxConcurrency = sc.slots
	cfg.Hooks.OnShed = func(_ Priority, e *ShedError) {
		if e.Reason == ReasonLevel && !e.DryRun {
			mu.Lock()
			if res.firstLevelShed < 0 {
				res.firstLevelShed = time.Since(start)
			}
			mu.Unlock()
		}
	}
	cfg.Hooks.OnWindow = func(s WindowStats) {
		mu.Lock()
		res.windows = append(res.windows, s)
		res.windowEnds = append(res.windowEnds, time.Since(start))
		mu.Unlock()
	}
	c, err := New(cfg)
	if err != nil {
		panic(err)
	}
	res.c = c
	gate, err := NewGate(GateConfig{})
	if err != nil {
		panic(err)
	}
	var gateLearned atomic.Bool

	rng := rand.New(rand.NewPCG(sc.seed, sc.seed*0x9e3779b97f4a7c15+1))
	capacity := float64(sc.slots) / sc.service.Seconds()

	// The service's own queue, for ownQueue: workers take from a FIFO.
	type job struct {
		rec     *simRecord
		arrival time.Time
		svc     time.Duration
		ctx     context.Context
		done    func()
	}
	var (
		qmu   sync.Mutex
		fifo  []*job
		idle  = sc.slots
		busyN atomic.Int64 // ns
	)
	runJob := func(j *job) {
		for j != nil {
			now := time.Now()
			if j.ctx.Err() == nil {
				wait := now.Sub(j.arrival)
				c.ObserveQueueTime(wait)
				j.rec.began, j.rec.queued, j.rec.start, j.rec.svc = true, wait, now.Sub(start), j.svc
				time.Sleep(j.svc)
				busyN.Add(int64(j.svc))
				j.rec.ok = time.Since(j.arrival) <= sc.deadline
			}
			j.done()
			qmu.Lock()
			if len(fifo) > 0 {
				j = fifo[0]
				fifo = fifo[1:]
			} else {
				j = nil
				idle++
			}
			qmu.Unlock()
		}
	}

	var wg sync.WaitGroup
	var recs []*simRecord
	next := start
	segEnd := start
	for _, seg := range sc.segments {
		segEnd = segEnd.Add(seg.dur)
		rate := seg.mult * capacity
		for {
			next = next.Add(time.Duration(rng.ExpFloat64() / rate * float64(time.Second)))
			if !next.Before(segEnd) {
				next = segEnd
				break
			}
			time.Sleep(time.Until(next))
			x := rng.Float64()
			class := 0
			for _, share := range []float64{0.1, 0.2, 0.3} {
				if x < share {
					break
				}
				x -= share
				class++
			}
			p := Priority{Business: uint8(class), User: uint8(rng.IntN(UserLevels))}
			svc := time.Duration(rng.ExpFloat64() * float64(sc.service))
			rec := &simRecord{at: next.Sub(start), class: class}
			recs = append(recs, rec)
			arrival := next
			if sc.gateSheds && gate.Allow("svc", p) != nil {
				continue
			}
			if sc.gateSheds && !sc.gateSilent {
				if l, held, ok := gate.Enforced("svc"); ok {
					c.ObserveGate(l, held) // the GateLevelHeader and GateHeldHeader
				}
			}
			if sc.ownQueue {
				if c.Admit(p) != nil {
					observe(gate, c, &gateLearned)
					continue
				}
				ctx, cancel := context.WithDeadline(context.Background(), arrival.Add(sc.deadline))
				wg.Add(1)
				j := &job{rec: rec, arrival: arrival, svc: svc, ctx: ctx, done: func() {
					cancel()
					observe(gate, c, &gateLearned)
					wg.Done()
				}}
				qmu.Lock()
				if idle > 0 {
					idle--
					qmu.Unlock()
					go runJob(j)
				} else {
					fifo = append(fifo, j)
					qmu.Unlock()
				}
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithDeadline(context.Background(), arrival.Add(sc.deadline))
				defer cancel()
				permit, err := c.Acquire(ctx, p)
				observe(gate, c, &gateLearned)
				if err != nil {
					return
				}
				now := time.Now()
				rec.began, rec.queued, rec.start, rec.svc = true, now.Sub(arrival), now.Sub(start), svc
				time.Sleep(svc)
				busyN.Add(int64(svc))
				permit.Release()
				rec.ok = time.Since(arrival) <= sc.deadline
			}()
		}
	}
	wg.Wait()
	res.busy = time.Duration(busyN.Load())
	res.gateLearned = gateLearned.Load()
	res.recs = make([]simRecord, len(recs))
	for i, r := range recs {
		res.recs[i] = *r
	}
	return res
}

// observe feeds the level piggybacked on a response into the Gate, as
// RoundTripper does with the LevelHeader.
func observe(g *Gate, c *Controller, learned *atomic.Bool) {
	l := c.Level()
	g.Observe("svc", l)
	if !l.IsOpen() {
		if _, ok := g.Level("svc"); ok {
			learned.Store(true)
		}
	}
}
