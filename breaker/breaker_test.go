package breaker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errBoom = errors.New("boom")

func ok(context.Context) (int, error)   { return 1, nil }
func fail(context.Context) (int, error) { return 0, errBoom }

func TestZeroConfigOpensProbesCloses(t *testing.T) {
	clk := newFakeClock()
	var changes []string
	b, err := New[int](Config{Name: "dep", Clock: clk, Hooks: Hooks{OnStateChange: func(name string, from, to State) {
		changes = append(changes, name+":"+from.String()+">"+to.String())
	}}})
	require.NoError(t, err)
	for range 5 {
		_, err := b.Execute(context.Background(), fail)
		require.ErrorIs(t, err, errBoom)
	}
	require.Equal(t, StateOpen, b.State())
	_, err = b.Execute(context.Background(), ok)
	require.ErrorIs(t, err, ErrOpen)
	require.ErrorIs(t, err, gobreaker.ErrOpenState)
	var re *RejectedError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "dep", re.Name)
	d := re.RetryAt.Sub(clk.Now())
	assert.InDelta(t, float64(DefaultTimeout), float64(d), float64(DefaultTimeout)/10)
	clk.Advance(d)
	v, err := b.Execute(context.Background(), ok)
	require.NoError(t, err)
	assert.Equal(t, 1, v)
	assert.Equal(t, StateClosed, b.State())
	assert.Equal(t, []string{"dep:closed>open", "dep:open>half-open", "dep:half-open>closed"}, changes)
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Interval: -1}, {BucketPeriod: -1}, {Timeout: -1}, {MaxTimeout: -1}, {SlowCall: -1},
		{Timeout: time.Minute, MaxTimeout: time.Second},
		{Interval: time.Second, BucketPeriod: 2 * time.Second},
		{Interval: time.Hour, BucketPeriod: time.Millisecond},
	} {
		_, err := New[int](cfg)
		assert.Error(t, err, "%+v", cfg)
	}
	_, err := NewGroup[int](GroupConfig{MaxOpenFraction: 1.5})
	assert.ErrorContains(t, err, "MaxOpenFraction")
	_, err = NewGroup[int](GroupConfig{MaxKeys: -1})
	assert.ErrorContains(t, err, "MaxKeys")
	_, err = NewThrottle(ThrottleConfig{K: 0.5})
	assert.ErrorContains(t, err, "K")
}

func TestCallerCancellationExcluded(t *testing.T) {
	clk := newFakeClock()
	b, err := New[int](Config{Clock: clk, Trip: ConsecutiveFailures(1)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	_, err = b.Execute(ctx, func(ctx context.Context) (int, error) { cancel(); return 0, ctx.Err() })
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, StateClosed, b.State())
	assert.Equal(t, uint32(1), b.Counts().Excluded)
}

func TestPanicCountsAsFailure(t *testing.T) {
	b, err := New[int](Config{Clock: newFakeClock(), Trip: ConsecutiveFailures(1)})
	require.NoError(t, err)
	assert.PanicsWithValue(t, "x", func() {
		_, _ = b.Execute(context.Background(), func(context.Context) (int, error) { panic("x") })
	})
	assert.Equal(t, StateOpen, b.State())
}

func TestExecuteFallback(t *testing.T) {
	b, err := New[int](Config{Clock: newFakeClock(), Trip: ConsecutiveFailures(1)})
	require.NoError(t, err)
	fb := func(_ context.Context, err error) (int, error) { return -1, nil }
	v, err := b.ExecuteFallback(context.Background(), fail, fb)
	require.NoError(t, err)
	assert.Equal(t, -1, v)
	v, err = b.ExecuteFallback(context.Background(), ok, fb) // open: rejected
	require.NoError(t, err)
	assert.Equal(t, -1, v)
}

// TestHungProbeReclaimed: with MaxRequests probes in flight, further calls
// get ErrTooManyRequests (matching gobreaker's twin) until an open period
// passes; then a new half-open generation admits a fresh probe, and the hung
// probe's late result is stale.
func TestHungProbeReclaimed(t *testing.T) {
	clk := newFakeClock()
	b, err := New[int](Config{Clock: clk, Trip: ConsecutiveFailures(1), Timeout: time.Second, MaxTimeout: time.Second})
	require.NoError(t, err)
	_, _ = b.Execute(context.Background(), fail)
	clk.Advance(2 * time.Second)
	hung, err := b.Allow(context.Background())
	require.NoError(t, err)
	_, err = b.Allow(context.Background())
	require.ErrorIs(t, err, ErrTooManyRequests)
	require.ErrorIs(t, err, gobreaker.ErrTooManyRequests)
	require.NotErrorIs(t, err, ErrOpen)
	clk.Advance(2 * time.Second) // longer than the open period (≤ 1 s)
	probe, err := b.Allow(context.Background())
	require.NoError(t, err, "hung probe's slot reclaimed")
	hung(errBoom) // stale: must not reopen
	assert.Equal(t, StateHalfOpen, b.State())
	probe(nil)
	assert.Equal(t, StateClosed, b.State())
}

// TestRejectedErrorSaysWhenToRetry: an open breaker's refusal names the end
// of its open period; a half-open refusal has none.
func TestRejectedErrorSaysWhenToRetry(t *testing.T) {
	clk := newFakeClock()
	b, err := New[int](Config{Name: "orders", Clock: clk, Trip: ConsecutiveFailures(1)})
	require.NoError(t, err)
	_, _ = b.Execute(context.Background(), fail)
	_, err = b.Execute(context.Background(), ok)
	var re *RejectedError
	require.ErrorAs(t, err, &re)
	require.Equal(t, "breaker: open (orders), retry after "+re.RetryAt.UTC().Format("2006-01-02T15:04:05.000Z07:00"), err.Error())
	require.True(t, re.RetryAt.After(clk.Now()))
	require.Equal(t, "breaker: too many requests while half-open (orders)", b.tooMany.Error())
}
