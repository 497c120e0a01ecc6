package overload

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero config", Config{}, true},
		{"negative concurrency", Config{MaxConcurrency: -1}, false},
		{"huge concurrency", Config{MaxConcurrency: 1 << 31}, false},
		{"negative queue", Config{MaxQueue: -2}, false},
		{"no queue", Config{MaxQueue: NoQueue}, true},
		{"negative window", Config{Window: -time.Second}, false},
		{"negative window requests", Config{WindowRequests: -1}, false},
		{"negative threshold", Config{QueueThreshold: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if tt.ok {
				require.NoError(t, err)
				assert.True(t, c.Level().IsOpen())
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), "overload: ")
		})
	}
}

func TestAcquireReleaseSlots(t *testing.T) {
	c, err := New(Config{MaxConcurrency: 2, MaxQueue: 1})
	require.NoError(t, err)
	ctx := context.Background()
	p1, err := c.Acquire(ctx, Priority{})
	require.NoError(t, err)
	p2, err := c.Acquire(ctx, Priority{})
	require.NoError(t, err)
	assert.Equal(t, 2, c.InUse())
	p1.Release()
	p1.Release() // double release must not invent a slot
	p2.Release()
	assert.Equal(t, 0, c.InUse())
	p2.Release()
	assert.Equal(t, 0, c.InUse())
	Permit{}.Release() // zero permit is a no-op
}

func TestQueueFIFOAndQueuingTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var waits []time.Duration
		var mu sync.Mutex
		c, err := New(Config{MaxConcurrency: 1, MaxQueue: 4, Hooks: Hooks{
			OnAdmit: func(_ Priority, q time.Duration) { mu.Lock(); waits = append(waits, q); mu.Unlock() },
		}})
		require.NoError(t, err)
		held, err := c.Acquire(t.Context(), Priority{})
		require.NoError(t, err)

		order := make(chan int, 3)
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p, err := c.Acquire(t.Context(), Priority{Business: 1})
				if err == nil {
					order <- i
					time.Sleep(10 * time.Millisecond)
					p.Release()
				}
			}()
			synctest.Wait() // enqueue in order i
		}
		assert.Equal(t, 3, c.Waiting())
		time.Sleep(5 * time.Millisecond)
		held.Release()
		for want := range 3 {
			assert.Equal(t, want, <-order)
		}
		wg.Wait()
		assert.Equal(t, 0, c.Waiting())
		assert.Equal(t, 0, c.InUse())
		mu.Lock()
		assert.Equal(t, []time.Duration{0, 5 * time.Millisecond, 15 * time.Millisecond, 25 * time.Millisecond}, waits)
		mu.Unlock()
	})
}

func TestWaiterLeavesWhenContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := New(Config{MaxConcurrency: 1})
		require.NoError(t, err)
		held, err := c.Acquire(t.Context(), Priority{})
		require.NoError(t, err)

		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() {
			_, err := c.Acquire(ctx, Priority{})
			done <- err
		}()
		synctest.Wait()
		require.Equal(t, 1, c.Waiting())
		cancel()
		err = <-done
		assert.ErrorIs(t, err, context.Canceled)
		assert.NotErrorIs(t, err, ErrShed)
		assert.Equal(t, 0, c.Waiting())
		held.Release()
		assert.Equal(t, 0, c.InUse(), "the slot must not go to the departed waiter")

		// A context that ended before the call fails without queuing.
		held, err = c.Acquire(t.Context(), Priority{})
		require.NoError(t, err)
		_, err = c.Acquire(ctx, Priority{})
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 0, c.Waiting())
		held.Release()
	})
}

func TestDeadlineShorterThanExpectedWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := New(Config{MaxConcurrency: 1})
		require.NoError(t, err)
		c.nsPerStart.Store(int64(10 * time.Millisecond)) // as measured by a saturated window
		held, err := c.Acquire(t.Context(), Priority{})
		require.NoError(t, err)

		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Millisecond)
		defer cancel()
		_, err = c.Acquire(ctx, Priority{})
		require.ErrorIs(t, err, ErrShed)
		var se *ShedError
		ok := errors.As(err, &se)
		require.True(t, ok)
		assert.Equal(t, ReasonDeadline, se.Reason)
		assert.Equal(t, 10*time.Millisecond, se.RetryAfter)
		assert.Equal(t, 0, c.Waiting())

		// Enough time left: it queues and gets the slot.
		ctx2, cancel2 := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel2()
		done := make(chan error)
		go func() {
			p, err := c.Acquire(ctx2, Priority{})
			p.Release()
			done <- err
		}()
		synctest.Wait()
		assert.Equal(t, 1, c.Waiting())
		held.Release()
		assert.NoError(t, <-done)
	})
}

func TestFullQueueDisplacesLeastImportant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var shed []Reason
		var mu sync.Mutex
		c, err := New(Config{MaxConcurrency: 1, MaxQueue: 1, Hooks: Hooks{
			OnShed: func(_ Priority, e *ShedError) { mu.Lock(); shed = append(shed, e.Reason); mu.Unlock() },
		}})
		require.NoError(t, err)
		held, err := c.Acquire(t.Context(), Priority{})
		require.NoError(t, err)

		low := make(chan error)
		go func() {
			_, err := c.Acquire(t.Context(), Priority{Business: 3})
			low <- err
		}()
		synctest.Wait()

		// Equal importance cannot displace: refused at once.
		_, err = c.Acquire(t.Context(), Priority{Business: 3})
		var se *ShedError
		ok := errors.As(err, &se)
		require.True(t, ok)
		assert.Equal(t, ReasonQueueFull, se.Reason)

		high := make(chan error)
		go func() {
			p, err := c.Acquire(t.Context(), Priority{Business: 1})
			p.Release()
			high <- err
		}()
		synctest.Wait()
		err = <-low
		ok = errors.As(err, &se)
		require.True(t, ok, "got %v", err)
		assert.Equal(t, ReasonDisplaced, se.Reason)
		assert.Equal(t, 1, c.Waiting())
		held.Release()
		assert.NoError(t, <-high)
		mu.Lock()
		assert.Equal(t, []Reason{ReasonQueueFull, ReasonDisplaced}, shed)
		mu.Unlock()
	})
}

// drive runs one window through the Admit/ObserveQueueTime path: n arrivals
// per business class 0..3 (users 0..n-1), of which those admitted report
// queuing time wait, then advances the clock past the window.
func drive(t *testing.T, c *Controller, clk *fakeClock, n int, wait time.Duration) (admitted [4]int) {
	t.Helper()
	for i := range n {
		for b := range 4 {
			if c.Admit(Priority{Business: uint8(b), User: uint8(i)}) == nil {
				admitted[b]++
				c.ObserveQueueTime(wait)
			}
		}
	}
	clk.Advance(time.Second)
	c.maybeRoll(c.nanotime()) // end the window now rather than at the next arrival
	return admitted
}

func TestLevelAdaptsToQueuingTime(t *testing.T) {
	clk := newFakeClock()
	var changes []Level
	c, err := New(Config{Clock: clk, WindowRequests: 1 << 20, Hooks: Hooks{
		OnLevelChange: func(_, to Level) { changes = append(changes, to) },
	}})
	require.NoError(t, err)

	// Overloaded windows push the level down, one 5 % step each, until the
	// admissions fit (here: until about 150 of the 400 per window remain).
	prev := 400
	for i := 0; prev > 150; i++ {
		require.Less(t, i, 40, "level did not fall")
		a := drive(t, c, clk, 100, 50*time.Millisecond)
		total := a[0] + a[1] + a[2] + a[3]
		if i > 0 {
			assert.Less(t, total, prev, "window %d: admissions must fall while overloaded", i)
			assert.GreaterOrEqual(t, total, int(float64(prev)*0.9), "window %d: a step is about 5 %%", i)
		}
		prev = total
	}
	lvl := c.Level()
	assert.Equal(t, uint8(1), lvl.Business)
	assert.NotEmpty(t, changes)

	// The most important class keeps all of its requests while the least
	// important is shed first.
	a := drive(t, c, clk, 100, 10*time.Millisecond)
	assert.Equal(t, 100, a[0])
	assert.Equal(t, 0, a[2])
	assert.Equal(t, 0, a[3])

	err = c.Admit(Priority{Business: 3})
	require.ErrorIs(t, err, ErrShed)
	var se *ShedError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, ReasonLevel, se.Reason)
	assert.Equal(t, c.Level(), se.Level)
	assert.Equal(t, time.Second, se.RetryAfter)

	// Normal (not idle) windows rise by DAGOR's +1 %: slowly.
	before := c.Level()
	drive(t, c, clk, 100, 10*time.Millisecond)
	drive(t, c, clk, 100, 10*time.Millisecond)
	after := c.Level()
	assert.Greater(t, after.Uint16(), before.Uint16())
	assert.Equal(t, before.Business, after.Business, "+1 %% steps stay within the class")

	// Idle windows reopen fast: fully open within a few windows.
	for range 4 {
		drive(t, c, clk, 100, 0)
	}
	assert.True(t, c.Level().IsOpen(), "level %v", c.Level())
}

