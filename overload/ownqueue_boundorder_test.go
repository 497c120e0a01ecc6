package overload

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A burst that fits in idle workers, once the service is calm again after
// an overload (finding 3): the count then held every request of the burst
// against the others (n × drain interval) and refused some with
// ReasonQueueFull although each would have started at once. The bound is
// now off while the Controller is calm; random worker counts, handler
// times and bursts of up to 90 % of the workers.
func TestOwnQueueBoundBurstIntoIdleWorkers(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 55))
	for i := range 30 {
		workers := 16 + rng.IntN(241)
		m := time.Duration(20+rng.IntN(481)) * time.Millisecond
		capacity := float64(workers) / m.Seconds()
		clk := newFakeClock()
		c, err := New(Config{MaxConcurrency: workers, Clock: clk, WindowRequests: maxWindowRequests})
		require.NoError(t, err)
		// 2× for 3 windows, every start reporting 3 thresholds of wait:
		// overloaded, the drain interval measured, the level closed.
		saturateOwnQueue(c, clk, int(2*capacity), 3*DefaultQueueThreshold, 3)
		require.Positive(t, c.drainInterval(), "case %d", i)
		// ρ = 0.3, every start at once, until the level is open again.
		for w := 0; w < 20 && !c.Level().IsOpen(); w++ {
			saturateOwnQueue(c, clk, max(int(0.3*capacity), 1), 0, 1)
		}
		saturateOwnQueue(c, clk, max(int(0.3*capacity), 1), 0, 1)
		require.True(t, c.Level().IsOpen(), "case %d: level %v", i, c.Level())
		n := 1 + rng.IntN(workers*9/10)
		for k := range n {
			err := c.Admit(Priority{Business: uint8(k % 4), User: uint8(k % 128)})
			var se *ShedError
			if errors.As(err, &se) {
				assert.Fail(t, "burst refused", "case %d: %d workers × %v, burst %d: request %d refused: %v", i, workers, m, n, k, err)
				break
			}
		}
	}
}

// Priority inversion (finding 7): Admit reads the clock on every fourth
// call only, and a refusal judged on an old clock counted admissions that
// a fresh one has forgotten, so a class-0 request could be refused with
// ReasonQueueFull and a class-3 request admitted right after it, at the
// same instant and with nothing started in between. Random schedules: an
// engaged bound, random clock steps, random reported starts, and after
// each step a class-0 Admit then a class-3 one; a refused class 0 means a
// refused class 3.
func TestOwnQueueBoundNoInversion(t *testing.T) {
	inversions, refusals := 0, 0
	seeds := uint64(20)
	if raceEnabled {
		seeds = 5
	}
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(seed, 9))
		clk := newFakeClock()
		thr := time.Duration(5+rng.IntN(30)) * time.Millisecond
		c, err := New(Config{MaxConcurrency: 8, Clock: clk, QueueThreshold: thr, WindowRequests: maxWindowRequests})
		require.NoError(t, err)
		saturateOwnQueue(c, clk, 400+rng.IntN(1600), 3*thr, 2)
		for range 3000 {
			clk.Advance(time.Duration(rng.IntN(int(thr))))
			for range rng.IntN(3) {
				c.ObserveQueueTime(time.Duration(rng.IntN(int(3 * thr))))
			}
			for range rng.IntN(6) { // other traffic, of random classes
				_ = c.Admit(Priority{Business: uint8(rng.IntN(4))})
			}
			e0 := c.Admit(Priority{Business: 0})
			var se *ShedError
			if !errors.As(e0, &se) || se.Reason != ReasonQueueFull {
				continue
			}
			refusals++
			// Judged on the clock of now, not of the last clock-reading Admit.
			assert.Equal(t, c.nanotime(), c.lastNow.Load(), "seed %d: a refusal judged on an old clock", seed)
			if c.Admit(Priority{Business: 3}) == nil {
				inversions++
			}
		}
	}
	t.Logf("%d class-0 queue-full refusals, %d followed by an admitted class 3", refusals, inversions)
	require.Positive(t, refusals, "the schedules never engaged the bound")
	assert.Zero(t, inversions)
}
