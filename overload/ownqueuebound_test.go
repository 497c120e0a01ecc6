package overload

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// saturateOwnQueue drives c with Admit+ObserveQueueTime at rate per second,
// every start reporting wait, for windows windows, so that the drain
// interval is measured (and the level closes when wait is long).
func saturateOwnQueue(c *Controller, clk *fakeClock, rate int, wait time.Duration, windows int) {
	for range windows {
		for i := range rate {
			if c.Admit(Priority{Business: uint8(i % 4), User: uint8(i % 128)}) == nil {
				c.ObserveQueueTime(wait)
			}
			clk.Advance(time.Second / time.Duration(rate))
		}
	}
}

// admitUntilFull admits requests of priority p without reporting any start
// (the clock stands still) and returns how many passed before the first
// ReasonQueueFull, or -1 if a request was refused for another reason or
// none was refused within limit.
func admitUntilFull(c *Controller, p Priority, limit int) int {
	for n := range limit {
		err := c.Admit(p)
		if err == nil {
			continue
		}
		var se *ShedError
		if errors.As(err, &se) && se.Reason == ReasonQueueFull {
			return n
		}
		return -1
	}
	return -1
}

// The own-queue bound: for random rates, waits and thresholds, Admit
// refuses with ReasonQueueFull once the admitted-but-not-started count
// times the measured drain interval passes the bound, never below
// ownQueueBoundLo thresholds of expected wait and never above
// openBoundHi; a more important business class gets at least as long a
// queue as a less important one; and reported starts empty the count.
func TestOwnQueueBoundByExpectedWait(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 7))
	for i := range 40 {
		thr := time.Duration(5+rng.IntN(46)) * time.Millisecond
		rate := 200 + rng.IntN(1800)
		wait := time.Duration(float64(thr) * (2.5 + 9*rng.Float64())) // overloaded: the level closes, the bound engages
		clk := newFakeClock()
		// Windows end on time only: the admissions below must not end one.
		c, err := New(Config{MaxConcurrency: 8, Clock: clk, QueueThreshold: thr, WindowRequests: maxWindowRequests})
		require.NoError(t, err)
		saturateOwnQueue(c, clk, rate, wait, 3)
		per := time.Duration(c.drainInterval())
		require.Positive(t, per, "case %d: no drain interval measured", i)

		// Classes that pass the level, most important first.
		var classes []Priority
		for b := range uint8(4) {
			if p := (Priority{Business: b}); p.key() <= c.state.Load().key {
				classes = append(classes, p)
			}
		}
		require.NotEmpty(t, classes)
		prev := -1
		for j := len(classes) - 1; j >= 0; j-- { // least important first
			n := admitUntilFull(c, classes[j], 1<<16)
			require.GreaterOrEqual(t, n, 0, "case %d class %d: not refused for the queue", i, classes[j].Business)
			expected := time.Duration(n) * per // the wait the n-th admission would have
			assert.GreaterOrEqual(t, expected, ownQueueBoundLo*thr-per, "case %d class %d: refused early (%d × %v)", i, classes[j].Business, n, per)
			assert.LessOrEqual(t, expected, openBoundHi*thr+per, "case %d class %d: refused late (%d × %v)", i, classes[j].Business, n, per)
			assert.GreaterOrEqual(t, n, prev, "case %d: class %d got a shorter queue than a less important one", i, classes[j].Business)
			prev = n
			for range n { // the service starts them: the count is empty again
				c.ObserveQueueTime(per)
			}
		}
		assert.NoError(t, c.Admit(classes[0]), "case %d: the starts did not empty the count", i)
	}
}