func TestWindowEndsAfterRequestCount(t *testing.T) {
	clk := newFakeClock()
	var windows []WindowStats
	c, err := New(Config{Clock: clk, WindowRequests: 100, Hooks: Hooks{
		OnWindow: func(s WindowStats) { windows = append(windows, s) },
	}})
	require.NoError(t, err)
	for range 250 {
		require.NoError(t, c.Admit(Priority{Business: 1}))
		c.ObserveQueueTime(30 * time.Millisecond)
	}
	require.Len(t, windows, 2)
	assert.Equal(t, int64(100), windows[0].Arrivals)
	assert.True(t, windows[0].Overloaded)
	assert.Equal(t, 30*time.Millisecond, windows[0].MeanQueue)
}

func TestDryRunAdmitsButReports(t *testing.T) {
	clk := newFakeClock()
	var dry atomic.Int64
	c, err := New(Config{Clock: clk, DryRun: true, WindowRequests: 1 << 20, Hooks: Hooks{
		OnShed: func(_ Priority, e *ShedError) {
			if e.DryRun {
				dry.Add(1)
			}
		},
	}})
	require.NoError(t, err)
	for range 20 {
		drive(t, c, clk, 100, 50*time.Millisecond)
	}
	require.False(t, c.Level().IsOpen(), "dry run still adapts the level")
	a := drive(t, c, clk, 100, 50*time.Millisecond)
	assert.Equal(t, [4]int{100, 100, 100, 100}, a, "dry run admits everything")
	assert.Positive(t, dry.Load())

	p, err := c.Acquire(context.Background(), Priority{Business: 3})
	require.NoError(t, err)
	p.Release()
}

func TestAcquireShedsBelowLevelWithoutQueuing(t *testing.T) {
	clk := newFakeClock()
	c, err := New(Config{Clock: clk, MaxConcurrency: 1, WindowRequests: 1 << 20})
	require.NoError(t, err)
	for range 30 {
		drive(t, c, clk, 100, 50*time.Millisecond)
	}
	held, err := c.Acquire(context.Background(), Priority{})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second) // bounds a failure
	defer cancel()
	_, err = c.Acquire(ctx, Priority{Business: 3, User: 99})
	assert.ErrorIs(t, err, ErrShed)
	assert.Equal(t, 0, c.Waiting())
	held.Release()
}

// TestConcurrentNeverExceedsSlots hammers the controller; run with -race.
func TestConcurrentNeverExceedsSlots(t *testing.T) {
	const slots = 3
	c, err := New(Config{MaxConcurrency: slots, MaxQueue: 8})
	require.NoError(t, err)
	var inside, peak atomic.Int64
	var wg sync.WaitGroup
	var okCount, shedCount atomic.Int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				p, err := c.Acquire(context.Background(), Priority{Business: uint8(g % 4), User: uint8(i)})
				if err != nil {
					require.True(t, errors.Is(err, ErrShed))
					shedCount.Add(1)
					continue
				}
				n := inside.Add(1)
				for {
					old := peak.Load()
					if n <= old || peak.CompareAndSwap(old, n) {
						break
					}
				}
				inside.Add(-1)
				p.Release()
				okCount.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, peak.Load(), int64(slots))
	assert.Equal(t, int64(2400), okCount.Load()+shedCount.Load())
	assert.Equal(t, 0, c.InUse())
	assert.Equal(t, 0, c.Waiting())
}

