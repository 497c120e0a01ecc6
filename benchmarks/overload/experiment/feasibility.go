package experiment

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/bulwark-go/bulwark/overload"
)

// Feasibility (issues 16.3 and 23.1): which of the targets can any
// admission policy that ignores the queue's state meet, and which does the
// Controller miss on its own? A priority level is such a policy within a
// window: it admits a fixed fraction of the arrivals whatever the queue
// holds. The oracle below admits a fixed random fraction chosen so that
// the workers' utilisation is a given target; by Erlang C (M/M/c) its mean
// wait is a property of the shape, not of any controller.

// Policy is the admission in front of the workers in a feasibility run.
type Policy int

const (
	// Oracle is a fixed admission level that passes the most important
	// Target ÷ Mult of the arrivals (whole classes, then a random share of
	// the boundary class): a priority level that is always right about
	// the load. It ignores the queue's state, so the admitted stream is
	// Poisson at Target × capacity and M/M/c theory gives its wait.
	Oracle Policy = iota
	// Slots is the Controller owning the slots (Acquire, default Config
	// except MaxConcurrency; 500 ms deadlines from arrival).
	Slots
	// OwnQueue is a service with its own unbounded FIFO reporting through
	// Admit and ObserveQueueTime (default Config except MaxConcurrency); it
	// runs everything it admitted, however old.
	OwnQueue
	// None admits everything into an unbounded FIFO.
	None
)

func (p Policy) String() string {
	return [...]string{"oracle", "slots", "own queue", "no control"}[p]
}

// Shape is one feasibility run: Poisson arrivals at Mult × Slots ÷ Service
// per second, exponential service times of mean Service (lognormal with
// CV 1 when Lognormal; Pareto with α = 1.5 when Pareto; 90 % at half the
// mean and 10 % at 5.5 × when Bimodal), classes 10/20/30/40 %, 128 uniform
// user levels.
type Shape struct {
	Slots     int
	Service   time.Duration
	Mult      float64
	Lognormal bool
	Pareto    bool
	Bimodal   bool
	Policy    Policy
	Target    float64       // Oracle: utilisation aimed at
	Span      time.Duration // run length (default 10 s)
	// PriorityQueue (Oracle and None only): the workers' queue serves the
	// most important class first, FIFO within a class, instead of one FIFO.
	PriorityQueue bool
	Seed          uint64
}

// Measured is from FeasibilityFrom (3 s) to the end of the run.
type Measured struct {
	MeanWait    time.Duration   // of the requests that started after 3 s
	Utilisation float64         // service time started after 3 s ÷ (slots × measured span)
	Started     int             // requests started after 3 s
	Windows     []time.Duration // mean wait of the starts in each second of the run (-1: none)
	Refused     int             // arrivals not admitted, whole run
	Arrivals    int
	// Of the arrivals after 3 s: the share of class 0 that finished within
	// 500 ms of arrival, and goodput (finished within 500 ms ÷
	// min(arrivals, capacity × measured span)).
	Class0, Goodput float64
}

// FeasibilityFrom is where measuring starts, as in issue 23.1.
const FeasibilityFrom = 3 * time.Second

// ErlangCWait is the M/M/c mean queuing time at utilisation rho with c
// servers of mean service time s.
func ErlangCWait(c int, s time.Duration, rho float64) time.Duration {
	a := float64(c) * rho
	sum, term := 0.0, 1.0
	for k := range c {
		if k > 0 {
			term *= a / float64(k)
		}
		sum += term
	}
	top := term * a / float64(c) / (1 - rho) // a^c / c! × 1 / (1 − ρ)
	pWait := top / (sum + top)
	return time.Duration(pWait * float64(s) / (float64(c) * (1 - rho)))
}

