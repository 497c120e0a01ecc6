package quorum

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gated is a replica whose calls wait until the gate is closed.
type gated struct{ gate chan struct{} }

func (g gated) Get(ctx context.Context, _ string) (Record, error) {
	<-g.gate
	return Record{}, nil
}

func (g gated) Put(ctx context.Context, _ string, _ Record) (bool, error) {
	<-g.gate
	return true, nil
}

// TestReaperRetiresIdleWorkers: a burst of 30 concurrent reads grows 30
// workers per replica; once the burst is over they are retired down to
// minWorkers within two reaping periods, and the client still works.
func TestReaperRetiresIdleWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := gated{gate: make(chan struct{})}
		c, err := New([]Replica{g, g, g}, Config{R: 3, W: 1, Hedge: Hedge{Disabled: true}})
		require.NoError(t, err)
		defer c.Close()
		var wg sync.WaitGroup
		for range 30 {
			wg.Go(func() { _, _ = c.Get(context.Background(), "k") })
		}
		synctest.Wait()
		for i := range c.replicas {
			assert.Equal(t, int32(30), c.replicas[i].active.Load())
		}
		close(g.gate)
		wg.Wait()
		time.Sleep(2*reapEvery + time.Second)
		synctest.Wait()
		for i := range c.replicas {
			assert.Equal(t, int32(minWorkers), c.replicas[i].active.Load(), "replica %d", i)
		}
		_, err = c.Get(context.Background(), "k")
		require.ErrorIs(t, err, ErrNotFound)
	})
}
