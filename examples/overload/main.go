// Command overload demonstrates DAGOR-style admission control under a load
// ramp, in real time: a service with 8 workers (lognormal service time, mean
// 10 ms) receives Poisson traffic at 1× its capacity, then 4×, then 1×
// again. Every second it prints the goodput, the requests shed per business
// class and the admission level, and at the end it checks three things:
//
//   - steady 1×: before the spike, none refused for the admission level,
//     and at most 3 % refused for any reason (a full queue, a deadline);
//   - priority: class 0 (the most important) got at least 95 % of its
//     requests served in time during the 4× phase;
//   - recovery: within 5 s of the drop back to 1×, one second with
//     goodput ≥ 0.95.
//
// It exits 1 naming every check that failed.
//
//	go run ./examples/overload          # 5 s at 1×, 10 s at 4×, 10 s at 1×
//	go run ./examples/overload -short   # 4 s, 4 s, 6 s (about 16 s in all)
//
// # What "1×" is here
//
// On a shared machine the 8 workers do not run 800 requests a second: a
// sleep of 10 ms takes longer when the scheduler is busy. The command first
// measures the machine's real capacity (8 workers sleeping their service
// times back to back for a second) and then drives "1×" at 90 % of it
// (ρ = 0.9, where an M/M/8 queue waits about 9 ms on average, below the
// 20 ms threshold: not overload), "4×" at 4 × that capacity. The tolerance
// of the steady check (3 % refused, any reason; none for the level) covers
// the bounded queue's losses at ρ = 0.9 (about 0.3 % in theory, but this
// seed's second second is a burst that overflows the queue: 11–34 class-3
// refusals in every run seen, 0.5–2.2 % of the judged seconds) and a
// scheduler hiccup of a loaded 2-core machine; the measured share is
// printed either way. A
// 1 ms canary sleep measures the scheduler's stalls every second (the
// stall column); seconds with a stall above 20 ms, and the seconds after
// them, are left out of the steady check, which says how many it left out
// (and "not judged" if all).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/overload"
)

const (
	workers     = 8
	meanService = 10 * time.Millisecond
	deadline    = 500 * time.Millisecond
	steadyRho   = 0.9  // "1×" is this share of the measured capacity
	steadyShed  = 0.03 // steady check: at most this share refused (full queue, deadline)
	// maxStall: a second in which the canary's 1 ms sleep woke this late
	// had a scheduler stall of the machine, not of the service; the steady
	// check leaves it out, and the second after it (the queue the stall
	// built drains into it): a 20 ms stall of 8 workers queues 14 more
	// requests at 700 req/s, on top of the dozen ρ = 0.9 often queues.
	maxStall  = 20 * time.Millisecond
	recoverBy = 5 // recovery check: seconds after the drop
)

type second struct {
	offered, ok atomic.Int64
	arrived     [4]atomic.Int64
	shed        [4]atomic.Int64 // refused for any reason
	levelShed   atomic.Int64    // refused for the admission level
	done        [4]atomic.Int64
	stall       atomic.Int64 // ns, the longest lateness of the 1 ms canary sleep
}

// service draws lognormal service times with mean 10 ms and CV 1.
type service struct{ mu, sigma float64 }

func newService() service {
	sigma := math.Sqrt(math.Log(2))
	return service{mu: math.Log(float64(meanService)) - sigma*sigma/2, sigma: sigma}
}

func (s service) draw(rng *rand.Rand) time.Duration {
	return time.Duration(math.Exp(s.mu + s.sigma*rng.NormFloat64()))
}

