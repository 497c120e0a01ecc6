package breaker

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

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

	// With every hook set (OnTransition included), a success on a closed
	// breaker still allocates nothing, and a lone breaker's or a Group
	// key's transitions reuse the event queue's storage.
	hooks := Hooks{OnStateChange: func(string, State, State) {}, OnTransition: func(string, Transition) {},
		OnReject: func(string, error) {}, OnResult: func(string, error, time.Duration) {}}
	hb, err := New[int](Config{Hooks: hooks})
	require.NoError(t, err)
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _, _ = hb.Execute(ctx, ok) }), "Execute success with hooks")
	gk, err := NewGroup[int](GroupConfig{Breaker: Config{Hooks: hooks}})
	require.NoError(t, err)
	_, _ = gk.Execute(ctx, "k", ok)
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _, _ = gk.Execute(ctx, "k", ok) }), "Group.Execute with hooks")
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _ = hostKey(&http.Request{URL: &url.URL{Scheme: "https", Host: "api.example:443"}}) }), "hostKey")

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
