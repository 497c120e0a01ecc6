package overload

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConfigErrorNamesTheFieldSet: a Window shorter than the default
// QueueThreshold is refused with a message about the Window the caller set
// (it used to name only QueueThreshold, a field the caller never touched);
// a QueueThreshold set longer than the Window names both as set.
func TestConfigErrorNamesTheFieldSet(t *testing.T) {
	_, err := New(Config{Window: 10 * time.Millisecond})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Window 10ms shorter than the default QueueThreshold 20ms")
	_, err = New(Config{Window: 50 * time.Millisecond, QueueThreshold: 60 * time.Millisecond})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "QueueThreshold 60ms longer than Window 50ms")
	_, err = New(Config{Window: 10 * time.Millisecond, QueueThreshold: 5 * time.Millisecond})
	assert.NoError(t, err)
}