// RunFeasibility runs one shape. Run it in a testing/synctest bubble.
func RunFeasibility(sh Shape) Measured {
	span := sh.Span
	if span == 0 {
		span = 10 * time.Second
	}
	rng := rand.New(rand.NewPCG(sh.Seed, 0xfea5))
	rate := sh.Mult * float64(sh.Slots) / sh.Service.Seconds()
	sigma := math.Sqrt(math.Log(2))
	mu := math.Log(float64(sh.Service)) - sigma*sigma/2
	var c *overload.Controller
	if sh.Policy == Slots || sh.Policy == OwnQueue {
		var err error
		cfg := overload.Config{MaxConcurrency: sh.Slots}
		if os.Getenv("OVERLOAD_DEBUG") != "" {
			t0 := time.Now()
			cfg.Hooks.OnWindow = func(s overload.WindowStats) {
				fmt.Fprintf(os.Stderr, "%6.2fs arrivals=%d passed=%d started=%d refused=%d meanQ=%v over=%v idle=%v cap=%.0f/s backlog=%d %v->%v\n",
					time.Since(t0).Seconds(), s.Arrivals, s.Passed, s.Started, s.Refused, s.MeanQueue.Round(time.Millisecond/10), s.Overloaded, s.Idle, s.Capacity, s.Backlog, s.From, s.To)
			}
		}
		if c, err = overload.New(cfg); err != nil {
			panic(err)
		}
	}
	sem := make(chan struct{}, sh.Slots) // blocked senders queue FIFO
	pq := &classQueue{free: sh.Slots}
	stop := make(chan struct{})
	var (
		mu2      sync.Mutex
		res      Measured
		waitSum  time.Duration
		busy     time.Duration
		winSum   = make([]time.Duration, int(span/time.Second)+1)
		winN     = make([]int, len(winSum))
		wg       sync.WaitGroup
		start    = time.Now()
		stopCtx  context.Context
		stopDone context.CancelFunc
	)
	stopCtx, stopDone = context.WithCancel(context.Background())
	var n0, ok0, nAll, okAll int
	started := func(arrival time.Time, svc time.Duration, class uint8) {
		now := time.Now()
		w := now.Sub(arrival)
		mu2.Lock()
		if arrival.Sub(start) >= FeasibilityFrom && w+svc <= deadline {
			okAll++
			if class == 0 {
				ok0++
			}
		}
		if el := now.Sub(start); el >= FeasibilityFrom && el < span {
			waitSum += w
			busy += svc
			res.Started++
		}
		if i := int(now.Sub(start) / time.Second); i < len(winSum) {
			winSum[i] += w
			winN[i]++
		}
		mu2.Unlock()
	}
	for time.Since(start) < span {
		time.Sleep(time.Duration(rng.ExpFloat64() / rate * float64(time.Second)))
		b := uint8(3)
		switch x := rng.Float64(); {
		case x < 0.1:
			b = 0
		case x < 0.3:
			b = 1
		case x < 0.6:
			b = 2
		}
		p := overload.Priority{Business: b, User: uint8(rng.IntN(128))}
		svc := time.Duration(rng.ExpFloat64() * float64(sh.Service))
		switch {
		case sh.Lognormal:
			svc = time.Duration(math.Exp(mu + sigma*rng.NormFloat64()))
		case sh.Pareto: // scale × U^(-1/α), mean scale × α/(α−1) = 3 × scale
			svc = time.Duration(float64(sh.Service) / 3 * math.Pow(1-rng.Float64(), -1/1.5))
		case sh.Bimodal:
			svc = sh.Service / 2
			if rng.Float64() < 0.1 {
				svc = sh.Service * 11 / 2
			}
		}
		coin := rng.Float64()
		res.Arrivals++
		arrival := time.Now()
		if arrival.Sub(start) >= FeasibilityFrom {
			mu2.Lock()
			nAll++
			if b == 0 {
				n0++
			}
			mu2.Unlock()
		}
		switch sh.Policy {
		case Oracle:
			// A fixed level: the most important Target ÷ Mult of the
			// traffic, class by class, the boundary class cut at a random
			// user level (coin).
			lower := 0.0
			for k := range b {
				lower += classShare[k]
			}
			if lower+coin*classShare[b] >= sh.Target/sh.Mult {
				res.Refused++
				continue
			}
		case OwnQueue:
			if c.Admit(p) != nil {
				res.Refused++
				continue
			}
		case Slots:
			wg.Go(func() {
				ctx, cancel := context.WithDeadline(stopCtx, arrival.Add(deadline))
				defer cancel()
				permit, err := c.Acquire(ctx, p)
				if err != nil {
					mu2.Lock()
					res.Refused++
					mu2.Unlock()
					return
				}
				started(arrival, svc, b)
				time.Sleep(svc)
				permit.Release()
			})
			continue
		}
		wg.Go(func() {
			if sh.PriorityQueue {
				if !pq.take(b, stop) {
					return
				}
				started(arrival, svc, b)
				time.Sleep(svc)
				pq.give()
				return
			}
			select {
			case sem <- struct{}{}:
			case <-stop:
				return
			}
			if c != nil {
				c.ObserveQueueTime(time.Since(arrival))
			}
			started(arrival, svc, b)
			time.Sleep(svc)
			<-sem
		})
	}
	close(stop)
	stopDone()
	wg.Wait()
	if res.Started > 0 {
		res.MeanWait = waitSum / time.Duration(res.Started)
	}
	if n0 > 0 {
		res.Class0 = float64(ok0) / float64(n0)
	}
	if d := min(float64(nAll), float64(sh.Slots)/sh.Service.Seconds()*(span-FeasibilityFrom).Seconds()); d > 0 {
		res.Goodput = float64(okAll) / d
	}
	res.Utilisation = float64(busy) / (float64(sh.Slots) * float64(span-FeasibilityFrom))
	for i := range int(span / time.Second) {
		w := time.Duration(-1)
		if winN[i] > 0 {
			w = winSum[i] / time.Duration(winN[i])
		}
		res.Windows = append(res.Windows, w)
	}
	return res
}

