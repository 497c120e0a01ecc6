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

var errSkip = errors.New("excluded")

// modelEvent is one booked outcome for the reference window.
type modelEvent struct {
	gen  uint64
	age  uint64
	kind byte // 'r' request, 'x' rejected, 's' success, 'f' failure, 'e' excluded
	slow bool
}

// expectedCounts recomputes the window from scratch: events of generation
// gen admitted within the n buckets ending at age, and the trailing runs in
// completion order.
func expectedCounts(evs []modelEvent, gen, age uint64, n int) Counts {
	var c Counts
	in := func(e modelEvent) bool { return e.gen == gen && e.age <= age && age-e.age < uint64(n) }
	for _, e := range evs {
		if !in(e) {
			continue
		}
		switch e.kind {
		case 'r':
			c.Requests++
		case 'x':
			c.Rejected++
		case 's':
			c.Successes++
		case 'f':
			c.Failures++
		case 'e':
			c.Excluded++
		}
		if e.slow {
			c.Slow++
		}
	}
	// Runs: walk back over this generation's results; count in-window
	// members until the opposite outcome.
	for _, want := range []byte{'s', 'f'} {
		var run uint32
		for i := len(evs) - 1; i >= 0; i-- {
			e := evs[i]
			if e.gen != gen || (e.kind != 's' && e.kind != 'f') {
				continue
			}
			if e.kind != want {
				break
			}
			if in(e) {
				run++
			}
		}
		if want == 's' {
			c.ConsecutiveSuccesses = run
		} else {
			c.ConsecutiveFailures = run
		}
	}
	return c
}

type pendingModel struct {
	done  func(error)
	gen   uint64
	age   uint64
	start time.Time
}

// TestGenerativeStateMachine drives random schedules of admissions, results
// (success, failure, excluded, slow), clock steps, Trip and Reset, and checks
// after every step: Counts match a reference window; a stale result never
// changes state or counts; half-open never admits more than MaxRequests per
// generation; every open period is Timeout·2^k capped at MaxTimeout with
// ±10 % jitter, k growing on each reopen without a stable Interval closed.
func TestGenerativeStateMachine(t *testing.T) {
	for seed := range uint64(60) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runModel(t, seed) })
	}
}

