package quorum

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLatencyBuckets(t *testing.T) {
	prev := -1
	for d := time.Duration(0); d < 10*time.Second; d = d*9/8 + 1 {
		i := latBucket(d)
		require.GreaterOrEqual(t, i, prev, "buckets grow with the duration (%v)", d)
		prev = i
		if i < latBuckets-1 {
			assert.Less(t, d, latUpper(i), "%v below its bucket's upper bound", d)
			if i > 0 {
				assert.GreaterOrEqual(t, d, latUpper(i-1), "%v above the previous bound", d)
			}
			if d > time.Microsecond {
				// Quarter octaves: an upper bound is at most 25 % above a value.
				assert.LessOrEqual(t, float64(latUpper(i)), 1.26*float64(d), "%v", d)
			}
		}
	}
	assert.Equal(t, latBuckets-1, latBucket(time.Hour), "clamped")
	assert.Equal(t, 0, latBucket(-time.Second))
}

func TestLatencyQuantileAdapts(t *testing.T) {
	var l latency
	assert.Zero(t, l.estimate(), "no estimate before minSamples")
	for i := range 1000 {
		d := time.Millisecond
		if i%10 == 9 {
			d = 50 * time.Millisecond
		}
		l.observe(d, 0.8)
	}
	est := l.estimate()
	assert.GreaterOrEqual(t, est, time.Millisecond)
	assert.Less(t, est, 2*time.Millisecond, "p80 is in the fast mode")
	// The replica slows down for good: decay lets the estimate follow.
	for range 5000 {
		l.observe(20*time.Millisecond, 0.8)
	}
	est = l.estimate()
	assert.GreaterOrEqual(t, est, 20*time.Millisecond)
	assert.Less(t, est, 26*time.Millisecond)
}

func TestBudget(t *testing.T) {
	var b budget
	b.init(0.1, 5)
	taken := 0
	for range 5 {
		require.True(t, b.take(), "the burst is available at once")
		taken++
	}
	assert.False(t, b.take())
	for range 1000 {
		b.deposit()
		if b.take() {
			taken++
		}
	}
	assert.Equal(t, 5+100, taken, "10 %% of 1000 operations plus the burst")
	for range 1000 {
		b.deposit()
	}
	got := 0
	for b.take() {
		got++
	}
	assert.Equal(t, 5, got, "credit saved up is capped at the burst")
}

func TestConfigDefaults(t *testing.T) {
	s, err := Config{}.settings(3, make([]string, 3))
	require.NoError(t, err)
	assert.Equal(t, 2, s.w)
	assert.Equal(t, 2, s.r)
	assert.Equal(t, Linearizable, s.consistency)
	assert.Equal(t, QuorumTier, s.tier)
	assert.Equal(t, RepairAsync, s.repair)
	assert.Equal(t, DualBoth, s.dual)
	assert.Equal(t, time.Second, s.timeout)
	assert.Equal(t, 0.5, s.hedge.Quantile)
	assert.Equal(t, 3.0, s.hedgeFactor)
	assert.Equal(t, 0.1, s.hedge.Budget)
	s, err = Config{}.settings(5, make([]string, 5))
	require.NoError(t, err)
	assert.Equal(t, 3, s.w)
	assert.Equal(t, 3, s.r)
}
