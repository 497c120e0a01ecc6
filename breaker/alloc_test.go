package breaker

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHotPathsDoNotAllocate(t *testing.T) {
	ctx := context.Background()
	b, err := New[int](Config{})
	require.NoError(t, err)
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _, _ = b.Execute(ctx, ok) }), "Execute success")
	b.Trip()
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _, _ = b.Execute(ctx, ok) }), "Execute rejected")

	g, err := NewGroup[int](GroupConfig{})
	require.NoError(t, err)
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = "host-" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
		_, _ = g.Execute(ctx, keys[i], ok)
	}
	i := 0
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _, _ = g.Execute(ctx, keys[i%len(keys)], ok); i++ }), "Group.Execute")

	th, err := NewThrottle(ThrottleConfig{})
	require.NoError(t, err)
	assert.Zero(t, testing.AllocsPerRun(1000, func() {
		if th.Allow() {
			th.Record(true)
		}
	}), "Throttle")
}