func runModel(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	clk := newFakeClock()
	timeout := time.Duration(1+rng.IntN(5)) * time.Second
	cfg := Config{
		Clock:        clk,
		MaxRequests:  uint32(1 + rng.IntN(3)),
		Interval:     time.Duration(2+rng.IntN(8)) * time.Second,
		BucketPeriod: time.Second,
		Timeout:      timeout,
		MaxTimeout:   timeout * time.Duration(1+rng.IntN(20)),
		SlowCall:     time.Duration(rng.IntN(2)) * 1500 * time.Millisecond,
		Trip:         Any(ConsecutiveFailures(uint32(2+rng.IntN(4))), FailureRate(0.5, 6)),
		IsExcluded:   func(err error) bool { return errors.Is(err, errSkip) },
	}
	type change struct{ from, to State }
	var changes []change
	cfg.Hooks.OnStateChange = func(_ string, from, to State) { changes = append(changes, change{from, to}) }
	var trans []Transition
	var b *Breaker[int]
	cfg.Hooks.OnTransition = func(_ string, tr Transition) {
		// OnTransition follows OnStateChange for the same event.
		require.Equal(t, change{tr.From, tr.To}, changes[len(changes)-1])
		require.Equal(t, clk.Now(), tr.At)
		trans = append(trans, tr)
	}
	// checkTrans checks the transitions since n: reasons, open periods,
	// and (want non-nil) the Counts of the generation the first one ended.
	checkTrans := func(step int, since int, what string, want *Counts, reasons ...Reason) {
		got := trans[since:]
		if len(reasons) > 0 {
			require.Len(t, got, 1, "step %d %s: %+v", step, what, got)
			require.Contains(t, reasons, got[0].Reason, "step %d %s", step, what)
		}
		for _, tr := range got {
			if tr.To == StateOpen {
				_, st, _, openFor := b.peek()
				if st == StateOpen && tr == got[len(got)-1] {
					require.Equal(t, tr.At.Add(openFor), tr.RetryAt, "step %d %s", step, what)
				}
			} else {
				require.True(t, tr.RetryAt.IsZero())
			}
			if tr.Reason == ReasonOpenPeriodEnded {
				require.Equal(t, StateOpen, tr.From)
			}
		}
		if want != nil && len(got) > 0 {
			require.Equal(t, *want, got[0].Counts, "step %d %s: counts at the transition", step, what)
			if got[0].Reason == ReasonTripRule {
				require.True(t, cfg.Trip(got[0].Counts), "step %d: the rule fires on the counts reported", step)
			}
		}
	}
	var err error
	b, err = New[int](cfg)
	require.NoError(t, err)
	n := b.s.buckets

	var evs []modelEvent
	var pend []pendingModel
	halfAdmits := map[uint64]uint32{}
	halfExcluded := map[uint64]uint32{}
	// growth model
	k, opened := 0, false
	closedAt := clk.Now()
	lastGen, _, _, _ := b.peek()
	lastState := StateClosed

	check := func(step int, what string) {
		got := b.Counts() // may turn an expired open period half-open
		gen, st, _, openFor := b.peek()
		if gen != lastGen { // a transition (or a reclaimed half-open)
			if st == StateOpen && lastState != StateOpen {
				if lastState == StateHalfOpen || (opened && clk.Now().Sub(closedAt) < b.s.interval) {
					k++
				} else {
					k = 0
				}
				opened = true
				base := cfg.Timeout
				for range k {
					base = min(base*2, cfg.MaxTimeout)
				}
				lo := base - base/10
				hi := min(base+base/10, cfg.MaxTimeout)
				require.True(t, openFor >= lo && openFor <= hi, "step %d %s: open period %v, want [%v, %v] (k=%d)", step, what, openFor, lo, hi, k)
			}
			if st == StateClosed && lastState != StateClosed {
				closedAt = clk.Now()
			}
			lastGen, lastState = gen, st
		}
		want := expectedCounts(evs, gen, b.ageAt(clk.Now()), n)
		require.Equal(t, want, got, "step %d %s", step, what)
	}

	for step := range 400 {
		switch op := rng.IntN(100); {
		case op < 40: // admit
			st := b.State()
			check(step, "state")
			done, err := b.Allow(context.Background())
			gen, _, age, _ := b.peek()
			if err != nil {
				evs = append(evs, modelEvent{gen: gen, age: age, kind: 'x'})
				check(step, "reject")
				continue
			}
			if st != StateClosed {
				halfAdmits[gen]++
				require.LessOrEqual(t, halfAdmits[gen]-halfExcluded[gen], cfg.MaxRequests, "step %d: half-open admitted too many", step)
			}
			evs = append(evs, modelEvent{gen: gen, age: age, kind: 'r'})
			pend = append(pend, pendingModel{done: done, gen: gen, age: age, start: clk.Now()})
			check(step, "admit")
		case op < 75 && len(pend) > 0: // a result
			i := rng.IntN(len(pend))
			p := pend[i]
			pend = append(pend[:i], pend[i+1:]...)
			var res error
			kind := byte('s')
			switch r := rng.IntN(10); {
			case r < 4:
				res, kind = errBoom, 'f'
			case r < 5:
				res, kind = errSkip, 'e'
			}
			slow := cfg.SlowCall > 0 && kind != 'e' && clk.Now().Sub(p.start) > cfg.SlowCall
			gen, _, _, _ := b.peek()
			stale := p.gen != gen
			before, beforeState := b.Counts(), b.State()
			check(step, "pre-result")
			nt := len(trans)
			p.done(res)
			p.done(errBoom) // idempotent
			if stale {
				require.Equal(t, before, b.Counts(), "step %d: stale result moved counts", step)
				require.Equal(t, beforeState, b.State(), "step %d: stale result moved state", step)
				continue
			}
			if kind == 'e' && beforeState == StateHalfOpen {
				halfExcluded[p.gen]++ // an excluded probe frees its slot
			}
			if b.ageAt(clk.Now())-p.age < uint64(n) { // dropped once its bucket left the window
				evs = append(evs, modelEvent{gen: p.gen, age: p.age, kind: kind, slow: slow})
			}
			if len(trans) > nt {
				want := expectedCounts(evs, p.gen, b.ageAt(clk.Now()), n)
				switch {
				case beforeState == StateClosed:
					checkTrans(step, nt, "trip", &want, ReasonTripRule)
				case kind == 'f':
					checkTrans(step, nt, "probe", &want, ReasonProbeFailed)
				case slow:
					checkTrans(step, nt, "probe", &want, ReasonProbeSlow)
				default:
					checkTrans(step, nt, "probe", &want, ReasonProbesSucceeded)
				}
			}
			// Reading Counts right away would hide a run left to be ended
			// lazily; skip it now and then (unless the state changed, which
			// the growth model must see at once).
			if after, _, _, _ := b.peek(); after != gen || rng.IntN(2) == 0 {
				check(step, "result")
			}
		case op < 95:
			clk.Advance(time.Duration(rng.IntN(2500)) * time.Millisecond)
			nt := len(trans)
			check(step, "advance")
			checkTrans(step, nt, "advance", nil)
			for _, tr := range trans[nt:] {
				require.Equal(t, ReasonOpenPeriodEnded, tr.Reason)
				require.False(t, clk.Now().Before(tr.RetryAt)) // (zero for half-open)
			}
		case op < 97:
			gen, st, _, _ := b.peek()
			want := expectedCounts(evs, gen, b.ageAt(clk.Now()), n)
			nt := len(trans)
			b.Trip()
			if st == StateClosed {
				checkTrans(step, nt, "trip", &want, ReasonTrip)
			} else {
				checkTrans(step, nt, "trip", nil)
				if len(trans) > nt {
					require.Equal(t, ReasonTrip, trans[len(trans)-1].Reason)
				}
			}
			check(step, "trip")
		default:
			_, st, _, _ := b.peek()
			nt := len(trans)
			b.Reset()
			if st != StateClosed {
				require.Equal(t, ReasonReset, trans[len(trans)-1].Reason)
			}
			checkTrans(step, nt, "reset", nil)
			k, opened = 0, false
			check(step, "reset")
		}
	}
	// Hooks saw a consistent chain of transitions.
	prev := StateClosed
	for _, c := range changes {
		require.Equal(t, prev, c.from)
		prev = c.to
	}
	require.Len(t, trans, len(changes))
}

