package metrics

import (
	"context"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunTicksOnSecondBoundaries: Run started at a random phase puts each
// second's increments in that second's point.
func TestRunTicksOnSecondBoundaries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(31, 32))
		time.Sleep(time.Duration(rng.IntN(1000)) * time.Millisecond)
		r := NewRegistry()
		c := r.Counter("x_total", "")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		synctest.Wait() // Run is blocked in its timer
		// a second run on the same registry is refused
		require.ErrorIs(t, r.Run(ctx), ErrRunning)
		// move to the middle of the next second
		now := time.Now()
		time.Sleep(now.Truncate(time.Second).Add(1500 * time.Millisecond).Sub(now))
		want := map[int64]float64{}
		for i := 0; i < 30; i++ {
			n := rng.IntN(50)
			c.Add(uint64(n))
			want[time.Now().Unix()] += float64(n)
			time.Sleep(time.Second)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		ps, err := r.History("x_total", time.Second)
		require.NoError(t, err)
		for _, p := range ps {
			assert.Equal(t, want[p.Time.Unix()], p.Value, "second %v", p.Time)
		}
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		// once it has returned, Run may run again
		ctx2, cancel2 := context.WithCancel(context.Background())
		go func() { done <- r.Run(ctx2) }()
		synctest.Wait()
		cancel2()
		require.ErrorIs(t, <-done, context.Canceled)
	})
}