// AtCapacity is a run of the steady part's workload (8 workers, lognormal
// 10 ms with CV 1, Poisson at ρ × 800 req/s, the seed's request sequence)
// with no admission control at all: every request waits in an unbounded
// FIFO until a worker is free, however long.
type AtCapacity struct {
	MeanWait time.Duration   // of the requests that started after 3 s
	Windows  []time.Duration // mean wait of the starts in each second
	MaxWin   time.Duration   // the largest of Windows
	Over     int             // seconds whose mean wait exceeded 2 × 20 ms
}

// RunAtCapacity runs it for span. Run it in a testing/synctest bubble.
func RunAtCapacity(rho float64, seed uint64, span time.Duration) AtCapacity {
	stop := make(chan struct{})
	srv := &noControl{w: newWorkers(slots, stop)}
	secs := int(span / time.Second)
	sum, n := make([]time.Duration, secs+1), make([]int, secs+1)
	var total time.Duration
	var cnt int
	var mu sync.Mutex
	start := time.Now()
	drive(newWorkload(seed), []segment{{rho, span}}, func(ctx context.Context, at time.Time, r request) outcome {
		if !srv.w.take() {
			return outcome{}
		}
		now := time.Now()
		w := now.Sub(at)
		mu.Lock()
		if i := int(now.Sub(start) / time.Second); i <= secs {
			sum[i] += w
			n[i]++
		}
		if now.Sub(start) >= FeasibilityFrom && now.Sub(start) < span {
			total += w
			cnt++
		}
		mu.Unlock()
		serve(r.service)
		srv.w.give()
		return outcome{admitted: true}
	})
	close(stop)
	var res AtCapacity
	if cnt > 0 {
		res.MeanWait = total / time.Duration(cnt)
	}
	for i := range secs {
		w := time.Duration(-1)
		if n[i] > 0 {
			w = sum[i] / time.Duration(n[i])
		}
		res.Windows = append(res.Windows, w)
		res.MaxWin = max(res.MaxWin, w)
		if w > 40*time.Millisecond {
			res.Over++
		}
	}
	return res
}

// ErlangCUtilisation is the utilisation at which the M/M/c mean queuing
// time with c servers of mean service time s equals w.
func ErlangCUtilisation(c int, s, w time.Duration) float64 {
	lo, hi := 0.0, 1.0
	for range 60 {
		mid := (lo + hi) / 2
		if ErlangCWait(c, s, mid) < w {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// classQueue hands free workers to waiters, the most important class
// first and FIFO within a class.
type classQueue struct {
	mu   sync.Mutex
	free int
	q    [4][]chan struct{}
}

func (q *classQueue) take(class uint8, stop <-chan struct{}) bool {
	q.mu.Lock()
	if q.free > 0 {
		q.free--
		q.mu.Unlock()
		return true
	}
	ch := make(chan struct{}, 1)
	q.q[class] = append(q.q[class], ch)
	q.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-stop:
		return false
	}
}

func (q *classQueue) give() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for k := range q.q {
		if len(q.q[k]) > 0 {
			ch := q.q[k][0]
			q.q[k] = q.q[k][1:]
			ch <- struct{}{} // buffered
			return
		}
	}
	q.free++
}
