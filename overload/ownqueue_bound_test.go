package overload

import (
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// oqRun is one run of a service with its own queue, in virtual time
// (testing/synctest): Poisson arrivals at rate per second, business class
// uniform 0-3 and user uniform 0-127 (the adversary review's harness),
// Admit on arrival, workers goroutines that take a job and report its wait
// with ObserveQueueTime, then run it for a time drawn from svc. The queue
// is a FIFO and everything admitted runs.
type oqRun struct {
	workers int
	svc     func(*rand.Rand) time.Duration
	rate    float64 // arrivals per second
	dur     time.Duration
	seed    uint64
	skip    int           // if > 0, every skip-th start is not reported
	from    time.Duration // waits of starts after this are measured
	hooks   Hooks
}

type oqResult struct {
	arrivals, admitted, queueFull, level int
	waitSum                              time.Duration // of the starts after from
	starts                               int
}

func (r oqResult) mean() time.Duration {
	if r.starts == 0 {
		return 0
	}
	return r.waitSum / time.Duration(r.starts)
}

func runOwnQueue(t *testing.T, o oqRun) oqResult {
	var r oqResult
	synctest.Test(t, func(t *testing.T) {
		c, err := New(Config{MaxConcurrency: o.workers, Hooks: o.hooks})
		if err != nil {
			t.Fatal(err)
		}
		type job struct{ at time.Time }
		var mu sync.Mutex
		var queue []job
		tokens := make(chan struct{}, 1<<20)
		done := make(chan struct{})
		start := time.Now()
		if synctestStart != nil {
			synctestStart()
		}
		srng := rand.New(rand.NewPCG(o.seed, 7))
		nstart := 0
		var wg sync.WaitGroup
		for range o.workers {
			wg.Go(func() {
				for {
					select {
					case <-tokens:
					case <-done:
						return
					}
					mu.Lock()
					var j job
					j, queue = queue[0], queue[1:]
					w := time.Since(j.at)
					nstart++
					report := o.skip <= 0 || nstart%o.skip != 0
					if time.Since(start) >= o.from {
						r.waitSum += w
						r.starts++
					}
					d := o.svc(srng)
					mu.Unlock()
					if report {
						c.ObserveQueueTime(w)
					}
					time.Sleep(d)
				}
			})
		}
		rng := rand.New(rand.NewPCG(o.seed, 99))
		for time.Since(start) < o.dur {
			time.Sleep(time.Duration(rng.ExpFloat64() / o.rate * 1e9))
			p := Priority{Business: uint8(rng.IntN(4)), User: uint8(rng.IntN(128))}
			err := c.Admit(p)
			r.arrivals++
			var se *ShedError
			switch {
			case err == nil:
				r.admitted++
				mu.Lock()
				queue = append(queue, job{time.Now()})
				mu.Unlock()
				tokens <- struct{}{}
			case errors.As(err, &se) && se.Reason == ReasonQueueFull:
				r.queueFull++
			default:
				r.level++
			}
		}
		close(done)
		wg.Wait()
	})
	return r
}

func expService(m time.Duration) func(*rand.Rand) time.Duration {
	return func(r *rand.Rand) time.Duration { return time.Duration(r.ExpFloat64() * float64(m)) }
}

// paretoService: Pareto with α = 1.5 and mean m (infinite variance).
func paretoService(m time.Duration) func(*rand.Rand) time.Duration {
	xm := float64(m) / 3
	return func(r *rand.Rand) time.Duration {
		return time.Duration(xm / math.Pow(1-r.Float64(), 1/1.5))
	}
}

// bimodalService: 90 % at m/2, 10 % at 5.5 m (mean m).
func bimodalService(m time.Duration) func(*rand.Rand) time.Duration {
	return func(r *rand.Rand) time.Duration {
		if r.IntN(10) == 0 {
			return m * 11 / 2
		}
		return m / 2
	}
}

var synctestStart func()
