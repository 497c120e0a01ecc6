package experiment

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/bulwark-go/bulwark/overload"
)

// GridResult is one (handler time, MaxConcurrency) point of issue 16's grid
// at 4× load and the default Config.
type GridResult struct {
	Service        time.Duration
	Slots          int
	Span           time.Duration
	FirstLevelShed time.Duration // -1: none
	Goodput        float64       // second half: in time ÷ min(offered, capacity)
	Class0         float64       // second half
	GateLearned    bool          // a Gate fed every response's level cached a closed level
}

// Engaged reports whether the point meets the grid test's bar: a level
// refusal, the Gate learned it, class 0 ≥ 0.95 and goodput ≥ 0.7.
func (g GridResult) Engaged() bool {
	return g.FirstLevelShed >= 0 && g.GateLearned && g.Class0 >= 0.95 && g.Goodput >= 0.7
}

// RunGridPoint drives a Controller with the default Config except
// MaxConcurrency = slots: Poisson arrivals at 4 × slots / service,
// exponential handler times of mean service, classes 10/20/30/40 %, uniform
// user levels, 500 ms deadlines, for about 12 windows (at most 8 s). Run it
// in a testing/synctest bubble (virtual time).
func RunGridPoint(service time.Duration, slots int, seed uint64) GridResult {
	rate := 4 * float64(slots) / service.Seconds()
	span := min(8*time.Second, time.Duration(24000/rate*float64(time.Second)))
	res := GridResult{Service: service, Slots: slots, Span: span, FirstLevelShed: -1}
	start := time.Now()
	var mu sync.Mutex
	cfg := overload.Config{MaxConcurrency: slots}
	cfg.Hooks.OnShed = func(_ overload.Priority, e *overload.ShedError) {
		if e.Reason == overload.ReasonLevel {
			mu.Lock()
			if res.FirstLevelShed < 0 {
				res.FirstLevelShed = time.Since(start)
			}
			mu.Unlock()
		}
	}
	c, err := overload.New(cfg)
	if err != nil {
		panic(err)
	}
	gate, err := overload.NewGate(overload.GateConfig{})
	if err != nil {
		panic(err)
	}
	rng := rand.New(rand.NewPCG(seed, 0x51ab))
	var (
		wg             sync.WaitGroup
		n, ok, n0, ok0 int
		learned        bool
		half           = start.Add(span / 2)
		end            = start.Add(span)
		next           = start
		observe        = func() {
			l := c.Level()
			gate.Observe("svc", l)
			if !l.IsOpen() {
				if _, cached := gate.Level("svc"); cached {
					mu.Lock()
					learned = true
					mu.Unlock()
				}
			}
		}
	)
	for {
		next = next.Add(time.Duration(rng.ExpFloat64() / rate * float64(time.Second)))
		if !next.Before(end) {
			break
		}
		time.Sleep(time.Until(next))
		x, class := rng.Float64(), 0
		for class < 3 && x >= classShare[class] {
			x -= classShare[class]
			class++
		}
		p := overload.Priority{Business: uint8(class), User: uint8(rng.IntN(overload.UserLevels))}
		svc := time.Duration(rng.ExpFloat64() * float64(service))
		arrival, counted := next, !next.Before(half)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithDeadline(context.Background(), arrival.Add(deadline))
			defer cancel()
			permit, err := c.Acquire(ctx, p)
			observe()
			inTime := false
			if err == nil {
				time.Sleep(svc)
				permit.Release()
				inTime = time.Since(arrival) <= deadline
			}
			if counted {
				mu.Lock()
				n++
				if inTime {
					ok++
				}
				if class == 0 {
					n0++
					if inTime {
						ok0++
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	capHalf := float64(slots) / service.Seconds() * (span / 2).Seconds()
	res.Goodput = float64(ok) / math.Max(1, math.Min(float64(n), capHalf))
	res.Class0 = 1
	if n0 > 0 {
		res.Class0 = float64(ok0) / float64(n0)
	}
	res.GateLearned = learned
	return res
}

// GridServices and GridSlots are the grid of issue 16.1.
var (
	GridServices = []time.Duration{time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond, 100 * time.Millisecond}
	GridSlots    = []int{4, 16, 64, 256}
)

// RunGrid runs the grid, writes its table to w and reports whether every
// point engaged (GridResult.Engaged).
func RunGrid(w io.Writer, seed uint64) bool {
	fmt.Fprintln(w, "## Level engages at the default Config, 4× load (virtual time)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| handler | MaxConcurrency | first level refusal | goodput | class 0 | Gate learned |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	all := true
	for _, svc := range GridServices {
		for _, slots := range GridSlots {
			r := RunGridPoint(svc, slots, seed+uint64(slots)+uint64(svc))
			all = all && r.Engaged()
			first := "none"
			if r.FirstLevelShed >= 0 {
				first = r.FirstLevelShed.Round(100 * time.Microsecond).String()
			}
			learned := "no"
			if r.GateLearned {
				learned = "yes"
			}
			fmt.Fprintf(w, "| %v | %d | %s | %.3f | %.3f | %s |\n", svc, slots, first, r.Goodput, r.Class0, learned)
		}
	}
	fmt.Fprintln(w)
	return all
}