// peek returns the generation, state, newest bucket and open period.
func (b *Breaker[T]) peek() (gen uint64, st State, age uint64, openFor time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.w.Load()
	return w.gen, w.state, w.age, b.openFor
}

// TestWindowSparseObservation drives the window alone (a breaker that never
// trips, no hooks, so successes take the lock-free path) with calls left
// pending across buckets and results in any order, and compares Counts with
// the reference only now and then: a run that a success ends must end when
// the success completes, not when someone next reads the counts (by then
// the success's bucket may have left the window).
func TestWindowSparseObservation(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 19))
		clk := newFakeClock()
		b, err := New[int](Config{Clock: clk, Interval: time.Duration(2+rng.IntN(4)) * time.Second, BucketPeriod: time.Second,
			Trip: Any(), IsExcluded: func(err error) bool { return errors.Is(err, errSkip) }})
		require.NoError(t, err)
		n := b.s.buckets
		var evs []modelEvent
		var pend []pendingModel
		for step := range 120 {
			switch op := rng.IntN(10); {
			case op < 4:
				done, err := b.Allow(context.Background())
				require.NoError(t, err)
				_, _, age, _ := b.peek()
				evs = append(evs, modelEvent{age: age, kind: 'r'})
				pend = append(pend, pendingModel{done: done, age: age})
			case op < 8 && len(pend) > 0:
				i := rng.IntN(len(pend))
				p := pend[i]
				pend = append(pend[:i], pend[i+1:]...)
				kind, res := []byte("sffe")[rng.IntN(4)], error(nil)
				switch kind {
				case 'f':
					res = errBoom
				case 'e':
					res = errSkip
				}
				p.done(res)
				if b.ageAt(clk.Now())-p.age < uint64(n) {
					evs = append(evs, modelEvent{age: p.age, kind: kind})
				}
			default:
				clk.Advance(time.Duration(rng.IntN(1500)) * time.Millisecond)
			}
			if rng.IntN(6) == 0 {
				gen, _, _, _ := b.peek()
				require.Zero(t, gen)
				require.Equal(t, expectedCounts(evs, 0, b.ageAt(clk.Now()), n), b.Counts(), "seed %d step %d", seed, step)
			}
		}
	}
}

// TestConsecutiveRunEndedByEarlierCall pins the documented run semantics
// with the case that looks odd: X is admitted first and succeeds between
// the failures Y and Z; once X's bucket leaves the window, every outcome in
// the window is a failure, yet the failure run is 1 (Z), because X ended
// Y's run when it completed.
func TestConsecutiveRunEndedByEarlierCall(t *testing.T) {
	clk := newFakeClock()
	b, err := New[int](Config{Clock: clk, Interval: 3 * time.Second, BucketPeriod: time.Second, Trip: Any()})
	require.NoError(t, err)
	ctx := context.Background()
	doneX, _ := b.Allow(ctx) // bucket 0
	clk.Advance(time.Second)
	doneY, _ := b.Allow(ctx)
	doneY(errBoom)
	clk.Advance(500 * time.Millisecond)
	doneX(nil)
	clk.Advance(500 * time.Millisecond)
	doneZ, _ := b.Allow(ctx)
	doneZ(errBoom)
	clk.Advance(time.Second) // bucket 0 leaves the window
	require.Equal(t, Counts{Requests: 2, Failures: 2, ConsecutiveFailures: 1}, b.Counts())
}
