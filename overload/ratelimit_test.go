package overload

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

func TestKeyedLimiter(t *testing.T) {
	clk := newFakeClock()
	l, err := NewKeyedLimiter(KeyedConfig{Rate: 10, Burst: 2, MaxKeys: 3, Clock: clk,
		Quota: func(key string) (rate.Limit, int) {
			if key == "gold" {
				return 100, 5
			}
			return 0, 0 // invalid: use the default
		}})
	require.NoError(t, err)

	assert.NoError(t, l.Allow("alice"))
	assert.NoError(t, l.Allow("alice"))
	err = l.Allow("alice")
	require.ErrorIs(t, err, ErrShed)
	var se *ShedError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, ReasonRateLimit, se.Reason)
	assert.Equal(t, 100*time.Millisecond, se.RetryAfter)
	assert.Contains(t, err.Error(), "rate limited")
	assert.NotContains(t, err.Error(), "level", "a quota refusal has no admission level")
	assert.NoError(t, l.Allow("bob"), "keys are independent")

	clk.Advance(100 * time.Millisecond)
	assert.NoError(t, l.Allow("alice"))
	assert.Error(t, l.Allow("alice"))

	for range 5 {
		assert.NoError(t, l.Allow("gold"))
	}
	assert.Error(t, l.Allow("gold"))

	for i := range 50 {
		_ = l.AllowAt("k"+strconv.Itoa(i), clk.Now())
	}
	assert.Equal(t, 3, l.Len(), "key set is bounded")
}

func TestKeyedLimiterValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  KeyedConfig
		ok   bool
	}{
		{"inf", KeyedConfig{Rate: rate.Inf}, true},
		{"ok", KeyedConfig{Rate: 1, Burst: 1}, true},
		{"zero rate", KeyedConfig{Burst: 1}, false},
		{"zero burst", KeyedConfig{Rate: 1}, false},
		{"negative keys", KeyedConfig{Rate: 1, Burst: 1, MaxKeys: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewKeyedLimiter(tt.cfg)
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
}