func TestCapacityFromSampledHoldTimes(t *testing.T) {
	clk := newFakeClock()
	c, err := New(Config{Clock: clk, MaxConcurrency: 2, WindowRequests: 1 << 20})
	require.NoError(t, err)
	for range 40 {
		p, err := c.Acquire(context.Background(), Priority{})
		require.NoError(t, err)
		clk.Advance(10 * time.Millisecond)
		p.Release()
	}
	assert.Zero(t, c.drainInterval(), "unknown before the first window ends")
	clk.Advance(time.Second)
	c.maybeRoll(c.nanotime())
	assert.Equal(t, int64(5*time.Millisecond), c.drainInterval(), "10 ms holds over 2 slots")
}

func TestZeroValuesDoNotPanic(t *testing.T) {
	var zero Controller
	var nilC *Controller
	for _, c := range []*Controller{&zero, nilC} {
		_, err := c.Acquire(context.Background(), Priority{})
		assert.ErrorIs(t, err, ErrNotInitialized)
		assert.ErrorIs(t, c.Admit(Priority{}), ErrNotInitialized)
		c.ObserveQueueTime(time.Second)
		assert.Equal(t, LevelOpen, c.Level())
		assert.Zero(t, c.InUse()+c.Waiting())
	}
	var g *Gate
	g.Observe("x", Level{})
	assert.NoError(t, g.Allow("x", LowestPriority))
	_, ok := (&Gate{}).Level("x")
	assert.False(t, ok)
	var l KeyedLimiter
	assert.ErrorIs(t, l.Allow("k"), ErrNotInitialized)
	assert.Zero(t, l.Len())
	var nl *KeyedLimiter
	assert.ErrorIs(t, nl.AllowAt("k", time.Now()), ErrNotInitialized)

	// A nil or zero Controller in the middleware: a 500 that names the
	// mistake, distinct from overload's 503, with no level sent upstream.
	for _, c := range []*Controller{nil, {}} {
		h := Middleware(c, nil)(http.NotFoundHandler())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		assert.Equal(t, http.StatusInternalServerError, rec.Code)
		assert.Contains(t, rec.Body.String(), "not constructed")
		assert.Empty(t, rec.Header().Get(LevelHeader))
	}
}

func TestCapacityEstimateForgetsAStall(t *testing.T) {
	clk := newFakeClock()
	c, err := New(Config{Clock: clk, MaxConcurrency: 2, WindowRequests: 1 << 20})
	require.NoError(t, err)
	window := func(hold time.Duration) {
		for range 80 {
			p, err := c.Acquire(context.Background(), Priority{})
			require.NoError(t, err)
			clk.Advance(hold)
			p.Release()
		}
		clk.Advance(time.Second)
		c.maybeRoll(c.nanotime())
	}
	window(500 * time.Millisecond) // the machine stalled
	assert.Equal(t, int64(250*time.Millisecond), c.drainInterval())
	window(10 * time.Millisecond)
	assert.Equal(t, int64(5*time.Millisecond), c.drainInterval(), "one normal window restores the estimate")
}

func TestNilContextWaitsLikeBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := New(Config{MaxConcurrency: 1})
		require.NoError(t, err)
		var nilCtx context.Context // nil on purpose: a nil ctx must not panic
		held, err := c.Acquire(nilCtx, Priority{})
		require.NoError(t, err)
		done := make(chan error)
		go func() {
			p, err := c.Acquire(nilCtx, Priority{})
			p.Release()
			done <- err
		}()
		synctest.Wait()
		assert.Equal(t, 1, c.Waiting())
		held.Release()
		assert.NoError(t, <-done)
	})
}