func main() {
	short := flag.Bool("short", false, "a compressed ramp (about 15 s)")
	flag.Parse()
	phases := []struct {
		mult float64
		secs int
	}{{1, 5}, {4, 10}, {1, 10}}
	if *short {
		phases[0].secs, phases[1].secs, phases[2].secs = 4, 4, 6
	}
	total := 0
	for _, p := range phases {
		total += p.secs
	}

	// time.Sleep overshoots on a loaded machine; subtracting the median
	// overshoot keeps the service time near 10 ms. The capacity is then
	// measured rather than assumed.
	svc := newService()
	overshoot := sleepOvershoot()
	capacity := measureCapacity(svc, overshoot, time.Second)
	fmt.Printf("sleep overshoot %v (subtracted from every service time); measured capacity %.0f req/s (nominal 800)\n", overshoot, capacity)
	if capacity < 100 {
		fmt.Println("FAIL: machine: 8 workers ran under 100 requests a second; too loaded to run the demonstration")
		os.Exit(1)
	}
	oneX := steadyRho * capacity

	c, err := overload.New(overload.Config{MaxConcurrency: workers})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stats := make([]second, total+1)
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rng, 1.1, 1, 99_999)

	fmt.Printf("phases: %d s at 1× → %d s at 4× → %d s at 1×; 1× = %.0f req/s (%.0f %% of the measured capacity)\n",
		phases[0].secs, phases[1].secs, phases[2].secs, oneX, 100*steadyRho)
	fmt.Println("classes 0..3 carry 10/20/30/40 % of the traffic; 0 is the most important")
	fmt.Println("columns:")
	fmt.Println("  t        the second of the run the line is about (requests that arrived in it)")
	fmt.Println("  offered  requests that arrived in that second")
	fmt.Println("  goodput  requests finished within their 500 ms deadline ÷ min(offered, 1× rate): 1.00 = all useful;")
	fmt.Println("           during 4× up to 1.11, since the workers can run 1/0.9 of the 1× rate")
	fmt.Println("  c0..c3   refused/arrived for classes 0, 1, 2, 3 (refused for any reason: level, full queue, deadline)")
	fmt.Println("  level    the admission level \"business.user\" when the line is printed (one deadline after its second):")
	fmt.Println("           level=3.90 admits every request of classes 0, 1 and 2, and of class 3 those whose user")
	fmt.Println("           priority (0..127, from a hash of the user ID and the hour; lower passes first) is 0..90;")
	fmt.Println("           level=2.40 refuses all of class 3 and the class-2 users above 40; 255.255 = open, nothing refused")
	fmt.Println("  stall    how late a 1 ms sleep woke at worst in that second: the machine's scheduler, not the service")

	var wg sync.WaitGroup
	start := time.Now()
	next := start
	printed := 0
	canaryDone := make(chan struct{})
	go func() { // the canary: how late a 1 ms sleep wakes, per second
		for {
			select {
			case <-canaryDone:
				return
			default:
			}
			t := time.Now()
			time.Sleep(time.Millisecond)
			late := int64(time.Since(t) - time.Millisecond)
			if i := int(t.Sub(start) / time.Second); i < len(stats) {
				for {
					old := stats[i].stall.Load()
					if late <= old || stats[i].stall.CompareAndSwap(old, late) {
						break
					}
				}
			}
		}
	}()
	report := func(upTo int) {
		for ; printed < upTo; printed++ {
			s := &stats[printed]
			off := s.offered.Load()
			good := float64(s.ok.Load()) / math.Max(1, math.Min(float64(off), oneX))
			fmt.Printf("t=%2ds offered=%4d goodput=%.2f  c0 %4d/%-4d c1 %4d/%-4d c2 %4d/%-4d c3 %4d/%-4d  level=%-7v stall=%v\n",
				printed+1, off, good,
				s.shed[0].Load(), s.arrived[0].Load(), s.shed[1].Load(), s.arrived[1].Load(),
				s.shed[2].Load(), s.arrived[2].Load(), s.shed[3].Load(), s.arrived[3].Load(), c.Level(),
				time.Duration(s.stall.Load()).Round(100*time.Microsecond))
		}
	}
	phaseEnd := start
	for _, ph := range phases {
		phaseEnd = phaseEnd.Add(time.Duration(ph.secs) * time.Second)
		for {
			next = next.Add(time.Duration(rng.ExpFloat64() / (ph.mult * oneX) * float64(time.Second)))
			if !next.Before(phaseEnd) {
				next = phaseEnd
				break
			}
			time.Sleep(time.Until(next))
			// A second's line is printed once its last requests can no longer
			// succeed (one deadline after it ends).
			report(int(time.Since(start)-deadline) / int(time.Second))
			x := rng.Float64()
			class := 0
			for _, share := range []float64{0.1, 0.2, 0.3} {
				if x < share {
					break
				}
				x -= share
				class++
			}
			user := "user-" + strconv.FormatUint(zipf.Uint64(), 10)
			service := svc.draw(rng)
			arrival := next
			sec := &stats[int(arrival.Sub(start)/time.Second)]
			sec.offered.Add(1)
			sec.arrived[class].Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithDeadline(context.Background(), arrival.Add(deadline))
				defer cancel()
				p := overload.Priority{Business: uint8(class), User: overload.UserPriority(user, arrival)}
				permit, err := c.Acquire(ctx, p)
				if err != nil {
					var se *overload.ShedError
					if errors.As(err, &se) {
						sec.shed[class].Add(1)
						if se.Reason == overload.ReasonLevel {
							sec.levelShed.Add(1)
						}
					}
					return
				}
				time.Sleep(max(service-overshoot, 0))
				permit.Release()
				if time.Since(arrival) <= deadline {
					sec.ok.Add(1)
					sec.done[class].Add(1)
				}
			}()
		}
	}
	wg.Wait()
	close(canaryDone)
	report(total)

	var failed []string
	check := func(name string, ok bool, format string, args ...any) {
		v := "ok"
		if !ok {
			v = "FAILED"
			failed = append(failed, name)
		}
		fmt.Printf("check %-9s %-6s "+format+"\n", append([]any{name, v}, args...)...)
	}

	// Steady 1×: the seconds before the spike in which the machine did not
	// stall.
	var steadyArr, steadyShedN, steadyLevel int64
	var clean, stalled int
	for s := range phases[0].secs {
		if time.Duration(stats[s].stall.Load()) > maxStall || (s > 0 && time.Duration(stats[s-1].stall.Load()) > maxStall) {
			stalled++
			continue
		}
		clean++
		steadyArr += stats[s].offered.Load()
		steadyLevel += stats[s].levelShed.Load()
		for k := range 4 {
			steadyShedN += stats[s].shed[k].Load()
		}
	}
	share := float64(steadyShedN) / math.Max(1, float64(steadyArr))
	if clean == 0 {
		fmt.Printf("check %-9s %-6s every second before the spike had a scheduler stall > %v: not judged on this run\n", "steady", "n/a", maxStall)
	} else {
		check("steady", share <= steadyShed && steadyLevel == 0,
			"at 1× before the spike (%d s judged, %d s left out for stalls > %v): %d of %d refused (%.2f %%, tolerance %.0f %%), %d for the level (must be 0)",
			clean, stalled, maxStall, steadyShedN, steadyArr, 100*share, 100*steadyShed, steadyLevel)
	}

	// Priority: class 0 during 4×.
	var arrived0, done0 int64
	for s := phases[0].secs; s < phases[0].secs+phases[1].secs; s++ {
		arrived0 += stats[s].arrived[0].Load()
		done0 += stats[s].done[0].Load()
	}
	class0 := float64(done0) / math.Max(1, float64(arrived0))
	check("priority", class0 >= 0.95, "class 0 served in time during 4×: %.3f (target ≥ 0.95)", class0)

	// Recovery: first second after the drop with goodput ≥ 0.95.
	drop := phases[0].secs + phases[1].secs
	recovery := -1
	for s := drop; s < total; s++ {
		off := stats[s].offered.Load()
		if float64(stats[s].ok.Load())/math.Max(1, math.Min(float64(off), oneX)) >= 0.95 {
			recovery = s + 1 - drop
			break
		}
	}
	check("recovery", recovery >= 1 && recovery <= recoverBy,
		"first second after the drop with goodput ≥ 0.95 ends %d s after it (target ≤ %d s; -1: none)", recovery, recoverBy)

	if len(failed) > 0 {
		fmt.Println("FAIL:", strings.Join(failed, ", "))
		os.Exit(1)
	}
	fmt.Println("OK")
}

// measureCapacity runs the 8 workers back to back for d, each sleeping
// service times as the demonstration does, and returns the requests they
// completed per second: the machine's real capacity for this service.
func measureCapacity(svc service, overshoot, d time.Duration) float64 {
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for time.Since(start) < d {
				time.Sleep(max(svc.draw(rng)-overshoot, 0))
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

// sleepOvershoot returns the median lateness of a 2 ms time.Sleep.
func sleepOvershoot() time.Duration {
	ds := make([]time.Duration, 0, 50)
	for range 50 {
		t := time.Now()
		time.Sleep(2 * time.Millisecond)
		ds = append(ds, time.Since(t)-2*time.Millisecond)
	}
	slices.Sort(ds)
	return max(ds[len(ds)/2], 0)
}
