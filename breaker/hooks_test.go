package breaker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHooksCallBackInConcurrently: hooks that call Counts, State, Execute,
// Trip and Reset never deadlock, run one at a time per breaker, and see
// state changes as an unbroken chain, under -race with 8 goroutines running
// random call schedules.
func TestHooksCallBackInConcurrently(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			clk := newFakeClock()
			var b *Breaker[int]
			var mu sync.Mutex // only to collect; hooks are serial anyway
			var chain []State
			var inHook atomic.Int32
			var results, rejects atomic.Int64
			enter := func() {
				if inHook.Add(1) != 1 {
					t.Error("two hooks ran at once")
				}
			}
			cfg := Config{Clock: clk, Timeout: time.Millisecond, MaxTimeout: 4 * time.Millisecond, Trip: ConsecutiveFailures(2),
				Hooks: Hooks{
					OnStateChange: func(_ string, from, to State) {
						enter()
						defer inHook.Add(-1)
						mu.Lock()
						if len(chain) > 0 && chain[len(chain)-1] != from {
							t.Errorf("state change from %v after change to %v", from, chain[len(chain)-1])
						}
						chain = append(chain, to)
						mu.Unlock()
						_ = b.Counts()
						_ = b.State()
						_, _ = b.Execute(context.Background(), ok) // nested: queued, not deadlocked
					},
					OnReject: func(string, error) {
						enter()
						defer inHook.Add(-1)
						rejects.Add(1)
						_ = b.State()
					},
					OnResult: func(string, error, time.Duration) {
						enter()
						defer inHook.Add(-1)
						results.Add(1)
						_ = b.Counts()
					},
				}}
			var err error
			b, err = New[int](cfg)
			require.NoError(t, err)
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(seed, uint64(g)))
					for range 300 {
						switch r := rng.IntN(20); {
						case r == 0:
							clk.Advance(time.Millisecond)
						case r == 1:
							b.Trip()
						case r == 2:
							b.Reset()
						case r < 10:
							_, _ = b.Execute(context.Background(), fail)
						default:
							_, _ = b.Execute(context.Background(), ok)
						}
					}
				})
			}
			wg.Wait()
			b.flush() // flush anything queued by the last callers
			assert.NotEmpty(t, chain)
			assert.Positive(t, results.Load())
			assert.Positive(t, rejects.Load())
		})
	}
}
