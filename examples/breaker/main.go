// Command breaker shows a circuit breaker in front of a flaky dependency, in
// virtual time: 2,000 calls/s; the dependency fails half of its calls from
// t=2s to t=32s (t=2s to t=12s with -short), then heals. It prints a
// timeline of state changes, the open period of each trip (growing while
// the dependency stays broken) and a summary, then exits 0 if the breaker
// opened during the fault and closed after it.
//
//	go run ./examples/breaker          # a 30 s fault, 90 s of virtual time
//	go run ./examples/breaker -short   # a 10 s fault, 40 s of virtual time
//
// Virtual time (an injected Clock) keeps the run deterministic and quick.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/bulwark-go/bulwark/breaker"
)

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func main() {
	short := flag.Bool("short", false, "a 10 s fault instead of 30 s")
	flag.Parse()
	fault, total := 30*time.Second, 90*time.Second
	if *short {
		fault, total = 10*time.Second, 40*time.Second
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &clock{t: start}
	at := func() string { return fmt.Sprintf("t=%7.3fs", clk.t.Sub(start).Seconds()) }
	var opened, closedAfter bool
	b, err := breaker.New[string](breaker.Config{
		Name:  "inventory",
		Clock: clk,
		Hooks: breaker.Hooks{OnTransition: func(name string, t breaker.Transition) {
			// t.Counts are those of the generation that just ended: what
			// made the breaker trip, or how its probes went.
			line := fmt.Sprintf("%s  %s: %s -> %s (%s; %d of %d calls failed, %d in a row)", at(), name, t.From, t.To,
				t.Reason, t.Counts.Failures, t.Counts.Successes+t.Counts.Failures, t.Counts.ConsecutiveFailures)
			if t.To == breaker.StateOpen {
				opened = true
				line += fmt.Sprintf(" for %.2fs", t.RetryAt.Sub(t.At).Seconds())
			}
			if t.To == breaker.StateClosed && clk.t.Sub(start) > 2*time.Second+fault {
				closedAfter = true
			}
			fmt.Println(line)
		}},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	errFlaky := errors.New("inventory: 503")
	var served, failed, rejected int
	fmt.Printf("%s  dependency healthy\n", at())
	for now := time.Duration(0); now < total; now += 500 * time.Microsecond {
		clk.t = start.Add(now)
		broken := now >= 2*time.Second && now < 2*time.Second+fault
		if now == 2*time.Second {
			fmt.Printf("%s  dependency starts failing half of its calls\n", at())
		}
		if now == 2*time.Second+fault {
			fmt.Printf("%s  dependency healed\n", at())
		}
		_, err := b.Execute(context.Background(), func(context.Context) (string, error) {
			if broken && rng.IntN(2) == 0 {
				return "", errFlaky
			}
			return "ok", nil
		})
		switch {
		case errors.Is(err, breaker.ErrOpen), errors.Is(err, breaker.ErrTooManyRequests):
			rejected++
		case err != nil:
			failed++
		default:
			served++
		}
	}
	fmt.Printf("summary: %d served, %d failed at the dependency, %d refused by the breaker; final state %s\n", served, failed, rejected, b.State())
	if !opened || !closedAfter || b.State() != breaker.StateClosed {
		fmt.Fprintln(os.Stderr, "breaker did not open during the fault and close after it")
		os.Exit(1)
	}
}
