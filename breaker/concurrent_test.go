package breaker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// checkCounts holds for every Counts, however many calls run meanwhile.
func checkCounts(c Counts) error {
	switch {
	case uint64(c.Successes)+uint64(c.Failures)+uint64(c.Excluded) > uint64(c.Requests):
		return fmt.Errorf("more results than requests: %+v", c)
	case c.ConsecutiveSuccesses > 0 && c.ConsecutiveFailures > 0:
		return fmt.Errorf("both runs under way: %+v", c)
	case c.ConsecutiveSuccesses > c.Successes || c.ConsecutiveFailures > c.Failures:
		return fmt.Errorf("run longer than its outcome count: %+v", c)
	case c.Slow > c.Successes+c.Failures:
		return fmt.Errorf("more slow calls than results: %+v", c)
	}
	return nil
}

// TestConcurrentCountsExact: goroutines book random outcomes (successes on
// the lock-free path, failures and slow calls under the lock, excluded ones
// on either) into a breaker that never trips, while a reader takes Counts
// all the time. Every snapshot is consistent (checkCounts), and once all
// calls returned the counts are exact and exactly one run is under way.
func TestConcurrentCountsExact(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			clk := newFakeClock()
			b, err := New[int](Config{Clock: clk, Trip: Any(), SlowCall: time.Duration(seed%2) * time.Second,
				IsExcluded: func(err error) bool { return errors.Is(err, errSkip) }})
			require.NoError(t, err)
			var succ, fails, excl atomic.Uint32
			stop := make(chan struct{})
			var bad atomic.Value
			var rd sync.WaitGroup
			rd.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := checkCounts(b.Counts()); err != nil {
						bad.Store(err.Error())
					}
				}
			})
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(seed, uint64(w)))
					for range 2000 {
						var res error
						switch r := rng.IntN(10); {
						case r < 2:
							res = errBoom
							fails.Add(1)
						case r < 3:
							res = errSkip
							excl.Add(1)
						default:
							succ.Add(1)
						}
						if rng.IntN(2) == 0 {
							_, _ = b.Execute(context.Background(), func(context.Context) (int, error) { return 0, res })
						} else {
							done, err := b.Allow(context.Background())
							if err != nil {
								panic(err)
							}
							done(res)
						}
					}
				})
			}
			wg.Wait()
			close(stop)
			rd.Wait()
			require.Nil(t, bad.Load())
			c := b.Counts()
			require.Equal(t, uint32(8000), c.Requests)
			require.Equal(t, succ.Load(), c.Successes)
			require.Equal(t, fails.Load(), c.Failures)
			require.Equal(t, excl.Load(), c.Excluded)
			require.True(t, (c.ConsecutiveSuccesses > 0) != (c.ConsecutiveFailures > 0), "%+v", c)
			require.Zero(t, b.inFlight())
		})
	}
}

// TestConcurrentStateMachine: goroutines run random calls while the clock
// moves, the breaker trips, probes, closes, and Trip and Reset come from
// outside. Every Counts snapshot is consistent, half-open never has more
// than MaxRequests probes running per generation, and when all calls have
// returned nothing is left in flight.
func TestConcurrentStateMachine(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			clk := newFakeClock()
			const maxProbes = 2
			b, err := New[int](Config{Clock: clk, MaxRequests: maxProbes, Timeout: 10 * time.Millisecond, MaxTimeout: 80 * time.Millisecond,
				Interval: 100 * time.Millisecond, BucketPeriod: 10 * time.Millisecond, Trip: Any(ConsecutiveFailures(3), FailureRate(0.5, 10))})
			require.NoError(t, err)
			var mu sync.Mutex
			probes := map[*window]int{}
			var problems []string
			var wg sync.WaitGroup
			for w := range 6 {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(seed, uint64(w)))
					for range 1500 {
						switch r := rng.IntN(100); {
						case r < 8:
							clk.Advance(time.Duration(rng.IntN(15)) * time.Millisecond)
						case r < 9:
							b.Trip()
						case r < 10:
							b.Reset()
						case r < 15:
							if err := checkCounts(b.Counts()); err != nil {
								mu.Lock()
								problems = append(problems, err.Error())
								mu.Unlock()
							}
						default:
							tok, err := b.admit() // what Execute and Allow do
							b.flush()
							if err != nil {
								continue
							}
							if tok.w.state == StateHalfOpen {
								mu.Lock()
								probes[tok.w]++ // no excluded results here: no slot is freed
								if probes[tok.w] > maxProbes {
									problems = append(problems, fmt.Sprintf("%d probes in one half-open generation", probes[tok.w]))
								}
								mu.Unlock()
							}
							if rng.IntN(3) == 0 {
								clk.Advance(time.Millisecond)
							}
							out := outSuccess
							if rng.IntN(3) == 0 {
								out = outFailure
							}
							b.finish(tok, out, nil)
						}
					}
				})
			}
			wg.Wait()
			require.Empty(t, problems)
			require.Zero(t, b.inFlight())
			require.NoError(t, checkCounts(b.Counts()))
		})
	}
}

// inFlight is the window's count of calls whose result can still count.
func (b *Breaker[T]) inFlight() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Load().inFlight()
}
