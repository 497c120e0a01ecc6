package overload

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGate(t *testing.T) {
	clk := newFakeClock()
	g, err := NewGate(GateConfig{Clock: clk, TTL: 2 * time.Second, ProbeInterval: 100 * time.Millisecond, MaxDownstreams: 2})
	require.NoError(t, err)
	low, high := Priority{Business: 3}, Priority{Business: 1}

	require.NoError(t, g.Allow("a", low), "unknown downstream: send")
	g.Observe("a", Level{Business: 2, User: 10})
	assert.NoError(t, g.Allow("a", high))

	// The first request below the level is the probe; the next is shed.
	assert.NoError(t, g.Allow("a", low))
	err = g.Allow("a", low)
	require.ErrorIs(t, err, ErrShed)
	var se *ShedError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, ReasonDownstream, se.Reason)
	assert.Equal(t, Level{Business: 2, User: 10}, se.Level)

	// After the probe interval, one more probe.
	clk.Advance(100 * time.Millisecond)
	assert.NoError(t, g.Allow("a", low))
	assert.Error(t, g.Allow("a", low))

	// TTL: the level is forgotten.
	clk.Advance(2 * time.Second)
	_, ok := g.Level("a")
	assert.False(t, ok)
	assert.NoError(t, g.Allow("a", low))
	assert.NoError(t, g.Allow("a", low))

	// An open level forgets the downstream at once.
	g.Observe("a", Level{Business: 0, User: 0})
	assert.NoError(t, g.Allow("a", low)) // probe
	assert.Error(t, g.Allow("a", low))
	g.Observe("a", LevelOpen)
	assert.NoError(t, g.Allow("a", low))
	assert.NoError(t, g.Allow("a", low))
}

func TestGateBounded(t *testing.T) {
	g, err := NewGate(GateConfig{MaxDownstreams: 4})
	require.NoError(t, err)
	for i := range 100 {
		g.Observe("d"+strconv.Itoa(i), Level{})
	}
	assert.Equal(t, 4, g.cache.Len())
	_, ok := g.Level("d99")
	assert.True(t, ok)
	_, ok = g.Level("d0")
	assert.False(t, ok)

	_, err = NewGate(GateConfig{TTL: -1})
	assert.Error(t, err)
}