// A service that drops queued work without reporting it (its callers gave
// up) must not leave the count refusing forever: admissions older than
// pendSlots thresholds are forgotten. Random rates, waits and drop
// patterns; after the horizon, light traffic whose starts are all reported
// is never refused for the queue.
func TestOwnQueueBoundForgetsUnreportedDrops(t *testing.T) {
	rng := rand.New(rand.NewPCG(32, 9))
	for i := range 30 {
		thr := time.Duration(5+rng.IntN(46)) * time.Millisecond
		clk := newFakeClock()
		c, err := New(Config{MaxConcurrency: 8, Clock: clk, QueueThreshold: thr})
		require.NoError(t, err)
		saturateOwnQueue(c, clk, 200+rng.IntN(1800), time.Duration(float64(thr)*(1.2+4*rng.Float64())), 3)
		require.Positive(t, c.drainInterval())
		// A burst the service drops without reporting: admitted until the
		// queue is full, never started.
		full := admitUntilFull(c, Priority{}, 1<<16)
		require.GreaterOrEqual(t, full, 0, "case %d", i)
		// Light traffic after it: one request every gap, reported started
		// after a wait that does not clear the count by itself.
		gap := time.Duration(1+rng.IntN(int(thr/time.Millisecond))) * time.Millisecond
		horizon := time.Duration(pendSlots+1)*thr + 4*gap // + the clock read every 4th arrival
		var late int
		for el := time.Duration(0); el < horizon+2*time.Second; el += gap {
			err := c.Admit(Priority{})
			var se *ShedError
			if errors.As(err, &se) && se.Reason == ReasonQueueFull && el > horizon {
				late++
			}
			if err == nil {
				c.ObserveQueueTime(time.Duration(c.drainInterval()) + time.Duration(rng.Int64N(int64(thr))))
			}
			clk.Advance(gap)
		}
		assert.Zero(t, late, "case %d: refused for the queue %d times after the horizon (thr %v, gap %v)", i, late, thr, gap)
	}
}

// DryRun reports a full own queue and admits the request.
func TestOwnQueueBoundDryRun(t *testing.T) {
	clk := newFakeClock()
	var dry int
	c, err := New(Config{MaxConcurrency: 8, Clock: clk, DryRun: true, Hooks: Hooks{OnShed: func(_ Priority, e *ShedError) {
		if e.Reason == ReasonQueueFull {
			assert.True(t, e.DryRun)
			dry++
		}
	}}})
	require.NoError(t, err)
	saturateOwnQueue(c, clk, 400, 200*time.Millisecond, 3)
	for range 1000 {
		require.NoError(t, c.Admit(Priority{}))
	}
	assert.Positive(t, dry)
}

// The own-queue path allocates nothing: an admission with its reported
// start, and a refusal for a full own queue.
func TestOwnQueueBoundDoesNotAllocate(t *testing.T) {
	clk := newFakeClock()
	c, err := New(Config{MaxConcurrency: 8, Clock: clk, WindowRequests: maxWindowRequests})
	require.NoError(t, err)
	saturateOwnQueue(c, clk, 400, 200*time.Millisecond, 3)
	allocs := testing.AllocsPerRun(1000, func() {
		if c.Admit(Priority{}) == nil {
			c.ObserveQueueTime(time.Millisecond)
		}
	})
	assert.Zero(t, allocs, "Admit + ObserveQueueTime")
	require.GreaterOrEqual(t, admitUntilFull(c, Priority{}, 1<<16), 0)
	allocs = testing.AllocsPerRun(1000, func() {
		if c.Admit(Priority{}) == nil {
			t.Fatal("admitted")
		}
	})
	assert.Zero(t, allocs, "ReasonQueueFull from Admit")
	var se *ShedError
	require.ErrorAs(t, c.Admit(Priority{}), &se)
	assert.Equal(t, ReasonQueueFull, se.Reason)
}

// BenchmarkOwnQueueAdmit: Admit and the reported start, in own-queue mode
// with the drain interval known (the bound is checked on every call).
func BenchmarkOwnQueueAdmit(b *testing.B) {
	clk := newFakeClock()
	c, err := New(Config{MaxConcurrency: 8, Clock: clk, WindowRequests: maxWindowRequests})
	require.NoError(b, err)
	saturateOwnQueue(c, clk, 400, 200*time.Millisecond, 3)
	c.maybeRoll(c.nanotime())
	p := Priority{}
	b.ReportAllocs()
	for b.Loop() {
		if c.Admit(p) == nil {
			c.ObserveQueueTime(time.Millisecond)
		}
	}
}
