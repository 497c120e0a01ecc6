package overload

import (
	"context"
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
