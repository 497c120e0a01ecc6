package overload

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHotPathsDoNotAllocate(t *testing.T) {
	clk := newFakeClock()
	c, err := New(Config{Clock: clk, WindowRequests: 1 << 20})
	require.NoError(t, err)
	ctx := context.Background()
	p := Priority{Business: 1, User: 7}
	allocs := testing.AllocsPerRun(1000, func() {
		permit, err := c.Acquire(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		permit.Release()
	})
	assert.Zero(t, allocs, "Acquire+Release of an admitted request")

	for range 30 {
		drive(t, c, clk, 100, 50*time.Millisecond)
	}
	low := Priority{Business: 3, User: 99}
	_, err = c.Acquire(ctx, low)
	require.ErrorIs(t, err, ErrShed)
	allocs = testing.AllocsPerRun(1000, func() {
		if _, err := c.Acquire(ctx, low); err == nil {
			t.Fatal("want shed")
		}
	})
	assert.Zero(t, allocs, "shed decision")

	allocs = testing.AllocsPerRun(1000, func() { _ = UserPriority("user-123456", clk.Now()) })
	assert.Zero(t, allocs, "UserPriority")
}

// levelShedController returns a Controller whose level refuses class 3.
func levelShedController(tb testing.TB) *Controller {
	clk := newFakeClock()
	c, err := New(Config{Clock: clk, WindowRequests: 1 << 30})
	require.NoError(tb, err)
	for range 60 {
		for i := range 100 {
			for cls := range 4 {
				if c.Admit(Priority{Business: uint8(cls), User: uint8(i)}) == nil {
					c.ObserveQueueTime(50 * time.Millisecond)
				}
			}
		}
		clk.Advance(time.Second)
		if c.Level().Business < 3 {
			break
		}
	}
	// End the due window now, so the clock (which no longer moves) keeps
	// the level fixed for the measurement.
	c.maybeRoll(c.nanotime())
	return c
}

// TestLevelShedDoesNotAllocate measures a refusal for the level itself
// (ReasonLevel), not a queue-full one.
func TestLevelShedDoesNotAllocate(t *testing.T) {
	c := levelShedController(t)
	low := Priority{Business: 3, User: 99}
	_, err := c.Acquire(context.Background(), low)
	var se *ShedError
	require.ErrorAs(t, err, &se)
	require.Equal(t, ReasonLevel, se.Reason)
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := c.Acquire(context.Background(), low); err != se {
			t.Fatal("want the level refusal")
		}
	})
	assert.Zero(t, allocs)
}

// BenchmarkLevelShed: a refusal for the level (ReasonLevel).
func BenchmarkLevelShed(b *testing.B) {
	c := levelShedController(b)
	low := Priority{Business: 3, User: 99}
	ctx := context.Background()
	_, err := c.Acquire(ctx, low)
	var se *ShedError
	if !errors.As(err, &se) || se.Reason != ReasonLevel {
		b.Fatalf("not a level refusal: %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Acquire(ctx, low); err != se {
			b.Fatal("want the level refusal")
		}
	}
}
