package breaker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestObservationChangesNothing runs the same random schedule on two
// breakers built alike (same name, clock and epoch, so the same jitter),
// and reads State and Counts of the first one, only, at random moments:
// after clock steps, right at or around the end of an open period, before
// Trip, Reset and results. Every call, Trip and Reset must then have the
// same outcome on both, both must report the same state and counts after
// operations, and the hooks must see the same events. Reading a
// breaker must not change what it does (Trip after the open period ended
// used to be ignored unless State had been read first).
func TestObservationChangesNothing(t *testing.T) {
	for seed := range uint64(60) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { observeRun(t, seed) })
	}
}

func observeRun(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 13))
	clks := [2]*fakeClock{newFakeClock(), newFakeClock()} // advanced alike
	clk := clks[0]
	advance := func(d time.Duration) {
		clks[0].Advance(d)
		clks[1].Advance(d)
	}
	timeout := time.Duration(1+rng.IntN(4)) * time.Second
	var logs [2][]string
	maxReq := uint32(1 + rng.IntN(3))
	interval := time.Duration(3+rng.IntN(10)) * time.Second
	maxTimeout := timeout * time.Duration(1+rng.IntN(8))
	slowCall := time.Duration(rng.IntN(2)) * 1500 * time.Millisecond
	withResults, withRejects := rng.IntN(2) == 0, rng.IntN(2) == 0 // these hooks take the locked paths
	mk := func(i int) *Breaker[int] {
		h := Hooks{OnStateChange: func(_ string, from, to State) { logs[i] = append(logs[i], from.String()+">"+to.String()) }}
		if withRejects {
			h.OnReject = func(_ string, err error) { logs[i] = append(logs[i], "reject:"+err.Error()) }
		}
		if withResults {
			h.OnResult = func(_ string, err error, d time.Duration) { logs[i] = append(logs[i], fmt.Sprint("result:", err, d)) }
		}
		b, err := New[int](Config{
			Name:         "dep",
			Clock:        clks[i],
			MaxRequests:  maxReq,
			Interval:     interval,
			BucketPeriod: time.Second,
			Timeout:      timeout,
			MaxTimeout:   maxTimeout,
			SlowCall:     slowCall,
			Trip:         Any(ConsecutiveFailures(3), FailureRate(0.5, 6)),
			IsExcluded:   func(err error) bool { return errors.Is(err, errSkip) },
			Hooks:        h,
		})
		require.NoError(t, err)
		return b
	}
	a, b := mk(0), mk(1)
	pair := [2]*Breaker[int]{a, b}

	type pending struct{ done [2]func(error) }
	var pend []pending
	var lastRetry time.Time
	peek := func() {
		if rng.IntN(2) == 0 {
			_ = a.State()
		} else {
			_ = a.Counts()
		}
	}
	// same compares the two, which observes both: so only now and then,
	// or b would be observed as often as a.
	same := func(step int, what string) {
		if step < 300 && rng.IntN(5) > 0 {
			return
		}
		require.Equal(t, a.State(), b.State(), "step %d %s: state", step, what)
		require.Equal(t, a.Counts(), b.Counts(), "step %d %s: counts", step, what)
	}
	for step := range 300 {
		if rng.IntN(3) == 0 {
			peek()
		}
		switch op := rng.IntN(100); {
		case op < 30: // Execute with a random outcome on both
			res := []error{nil, nil, errBoom, errSkip}[rng.IntN(4)]
			adv := time.Duration(rng.IntN(3)) * time.Second
			var errs [2]error
			var ran [2]bool
			for i, br := range pair {
				_, errs[i] = br.Execute(context.Background(), func(context.Context) (int, error) {
					ran[i] = true
					clks[i].Advance(adv) // the call takes adv
					return 0, res
				})
				if i == 0 && ran[0] && rng.IntN(3) == 0 {
					peek()
				}
			}
			if ran[0] != ran[1] {
				t.Fatalf("step %d: a admitted %v, b admitted %v", step, ran[0], ran[1])
			}
			require.Equal(t, ran[0], ran[1], "step %d: admitted", step)
			require.Equal(t, fmt.Sprint(errs[0]), fmt.Sprint(errs[1]), "step %d: errors", step)
			var re *RejectedError
			if errors.As(errs[0], &re) && !re.RetryAt.IsZero() {
				lastRetry = re.RetryAt
			}
			same(step, "execute")
		case op < 45: // a two-step call left pending
			var p pending
			var errs [2]error
			for i, br := range pair {
				p.done[i], errs[i] = br.Allow(context.Background())
			}
			require.Equal(t, fmt.Sprint(errs[0]), fmt.Sprint(errs[1]), "step %d: allow", step)
			if errs[0] == nil {
				pend = append(pend, p)
			}
			same(step, "allow")
		case op < 60 && len(pend) > 0: // a pending call reports
			i := rng.IntN(len(pend))
			p := pend[i]
			pend = append(pend[:i], pend[i+1:]...)
			res := []error{nil, errBoom, errSkip}[rng.IntN(3)]
			p.done[0](res)
			p.done[1](res)
			same(step, "done")
		case op < 80: // time passes, often to just around the end of an open period
			var d time.Duration
			if !lastRetry.IsZero() && lastRetry.After(clk.Now()) && rng.IntN(2) == 0 {
				d = lastRetry.Sub(clk.Now()) + time.Duration(rng.IntN(3)-1)*time.Millisecond
			} else {
				d = time.Duration(rng.IntN(3000)) * time.Millisecond
			}
			advance(d)
			if rng.IntN(2) == 0 {
				peek() // the observation under test: a only
			}
		case op < 92:
			a.Trip()
			b.Trip()
			same(step, "trip")
		default:
			a.Reset()
			b.Reset()
			same(step, "reset")
		}
	}
	same(300, "end") // observe both, so that both report an ended open period
	require.Equal(t, logs[0], logs[1], "hooks saw different events")
}
