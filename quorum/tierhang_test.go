package quorum_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
)

// TestMasterSlaveHangingSlaveDoesNotFillMaxInFlight: the slave of a
// MasterSlave tier hangs (its calls block until their context ends) while
// writers keep going. The asynchronous slave copy used to be sent whatever
// the slave's state, so the hanging slave filled MaxInFlight (1024 calls
// held) and most copies then failed "replica busy". A copy to a slave that
// hangs is now skipped and reported to AsyncWrite, so the slave holds
// about 4 calls plus two per writer (its version read and its copy) once
// the hang is known, instead of filling MaxInFlight. Every write succeeds (the master
// acknowledges), and once the slave answers again it gets every writer's
// last write. N, writers, ReplicaTimeout, MaxInFlight and whether only the
// slave's Puts hang are drawn from the seed; fake time.
func TestMasterSlaveHangingSlaveDoesNotFillMaxInFlight(t *testing.T) {
	for s := range 24 {
		seed := uint64(s + 1)
		rng := rand.New(rand.NewPCG(seed, 31))
		n := 2 + rng.IntN(2)
		writers := 1 + rng.IntN(8)
		timeout := []time.Duration{100 * time.Millisecond, 300 * time.Millisecond}[rng.IntN(2)]
		maxInFlight := []int{0, 64}[rng.IntN(2)]
		putsOnly := rng.IntN(2) == 0
		name := fmt.Sprintf("seed=%d/n=%d/writers=%d/timeout=%v/maxinflight=%d/putsonly=%v", seed, n, writers, timeout, maxInFlight, putsOnly)
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fs, reps := nFakes(n)
				for _, f := range fs {
					f.setDelay(5 * time.Millisecond)
				}
				var skipped atomic.Int64
				c := newClient(t, reps, quorum.Config{Tier: quorum.MasterSlave, ReplicaTimeout: timeout, MaxInFlight: maxInFlight,
					Hooks: quorum.Hooks{AsyncWrite: func(i int, err error) {
						if errors.Is(err, quorum.ErrNotStored) {
							skipped.Add(1)
						}
					}}})
				ctx := context.Background()
				require.NoError(t, c.Put(ctx, "k0", []byte("v")))
				slave := fs[1]
				slave.gatePutsOnly.Store(putsOnly)
				slave.block()
				var stop atomic.Bool
				var writes atomic.Int64
				last := make([]quorum.Version, writers)
				var wg sync.WaitGroup
				for w := range writers {
					wg.Go(func() {
						for i := 0; !stop.Load(); i++ {
							v, err := c.PutVersion(ctx, "w"+strconv.Itoa(w), []byte(strconv.Itoa(i)))
							if err != nil {
								t.Errorf("writer %d: %v", w, err)
								return
							}
							last[w] = v
							writes.Add(1)
							time.Sleep(time.Millisecond)
						}
					})
				}
				time.Sleep(3*timeout + 100*time.Millisecond)
				// Calls held at the gate: with only Puts hanging, the
				// slave's version reads still answer.
				early := slave.maxHeld.Load()
				slave.maxHeld.Store(slave.held.Load())
				time.Sleep(3 * timeout)
				hung := slave.maxHeld.Load()
				slave.open()
				time.Sleep(4 * timeout)
				stop.Store(true)
				wg.Wait()
				require.NoError(t, c.Close())

				t.Logf("%d writes; slave calls held: at most %d before the first ended, %d after; %d copies reported not stored",
					writes.Load(), early, hung, skipped.Load())
				require.Positive(t, writes.Load())
				ops := int64(writers)
				// Once the hang is known: up to 3 copies, plus per writer
				// its copy and its version read (sent before the slave is
				// demoted), plus a probe.
				assert.LessOrEqual(t, hung, 3+2*ops+1, "calls held by the hanging slave once it is known to hang")
				// The ramp: 8 Puts with no progress for a hedge delay, plus
				// per writer what it sent in one hedge delay, plus a probe.
				assert.LessOrEqual(t, early, 8+3*ops+1, "calls held by the hanging slave before the hang is known")
				assert.Positive(t, skipped.Load(), "skipped copies are reported to AsyncWrite as not stored")
				for w := range writers {
					assert.Equal(t, last[w], slave.stored(t, "w"+strconv.Itoa(w)).Version, "writer %d: the slave back holds its last write", w)
				}
			})
		})
	}
}
