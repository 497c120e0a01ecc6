package overload

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWaitListMatchesModel: random pushes and removals of waiters with
// random keys, checked after every step against a plain slice in arrival
// order: the length, the arrival order, the oldest of the most important
// business class, and the least important waiter (largest key, latest among
// equals).
func TestWaitListMatchesModel(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		var q waitList
		model := []*waiter{}
		// Few classes and user levels in some seeds, so keys collide.
		classes, users := 1+rng.IntN(256), 1+rng.IntN(256)
		for step := range 2000 {
			if len(model) == 0 || len(model) < 64 && rng.IntN(3) > 0 || rng.IntN(2) == 0 {
				w := &waiter{key: uint16(rng.IntN(classes))<<8 | uint16(rng.IntN(users)), enqueued: int64(step)}
				q.pushBack(w)
				model = append(model, w)
			} else {
				i := rng.IntN(len(model))
				q.remove(model[i])
				model = slices.Delete(model, i, i+1)
			}
			require.Equal(t, len(model), q.n, "seed %d step %d", seed, step)
			i := 0
			for w := q.head; w != nil && i < len(model) && w == model[i]; w = w.next {
				i++
			}
			require.Equal(t, len(model), i, "seed %d step %d: arrival order differs at %d", seed, step, i)
			var best, worst *waiter
			for _, w := range model {
				if best == nil || w.key>>8 < best.key>>8 {
					best = w
				}
				if worst == nil || w.key >= worst.key {
					worst = w
				}
			}
			require.True(t, best == q.mostImportantClass(), "seed %d step %d: most important class", seed, step)
			require.True(t, worst == q.leastImportant(), "seed %d step %d: least important", seed, step)
		}
	}
}

// TestDispatchOrderAndPassOverBound: random queues (random classes and
// enqueue times, some older than the pass-over limit) and one freed slot.
// The slot goes to the oldest waiter of the most important business class;
// every waiter that arrived before it and has waited longer than the limit
// is refused as displaced; no other waiter changes state.
func TestDispatchOrderAndPassOverBound(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 11))
		clk := newFakeClock()
		c, err := New(Config{MaxConcurrency: 1, MaxQueue: 64, Clock: clk})
		require.NoError(t, err)
		clk.Advance(time.Second)
		limit := c.passOverLimit()
		now := c.nanotime()
		n := 1 + rng.IntN(30)
		ws := make([]*waiter, n)
		at := now - 2*limit
		for i := range ws {
			at += rng.Int64N(limit / 4)
			ws[i] = &waiter{key: uint16(rng.IntN(4))<<8 | uint16(rng.IntN(128)), enqueued: at, ch: make(chan struct{}, 1)}
		}
		c.mu.Lock()
		for _, w := range ws {
			c.q.pushBack(w)
			c.waiting.Add(1)
		}
		best := ws[0]
		for _, w := range ws {
			if w.key>>8 < best.key>>8 {
				best = w
			}
		}
		c.dispatchLocked()
		c.mu.Unlock()
		expired := true // still in the run of expired waiters before best
		for _, w := range ws {
			switch {
			case w == best:
				assert.Equal(t, granted, w.state, "seed %d", seed)
				expired = false
			case expired && now-w.enqueued > limit:
				assert.Equal(t, displaced, w.state, "seed %d: waited %v > %v", seed, time.Duration(now-w.enqueued), time.Duration(limit))
			default:
				expired = false
				assert.Equal(t, waiting, w.state, "seed %d", seed)
			}
			assert.Equal(t, w.state != waiting, len(w.ch) == 1, "seed %d: woken iff its state left waiting", seed)
		}
		assert.Equal(t, int64(c.q.n), c.waiting.Load(), "seed %d", seed)
		assert.Equal(t, 1, c.InUse(), "seed %d", seed)
	}
}

// TestAcquireServesMoreImportantFirst: with the one slot held, waiters of
// classes 3, 2, 0, 1 queue in that order; each release hands the slot to the
// most important waiter, so they start 0, 1, 2, 3.
func TestAcquireServesMoreImportantFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := New(Config{MaxConcurrency: 1, MaxQueue: 8})
		require.NoError(t, err)
		held, err := c.Acquire(t.Context(), Priority{})
		require.NoError(t, err)
		order := make(chan uint8, 4)
		var wg sync.WaitGroup
		for _, b := range []uint8{3, 2, 0, 1} {
			wg.Go(func() {
				p, err := c.Acquire(t.Context(), Priority{Business: b})
				if assert.NoError(t, err) {
					order <- b
					time.Sleep(time.Millisecond)
					p.Release()
				}
			})
			synctest.Wait()
		}
		time.Sleep(time.Millisecond)
		held.Release()
		wg.Wait()
		close(order)
		var got []uint8
		for b := range order {
			got = append(got, b)
		}
		assert.Equal(t, []uint8{0, 1, 2, 3}, got)
	})
}

// TestPassedOverWaiterIsRefused: a class-3 waiter behind a steady stream of
// class-0 requests on one slot is refused as displaced once it has waited
// longer than the pass-over limit, not served late; the class-0 requests
// are all served.
func TestPassedOverWaiterIsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := New(Config{MaxConcurrency: 1, MaxQueue: 32})
		require.NoError(t, err)
		limit := time.Duration(c.passOverLimit())
		held, err := c.Acquire(t.Context(), Priority{})
		require.NoError(t, err)
		var waited time.Duration
		var lowErr error
		done := make(chan struct{})
		go func() {
			start := time.Now()
			p, err := c.Acquire(context.Background(), Priority{Business: 3})
			waited, lowErr = time.Since(start), err
			p.Release()
			close(done)
		}()
		synctest.Wait()
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				p, err := c.Acquire(context.Background(), Priority{})
				if assert.NoError(t, err) {
					time.Sleep(limit / 10)
					p.Release()
				}
			})
			synctest.Wait()
		}
		held.Release()
		wg.Wait()
		<-done
		var se *ShedError
		require.True(t, errors.As(lowErr, &se), "got %v", lowErr)
		assert.Equal(t, ReasonDisplaced, se.Reason)
		assert.Greater(t, waited, limit)
		assert.LessOrEqual(t, waited, limit+limit/10)
	})
}

// TestDryRunQueueIsFIFO: in DryRun the queue keeps arrival order and
// refuses nobody for being passed over: a class-3 waiter that waits far
// longer than the pass-over limit is served first, before the class-0
// waiters that arrived after it.
func TestDryRunQueueIsFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := New(Config{MaxConcurrency: 1, MaxQueue: 8, DryRun: true})
		require.NoError(t, err)
		limit := time.Duration(c.passOverLimit())
		held, err := c.Acquire(t.Context(), Priority{})
		require.NoError(t, err)
		order := make(chan uint8, 4)
		var wg sync.WaitGroup
		for _, b := range []uint8{3, 0, 0, 2} {
			wg.Go(func() {
				p, err := c.Acquire(t.Context(), Priority{Business: b})
				if assert.NoError(t, err) {
					order <- b
					p.Release()
				}
			})
			synctest.Wait()
		}
		time.Sleep(2 * limit)
		held.Release()
		wg.Wait()
		close(order)
		var got []uint8
		for b := range order {
			got = append(got, b)
		}
		assert.Equal(t, []uint8{3, 0, 0, 2}, got)
	})
}
