package breaker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/breaker"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
)

// TestStaleResult: call A is admitted while closed; failures trip the
// breaker; after the open period a probe B is admitted; A then succeeds
// while B is in flight. Bulwark must stay half-open and refuse further
// calls; failsafe-go (no generation guard) closes and admits more.
func TestStaleResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := breaker.New[int](breaker.Config{Clock: bubbleClock{}, Trip: breaker.ConsecutiveFailures(1)})
		doneA, err := b.Allow(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = b.Execute(context.Background(), func(context.Context) (int, error) { return 0, errDep })
		time.Sleep(10 * time.Second)
		doneB, err := b.Allow(context.Background()) // the probe
		if err != nil {
			t.Fatal(err)
		}
		doneA(nil) // stale success
		extra := 0
		for range 5 {
			if d, err := b.Allow(context.Background()); err == nil {
				extra++
				d(nil)
			}
		}
		fmt.Printf("| bulwark | %v | %d |\n", b.State(), extra)
		if b.State() != breaker.StateHalfOpen || extra != 0 {
			t.Errorf("bulwark: stale success moved the breaker: state %v, %d extra calls admitted", b.State(), extra)
		}
		doneB(nil)

		f := circuitbreaker.NewBuilder[int]().WithFailureThreshold(1).WithDelay(5 * time.Second).Build()
		if !f.TryAcquirePermit() { // A
			t.Fatal("failsafe refused A")
		}
		f.TryAcquirePermit()
		f.RecordError(errDep)
		time.Sleep(10 * time.Second)
		f.TryAcquirePermit() // B, the probe
		f.RecordSuccess()    // A's stale success
		extra = 0
		for range 5 {
			if f.TryAcquirePermit() {
				extra++
				f.RecordSuccess()
			}
		}
		fmt.Printf("| failsafe-go | %v | %d |\n", f.State(), extra)
	})
}

// TestGroupDeadHosts: 10,000 keys, 100 dead hosts, MaxKeys 1,000, 30 s of
// virtual time at 20,000 calls/s (70 % of calls to the 1,000 hottest keys,
// which include the dead ones). Counts calls that reached a dead host after
// its breaker first opened: outside half-open probes this must be zero.
func TestGroupDeadHosts(t *testing.T) {
	clk := &stepClock{t: time.Unix(1_700_000_000, 0)}
	state := map[string]breaker.State{}
	everOpen := map[string]bool{}
	g, err := breaker.NewGroup[int](breaker.GroupConfig{MaxKeys: 1000, Breaker: breaker.Config{Clock: clk,
		Hooks: breaker.Hooks{OnStateChange: func(key string, _, to breaker.State) {
			state[key] = to
			if to == breaker.StateOpen {
				everOpen[key] = true
			}
		}}}})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = "host-" + strconv.Itoa(i)
	}
	dead := func(i int) bool { return i < 100 }
	var deadCalls, afterOpen, probes, outsideProbes int
	calls := 600_000
	if testing.Short() {
		calls = 200_000
	}
	for range calls {
		clk.t = clk.t.Add(50 * time.Microsecond)
		i := rng.IntN(10_000)
		if rng.IntN(10) < 7 {
			i = rng.IntN(1000)
		}
		key := keys[i]
		_, _ = g.Execute(context.Background(), key, func(context.Context) (int, error) {
			if !dead(i) {
				return 1, nil
			}
			deadCalls++
			if everOpen[key] {
				afterOpen++
				if state[key] == breaker.StateHalfOpen {
					probes++
				} else {
					outsideProbes++
				}
			}
			return 0, errDep
		})
	}
	opened := 0
	for i := range 100 {
		if everOpen[keys[i]] {
			opened++
		}
	}
	fmt.Printf("| %d calls, %d dead hosts opened | %d | %d | %d | %d | %d |\n", calls, opened, deadCalls, afterOpen, probes, outsideProbes, g.Len())
	if outsideProbes != 0 {
		t.Errorf("%d calls reached dead hosts outside half-open probes after their breakers opened", outsideProbes)
	}
	if g.Len() > 1000+63 { // MaxKeys + ⌈MaxKeys/16⌉ overflow
		t.Errorf("Len %d > MaxKeys + overflow", g.Len())
	}
}

type stepClock struct{ t time.Time }

func (c *stepClock) Now() time.Time { return c.t }
