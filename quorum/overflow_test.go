package quorum_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
	"github.com/bulwark-go/bulwark/quorum/memreplica"
)

// TestOverflowStaysWithItsKey: a key whose counter reached the maximum
// (set by another writer) made the 1/4096 of the key space sharing its
// version stripe fail with ErrVersionOverflow, and called it "no quorum".
// Now only the key itself fails, as ErrNotApplied, not ErrNoQuorum.
func TestOverflowStaysWithItsKey(t *testing.T) {
	ctx := context.Background()
	mems := make([]*memreplica.Replica, 3)
	reps := make([]quorum.Replica, 3)
	for i := range mems {
		mems[i] = memreplica.New(memreplica.Options{})
		reps[i] = mems[i]
		_, err := mems[i].Put(ctx, "big", quorum.Record{Version: quorum.Version{Counter: math.MaxUint64 - 1, Writer: 7}})
		require.NoError(t, err)
	}
	c := newClient(t, reps, quorum.Config{})
	v, err := c.PutVersion(ctx, "big", []byte("last"))
	require.NoError(t, err)
	assert.Equal(t, uint64(math.MaxUint64), v.Counter)
	for i := range 12000 {
		require.NoError(t, c.Put(ctx, fmt.Sprint("other", i), []byte("v")), "key %d", i)
	}
	err = c.Put(ctx, "big", []byte("past the end"))
	require.ErrorIs(t, err, quorum.ErrVersionOverflow)
	require.ErrorIs(t, err, quorum.ErrNotApplied)
	assert.False(t, errors.Is(err, quorum.ErrIndeterminate))
	assert.False(t, errors.Is(err, quorum.ErrNoQuorum), "%v", err)
}

// TestOverflowGenerative: random keys start at random counters, some near
// or at the top; concurrent writers of one client. Only a key whose own
// counter is at the maximum fails; versions of one key never repeat.
func TestOverflowGenerative(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(10) {
		rng := rand.New(rand.NewPCG(seed, 2))
		mems := make([]*memreplica.Replica, 3)
		reps := make([]quorum.Replica, 3)
		for i := range mems {
			mems[i] = memreplica.New(memreplica.Options{})
			reps[i] = mems[i]
		}
		const keys = 64
		start := make([]uint64, keys)
		for k := range keys {
			switch rng.IntN(4) {
			case 0:
				start[k] = math.MaxUint64 - uint64(rng.IntN(3))
			case 1:
				start[k] = math.MaxUint64 - 1<<32 + uint64(rng.IntN(5)) - 2
			default:
				start[k] = uint64(rng.IntN(100))
			}
			for _, m := range mems {
				_, err := m.Put(ctx, fmt.Sprint("k", k), quorum.Record{Version: quorum.Version{Counter: start[k], Writer: 1}})
				require.NoError(t, err)
			}
		}
		c := newClient(t, reps, quorum.Config{ClientID: 2})
		var mu sync.Mutex
		seen := map[string]map[quorum.Version]bool{}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(seed, uint64(w)+10))
				for range 200 {
					k := r.IntN(keys)
					key := fmt.Sprint("k", k)
					v, err := c.PutVersion(ctx, key, []byte("v"))
					if err != nil {
						// Only a key at (or driven to) the very top overflows.
						assert.ErrorIs(t, err, quorum.ErrVersionOverflow, "seed %d key %d", seed, k)
						assert.Greater(t, start[k], uint64(math.MaxUint64-1<<20), "seed %d key %d started at %d", seed, k, start[k])
						continue
					}
					mu.Lock()
					if seen[key] == nil {
						seen[key] = map[quorum.Version]bool{}
					}
					assert.False(t, seen[key][v], "seed %d: version %v issued twice for %s", seed, v, key)
					seen[key][v] = true
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
}

// TestMemreplicaFullIsNotApplied: memreplica.ErrFull certainly stored
// nothing, so a write it refuses is ErrNotApplied, not ErrIndeterminate.
func TestMemreplicaFullIsNotApplied(t *testing.T) {
	ctx := context.Background()
	require.ErrorIs(t, memreplica.ErrFull, quorum.ErrNotStored)
	reps := make([]quorum.Replica, 3)
	for i := range reps {
		m := memreplica.New(memreplica.Options{MaxKeys: 1})
		_, err := m.Put(ctx, "a", quorum.Record{Value: []byte("v"), Version: quorum.Version{Counter: 1, Writer: 1}})
		require.NoError(t, err)
		reps[i] = m
	}
	// W=1: the write fails only once every replica refused, so no call is
	// left in flight to make it indeterminate.
	c := newClient(t, reps, quorum.Config{W: 1, R: 3})
	err := c.Put(ctx, "b", []byte("v"))
	require.ErrorIs(t, err, quorum.ErrNotApplied)
	require.ErrorIs(t, err, memreplica.ErrFull)
	assert.False(t, errors.Is(err, quorum.ErrIndeterminate))
}
