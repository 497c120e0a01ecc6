package quorum_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
	"github.com/bulwark-go/bulwark/quorum/memreplica"
)

// TestCallerDeadlineBound: every operation returns by its caller's
// deadline, whatever the replicas do. Each seed draws N (3 or 5), a tier, a
// consistency, hedging on or off, a ReplicaTimeout, and for every replica a
// behaviour that changes during the run: in-memory and instant (called
// inline), slow but honouring its context, slow and ignoring its context,
// hanging until its context ends, or down. Every operation (Get, Put or
// Delete) gets a random deadline from 0 to 300 ms. In fake time the bound is
// exact: the test allows no epsilon at all.
func TestCallerDeadlineBound(t *testing.T) {
	seeds := 24
	if testing.Short() {
		seeds = 8
	}
	for s := range seeds {
		seed := uint64(s + 1)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { deadlineRun(t, seed) })
		})
	}
}

func reshapeHealthy(fs []*fake) {
	for _, f := range fs {
		if f != nil {
			f.open()
			f.down.Store(false)
			f.setDelay(0)
		}
	}
}

func deadlineRun(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 24))
	n := 3 + 2*rng.IntN(2)
	fs := make([]*fake, n)
	reps := make([]quorum.Replica, n)
	for i := range n {
		if rng.IntN(4) == 0 {
			reps[i] = memreplica.New(memreplica.Options{}) // NonBlocking: inlined
			continue
		}
		fs[i] = newFake("")
		reps[i] = fs[i]
	}
	tier := []quorum.Tier{quorum.QuorumTier, quorum.QuorumTier, quorum.MasterSlave, quorum.DualWrite}[rng.IntN(4)]
	cfg := quorum.Config{
		Tier:           tier,
		DualWrite:      quorum.DualPolicy(1 + rng.IntN(3)),
		Consistency:    quorum.Consistency(1 + rng.IntN(2)),
		Repair:         quorum.ReadRepair(1 + rng.IntN(3)),
		ReplicaTimeout: []time.Duration{20 * time.Millisecond, 100 * time.Millisecond, time.Second}[rng.IntN(3)],
		Hedge:          quorum.Hedge{Disabled: rng.IntN(2) == 0},
	}
	c, err := quorum.New(reps, cfg)
	require.NoError(t, err)
	defer c.Close()
	defer func() {
		for _, f := range fs {
			if f != nil {
				f.open()
			}
		}
	}()
	reshape := func() {
		for _, f := range fs {
			if f == nil {
				continue
			}
			f.open()
			f.down.Store(false)
			f.setDelay(0)
			switch rng.IntN(5) {
			case 0: // healthy
			case 1: // slow, ignoring its context
				f.setDelay(time.Duration(rng.IntN(400)) * time.Millisecond)
			case 2: // hangs until its context ends
				f.block()
			case 3:
				f.down.Store(true)
			case 4: // a little slow
				f.setDelay(time.Duration(rng.IntN(5000)) * time.Microsecond)
			}
		}
	}
	keys := []string{"a", "b", "c"}
	for op := range 120 {
		if op%15 == 0 {
			// Healthy for a while first, so that fast replicas qualify to
			// be called inline (128 fast calls in a row; a Put calls every
			// replica at least once), then the new behaviours.
			reshapeHealthy(fs)
			for j := range 128 + 8 {
				_ = c.Put(context.Background(), keys[j%len(keys)], []byte("warm"))
			}
			reshape()
		}
		limit := time.Duration(rng.IntN(300_001)) * time.Microsecond
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		key := keys[rng.IntN(len(keys))]
		start := time.Now()
		var err error
		switch rng.IntN(3) {
		case 0:
			_, err = c.Get(ctx, key)
		case 1:
			err = c.Put(ctx, key, []byte(fmt.Sprint(op)))
		case 2:
			err = c.Delete(ctx, key)
		}
		took := time.Since(start)
		cancel()
		require.LessOrEqual(t, took, limit, "op %d returned %v after a %v deadline (err %v)", op, took, limit, err)
		if err != nil && !errors.Is(err, quorum.ErrNotFound) {
			assert.ErrorIs(t, err, quorum.ErrNoQuorum)
		}
	}
}
