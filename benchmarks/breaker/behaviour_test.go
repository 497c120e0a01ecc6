package breaker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/breaker"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/sony/gobreaker/v2"
)

var errDep = errors.New("dependency failed")

// bubbleClock is time.Now inside a synctest bubble (virtual time), injected
// so that Bulwark's jitter is seeded deterministically.
type bubbleClock struct{}

func (bubbleClock) Now() time.Time { return time.Now() }

type runStats struct {
	name                      string
	openAfter                 time.Duration // first rejection after fault onset (-1: never)
	reached, reachedAfterOpen int           // calls that reached the failing dependency
	changes                   int           // state changes during the fault
	grown                     int           // open periods longer than the first
	closeAfter                time.Duration // last close after healing (-1: not closed)
	lastOpen                  time.Duration // the open period in force at healing
}

// twoStep is what the run needs from each library.
type twoStep interface {
	allow() (done func(error), ok bool)
}

const (
	step      = 500 * time.Microsecond // 2,000 calls/s
	faultFrom = 2 * time.Second
	faultTo   = 12 * time.Second
	runFor    = 90 * time.Second
)

// runInBubble offers a call every 500 µs of virtual time; the dependency
// fails half of the calls (seeded) from 2 s to 12 s.
func runInBubble(t *testing.T, name string, mk func(onChange func(to string)) twoStep) runStats {
	st := runStats{name: name, openAfter: -1, closeAfter: -1}
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		rng := rand.New(rand.NewPCG(42, 1))
		var openedAt time.Time
		var firstOpen time.Duration
		onChange := func(to string) {
			now := time.Since(start)
			if now >= faultFrom && now < faultTo {
				st.changes++
			}
			switch to {
			case "open":
				openedAt = time.Now()
			case "half-open":
				d := time.Since(openedAt)
				if firstOpen == 0 {
					firstOpen = d
				} else if d > firstOpen+firstOpen/5 {
					st.grown++
				}
				if now >= faultTo && st.lastOpen == 0 {
					st.lastOpen = d
				}
			case "closed":
				if now >= faultTo {
					st.closeAfter = now - faultTo
				}
			}
		}
		b := mk(onChange)
		for now := time.Duration(0); now < runFor; now += step {
			time.Sleep(step)
			done, ok := b.allow()
			inFault := now >= faultFrom && now < faultTo
			if !ok {
				if inFault && st.openAfter < 0 {
					st.openAfter = now - faultFrom
				}
				continue
			}
			if inFault {
				st.reached++
				if st.openAfter >= 0 {
					st.reachedAfterOpen++
				}
				if rng.IntN(2) == 0 {
					done(errDep)
					continue
				}
			}
			done(nil)
		}
		if st.lastOpen == 0 && !openedAt.IsZero() {
			st.lastOpen = firstOpen
		}
	})
	return st
}

type bulwarkTS struct{ b *breaker.Breaker[int] }

func (x bulwarkTS) allow() (func(error), bool) {
	d, err := x.b.Allow(context.Background())
	return d, err == nil
}

type gobreakerTS struct {
	b *gobreaker.TwoStepCircuitBreaker[int]
}

func (x gobreakerTS) allow() (func(error), bool) {
	d, err := x.b.Allow()
	return d, err == nil
}

type failsafeTS struct {
	b circuitbreaker.CircuitBreaker[int]
}

func (x failsafeTS) allow() (func(error), bool) {
	if !x.b.TryAcquirePermit() {
		return nil, false
	}
	return x.b.RecordError, true
}

func behaviourConfigs() []struct {
	name string
	mk   func(onChange func(string)) twoStep
} {
	return []struct {
		name string
		mk   func(onChange func(string)) twoStep
	}{
		{"bulwark zero Config", func(on func(string)) twoStep {
			b, _ := breaker.New[int](breaker.Config{Clock: bubbleClock{}, Hooks: breaker.Hooks{
				OnStateChange: func(_ string, _, to breaker.State) { on(to.String()) }}})
			return bulwarkTS{b}
		}},
		{"gobreaker defaults (>5 consecutive, 60 s, 1 probe)", func(on func(string)) twoStep {
			return gobreakerTS{gobreaker.NewTwoStepCircuitBreaker[int](gobreaker.Settings{
				OnStateChange: func(_ string, _, to gobreaker.State) { on(to.String()) }})}
		}},
		{"failsafe-go NewWithDefaults (1 failure, 1 min, 1 success)", func(on func(string)) twoStep {
			return failsafeTS{circuitbreaker.NewBuilder[int]().OnStateChanged(func(e circuitbreaker.StateChangedEvent) {
				on(map[circuitbreaker.State]string{circuitbreaker.OpenState: "open", circuitbreaker.HalfOpenState: "half-open", circuitbreaker.ClosedState: "closed"}[e.NewState])
			}).Build()}
		}},
	}
}

// TestBehaviour runs the fault scenario for every library and checks
// Bulwark's targets: open within 1 s of the fault, at most 10 state changes
// during it, closed within its open period plus 1 s after healing.
func TestBehaviour(t *testing.T) {
	fmt.Println("| config | time to open | calls reaching failing dep | of which after open | state changes during fault | open periods grown | time to close after healing |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, c := range behaviourConfigs() {
		st := runInBubble(t, c.name, c.mk)
		fmt.Printf("| %s | %v | %d | %d | %d | %d | %v (open period at healing %v) |\n", st.name, st.openAfter, st.reached, st.reachedAfterOpen, st.changes, st.grown, st.closeAfter, st.lastOpen.Round(time.Millisecond))
		if c.name == "bulwark zero Config" {
			if st.openAfter < 0 || st.openAfter > time.Second {
				t.Errorf("bulwark opened after %v, want within 1 s", st.openAfter)
			}
			if st.changes > 10 {
				t.Errorf("bulwark changed state %d times during the fault, want <= 10", st.changes)
			}
			if st.closeAfter < 0 || st.closeAfter > st.lastOpen+time.Second {
				t.Errorf("bulwark closed %v after healing, want within %v", st.closeAfter, st.lastOpen+time.Second)
			}
		}
	}
}
