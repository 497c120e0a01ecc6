package overload

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type stepClock struct{ t time.Time }

func (c *stepClock) Now() time.Time { return c.t }

// TestOwnQueueReopensAfterSlowSpell: a service with its own queue runs
// slow for 4 s (15 starts a second against 500 arrivals), the level cuts
// deep and the capacity estimate falls with it; then the service is healthy
// again and starts every admitted request at once. It reports the wait it
// measured, which is never exactly zero (time.Since of the enqueue). The
// level must open as it does when the service reports zero waits: within 8
// windows (5–7 here; each rise is bounded by what the windows before ran,
// and the slow spell measured 15 starts a second). It used to stay shut: a window whose starts all reported a wait above
// zero counted every start as queued, so it was never idle, the low
// capacity estimate was never replaced, and the level crawled up (17 of
// 500 admitted 9 windows later, found by a newcomer review in real time).
// Reported waits per seed: 0, ns, µs, ms below and above QueueThreshold/16,
// or spread (-1). Waits of 1.25–3 ms never reopened while only waits below
// QueueThreshold/16 counted as none (an adversary review).
func TestOwnQueueReopensAfterSlowSpell(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 12; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		// The wait a healthy start reports: 0, a few ns (a channel
		// hand-off), µs, up to 1 ms, 1.25–3 ms (above QueueThreshold/16,
		// below the drain interval the slow spell measured), or spread
		// from 0 to 2.5 ms report by report.
		waits := []time.Duration{0, time.Nanosecond, time.Duration(1+rng.IntN(50)) * time.Microsecond,
			time.Duration(rng.Int64N(int64(DefaultQueueThreshold / 20))),
			time.Duration(1250+rng.IntN(1750)) * time.Microsecond, -1}
		d := waits[(seed-1)%uint64(len(waits))]
		report := func() time.Duration {
			if d < 0 {
				return time.Duration(rng.Int64N(int64(2500 * time.Microsecond)))
			}
			return d
		}
		name := fmt.Sprint(d)
		if d < 0 {
			name = "spread 0-2.5ms"
		}
		t.Run(fmt.Sprintf("seed=%d/wait=%s", seed, name), func(t *testing.T) {
			ck := &stepClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			t0 := ck.t
			var healthyAt time.Time
			var after []Level // levels at the ends of windows since the service is healthy
			c, err := New(Config{MaxConcurrency: 8, Clock: ck, Hooks: Hooks{OnWindow: func(w WindowStats) {
				if !healthyAt.IsZero() {
					after = append(after, w.To)
				}
			}}})
			require.NoError(t, err)
			prio := func() Priority {
				return Priority{Business: uint8(rng.IntN(4)), User: UserPriority("u"+strconv.Itoa(rng.IntN(1e5)), ck.t)}
			}
			var fifo []time.Time
			last := ck.t
			for ck.t.Sub(t0) < 4*time.Second { // slow: 500 arrive a second, 15 start
				ck.t = ck.t.Add(2 * time.Millisecond)
				if c.Admit(prio()) == nil {
					fifo = append(fifo, ck.t)
				}
				if ck.t.Sub(last) >= 66*time.Millisecond && len(fifo) > 0 {
					c.ObserveQueueTime(ck.t.Sub(fifo[0]))
					fifo = fifo[1:]
					last = ck.t
				}
			}
			require.False(t, c.Level().IsOpen(), "the slow spell closed the level")
			healthyAt = ck.t
			for ck.t.Sub(healthyAt) < 10*time.Second { // healthy: every admitted request starts at once
				ck.t = ck.t.Add(2 * time.Millisecond)
				if c.Admit(prio()) == nil {
					c.ObserveQueueTime(report())
				}
			}
			t.Logf("levels at the windows' ends after the service recovered: %v", after)
			open := -1
			for i, l := range after {
				if l.IsOpen() {
					open = i + 1
					break
				}
			}
			assert.True(t, open > 0 && open <= 8, "the level opened fully %d windows after the service recovered (want ≤ 8)", open)
			assert.True(t, c.Level().IsOpen(), "the level is open at the end")
		})
	}
}
