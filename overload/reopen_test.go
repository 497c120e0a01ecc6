package overload

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReopensAfterIdleGap: drive the level down, go quiet for a random gap
// of at least gapWindows windows (up to 24 h), then send low-priority
// requests 1 ms apart: at most three are judged by the old level, every
// later one is admitted. Random seeds, shed depths, gaps and windows.
func TestReopensAfterIdleGap(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 3))
	for i := range 40 {
		clk := newFakeClock()
		// drive ends each window after 1 s: a window of 0.6–1 s, so that no
		// driven window counts as a gap.
		window := 600*time.Millisecond + time.Duration(rng.Int64N(int64(400*time.Millisecond)))
		c, err := New(Config{Clock: clk, Window: window, WindowRequests: 1 << 20})
		require.NoError(t, err)
		depth := 1 + rng.IntN(30)
		for range depth {
			drive(t, c, clk, 100, 50*time.Millisecond)
		}
		require.False(t, c.Level().IsOpen(), "case %d: level never closed", i)

		gap := gapWindows*window + time.Duration(rng.Int64N(int64(24*time.Hour)))
		clk.Advance(gap)
		shed := 0
		for j := range 5000 {
			err := c.Admit(Priority{Business: 3, User: 127})
			if err != nil {
				shed++
				assert.Less(t, j, 3, "case %d: request %d shed after a %v gap", i, j, gap)
			} else {
				c.ObserveQueueTime(0)
			}
			clk.Advance(time.Millisecond)
		}
		assert.LessOrEqual(t, shed, 3, "case %d", i)
	}
}
