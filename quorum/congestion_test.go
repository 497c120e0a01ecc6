package quorum_test

import (
	"context"
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

// TestHangingReplicaDoesNotHoldWrites: one replica hangs (every call
// blocks until its context ends) while writers, and sometimes readers, keep
// going. Writes still reach W replicas, so every write must succeed; but a
// write sends no record to a replica that already has 4 calls in flight
// and either is demoted or suspect or has finished none of them for its
// suspect delay, unless the write cannot be acknowledged without it. So
// the hanging replica never has more than 4 calls in flight plus one per
// concurrent operation, instead of filling MaxInFlight. Once it answers
// again, writes reach it again: it holds the last write of every writer.
// N (3 or 5), the victim, writers (1–8), readers, ReplicaTimeout and
// MaxInFlight are drawn from the seed; fake time.
func TestHangingReplicaDoesNotHoldWrites(t *testing.T) {
	for s := range 12 {
		seed := uint64(s + 1)
		rng := rand.New(rand.NewPCG(seed, 24))
		n := []int{3, 5}[rng.IntN(2)]
		victim := rng.IntN(n)
		writers := 1 + rng.IntN(8)
		readers := rng.IntN(3)
		timeout := []time.Duration{100 * time.Millisecond, 300 * time.Millisecond}[rng.IntN(2)]
		maxInFlight := []int{0, 64}[rng.IntN(2)]
		// Only the victim's Puts hang (its reads and version reads answer),
		// half the time: it must still be found hanging for writes.
		putsOnly := rng.IntN(2) == 0
		name := fmt.Sprintf("seed=%d/n=%d/victim=%d/writers=%d/readers=%d/timeout=%v/maxinflight=%d/putsonly=%v", seed, n, victim, writers, readers, timeout, maxInFlight, putsOnly)
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fs, reps := nFakes(n)
				for _, f := range fs {
					f.setDelay(5 * time.Millisecond)
				}
				c := newClient(t, reps, quorum.Config{ReplicaTimeout: timeout, MaxInFlight: maxInFlight})
				ctx := context.Background()
				require.NoError(t, c.Put(ctx, "k0", []byte("v")))

				fs[victim].gatePutsOnly.Store(putsOnly)
				fs[victim].block()
				var stop atomic.Bool
				var writes, failed, reads atomic.Int64
				last := make([]quorum.Version, writers)
				var wg sync.WaitGroup
				for w := range writers {
					wg.Go(func() {
						for i := 0; !stop.Load(); i++ {
							v, err := c.PutVersion(ctx, "w"+strconv.Itoa(w), []byte(strconv.Itoa(i)))
							if err != nil {
								failed.Add(1)
								t.Errorf("writer %d: %v", w, err)
								return
							}
							last[w] = v
							writes.Add(1)
						}
					})
				}
				for range readers {
					wg.Go(func() {
						for !stop.Load() {
							_, err := c.Get(ctx, "k0")
							if !assert.NoError(t, err) {
								return
							}
							reads.Add(1)
						}
					})
				}
				// Until the first calls have been outstanding for a
				// suspect delay nothing tells a hang from a slow call;
				// those calls live until their context ends, at 3 ×
				// ReplicaTimeout.
				time.Sleep(3*timeout + 100*time.Millisecond)
				early := fs[victim].maxInflight.Load()
				fs[victim].maxInflight.Store(fs[victim].inflight.Load())
				time.Sleep(3 * timeout)
				hung := fs[victim].maxInflight.Load()
				fs[victim].open()
				time.Sleep(4 * timeout)
				stop.Store(true)
				wg.Wait()
				require.NoError(t, c.Close())

				t.Logf("%d writes, %d reads; calls in flight on the hanging replica: at most %d before its first calls ended, %d after",
					writes.Load(), reads.Load(), early, hung)
				require.Zero(t, failed.Load())
				require.Positive(t, writes.Load())
				ops := int64(writers + readers)
				// 3, plus one per operation (each may have seen 3 at
				// once), plus a probe.
				assert.LessOrEqual(t, hung, 3+ops+1, "calls held by the hanging replica once it is known to hang")
				// The ramp: 8 Puts in flight with none finished for a
				// hedge delay make the replica congested, so before the
				// hang is known it holds about 8 plus what each operation
				// sent in one hedge delay (one or two each).
				assert.LessOrEqual(t, early, 8+2*ops, "calls held by the hanging replica before the hang is known (the ramp)")
				for w := range writers {
					got := fs[victim].stored(t, "w"+strconv.Itoa(w)).Version
					assert.Equal(t, last[w], got, "writer %d: the replica back holds its last write", w)
				}
			})
		})
	}
}

// TestCongestedReplicasStillAcknowledge: exactly W replicas are alive (the
// others refuse every call), and the alive ones stall now and then (every
// call blocks for 10–40 ms, one replica or all at once), long enough to
// look congested — 4 or more calls in flight and no progress for their
// suspect delay — but well within ReplicaTimeout. Every write needs every
// alive replica, so none may be held back as congested for long: every
// write must succeed. N, the stall schedule and the writers (4–8) are drawn
// from the seed; fake time.
func TestCongestedReplicasStillAcknowledge(t *testing.T) {
	for s := range 8 {
		seed := uint64(s + 1)
		rng := rand.New(rand.NewPCG(seed, 25))
		n := []int{3, 5}[rng.IntN(2)]
		w := n/2 + 1
		writers := 4 + rng.IntN(5)
		t.Run(fmt.Sprintf("seed=%d/n=%d/writers=%d", seed, n, writers), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fs, reps := nFakes(n)
				for _, f := range fs {
					f.setDelay(time.Millisecond)
				}
				c := newClient(t, reps, quorum.Config{ReplicaTimeout: 200 * time.Millisecond})
				ctx := context.Background()
				alive := fs[:w]
				for _, f := range fs[w:] {
					f.down.Store(true)
				}
				var stop atomic.Bool
				var writes atomic.Int64
				var wg sync.WaitGroup
				for wr := range writers {
					wg.Go(func() {
						for i := 0; !stop.Load(); i++ {
							if err := c.Put(ctx, "w"+strconv.Itoa(wr), []byte(strconv.Itoa(i))); err != nil {
								t.Errorf("writer %d: %v", wr, err)
								return
							}
							writes.Add(1)
						}
					})
				}
				for range 20 {
					time.Sleep(time.Duration(5+rng.IntN(30)) * time.Millisecond)
					stalled := alive
					if rng.IntN(2) == 0 {
						stalled = alive[rng.IntN(len(alive)):][:1]
					}
					for _, f := range stalled {
						f.block()
					}
					time.Sleep(time.Duration(10+rng.IntN(31)) * time.Millisecond)
					for _, f := range stalled {
						f.open()
					}
				}
				stop.Store(true)
				wg.Wait()
				t.Logf("%d writes", writes.Load())
				require.Positive(t, writes.Load())
			})
		})
	}
}
