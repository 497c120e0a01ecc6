package quorum_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/bulwark-go/bulwark/quorum"
)

// TestNoExtraRequestsToAFailedReplica: a replica that refuses every call or
// hangs (a paused process: calls end only with their context) is, once
// known, neither a hedge target nor asked by reads (also when it is the
// LocalZone replica); only probes reach it. Before the fix hedges kept
// going to a dead replica (newcomer finding 3: 0 of 56–151 won), a paused
// replica stayed first for 14 reads each hedged around it (adversary
// finding 8), and a hung local replica kept its LocalZone preference
// (newcomer finding 4). Random N, R, victim, failure mode, LocalZone,
// readers and tails; fake time.
func TestNoExtraRequestsToAFailedReplica(t *testing.T) {
	for sd := range uint64(30) {
		rng := rand.New(rand.NewPCG(sd, 7))
		n := 3 + rng.IntN(3)
		r := 1 + rng.IntN(n-1)
		victim := rng.IntN(n)
		hang := rng.IntN(2) == 0
		local := rng.IntN(2) == 0
		readers := 1 + rng.IntN(3)
		name := fmt.Sprintf("seed=%d/N=%d/R=%d/victim=%d/hang=%v/local=%v/readers=%d", sd, n, r, victim, hang, local, readers)
		synctest.Test(t, func(t *testing.T) {
			zones := make([]string, n)
			for i := range zones {
				zones[i] = fmt.Sprint("z", i)
			}
			fs, reps := fakes(zones...)
			seed(t, reps, "k", "v")
			for _, f := range fs {
				f.setDelay(time.Millisecond)
				if rng.IntN(2) == 0 {
					f.slowEvery.Store(int64(5 + rng.IntN(10)))
					f.slowExtra.Store(int64(10+rng.IntN(40)) * int64(time.Millisecond))
				}
			}
			var mu sync.Mutex
			failedAt := time.Time{}
			hedgesToVictim := 0
			cfg := quorum.Config{W: n - r + 1, R: r, Consistency: quorum.Quorum, Repair: quorum.RepairOff,
				Hooks: quorum.Hooks{HedgeFired: func(i int) {
					mu.Lock()
					defer mu.Unlock()
					if i == victim && !failedAt.IsZero() {
						hedgesToVictim++
					}
				}}}
			if local {
				cfg.LocalZone = zones[victim]
			}
			c := newClient(t, reps, cfg)
			ctx := context.Background()
			read := func(count int) {
				var wg sync.WaitGroup
				for range readers {
					wg.Go(func() {
						for range count {
							_, err := c.Get(ctx, "k")
							assert.NoError(t, err)
						}
					})
				}
				wg.Wait()
			}
			read(100) // warm up: latency estimates
			mu.Lock()
			failedAt = time.Now()
			mu.Unlock()
			if hang {
				fs[victim].block()
				defer fs[victim].open()
			} else {
				fs[victim].down.Store(true)
			}
			before := fs[victim].gets.Load()
			read(100)
			elapsed := time.Since(failedAt)
			asked := fs[victim].gets.Load() - before
			probes := int64(elapsed/(100*time.Millisecond)) + 1
			mu.Lock()
			defer mu.Unlock()
			// At most one hedge finds the failure (a refusing replica is
			// demoted by it; a hanging one is suspect after it).
			assert.LessOrEqual(t, hedgesToVictim, readers, "%s: hedges sent to the failed replica", name)
			// Until the replica has answered nothing for its suspect
			// delay (4 hedge delays) each reader may meet it once per
			// hedge delay, so 5 times; then probes only. Before the fix a
			// paused replica was met until the hedge budget ran dry.
			assert.LessOrEqual(t, asked, probes+5*int64(readers), "%s: Gets the failed replica received over %v", name, elapsed)
		})
	}
}
