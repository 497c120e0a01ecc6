package quorum_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
	"github.com/bulwark-go/bulwark/quorum/memreplica"
	"github.com/bulwark-go/bulwark/quorum/quorumtest"
)

// panicsInNew panics in Zone and NonBlocking: New must refuse it, not crash.
type panicsInNew struct{ *memreplica.Replica }

func (panicsInNew) Zone() string      { panic("zone exploded") }
func (panicsInNew) NonBlocking() bool { panic("nonblocking exploded") }

// valueReplica is a comparable non-pointer replica: two equal values are
// not taken for one store.
type valueReplica struct{ id int }

func (valueReplica) Get(context.Context, string) (quorum.Record, error) { return quorum.Record{}, nil }
func (valueReplica) Put(context.Context, string, quorum.Record) (bool, error) {
	return true, nil
}

// TestNewRefusesTypedNil: a nil *memreplica.Replica in the slice panicked
// in New (Zone on a nil receiver); it is ErrConfig naming the index.
func TestNewRefusesTypedNil(t *testing.T) {
	var nilMem *memreplica.Replica
	var nilFaulty *quorumtest.Faulty
	for _, bad := range []quorum.Replica{nil, nilMem, nilFaulty} {
		reps := []quorum.Replica{memreplica.New(memreplica.Options{}), bad, memreplica.New(memreplica.Options{})}
		c, err := quorum.New(reps, quorum.Config{})
		require.ErrorIs(t, err, quorum.ErrConfig)
		assert.Contains(t, err.Error(), "replica 1 is nil")
		assert.Nil(t, c)
	}
}

// TestNewRefusesDuplicates: the same store twice made a W=2 write
// "acknowledged" by one store.
func TestNewRefusesDuplicates(t *testing.T) {
	a, b := memreplica.New(memreplica.Options{}), memreplica.New(memreplica.Options{})
	_, err := quorum.New([]quorum.Replica{a, a, b}, quorum.Config{})
	require.ErrorIs(t, err, quorum.ErrConfig)
	assert.Contains(t, err.Error(), "replicas 0 and 1")
	// Two wrappers of one store are one store.
	_, err = quorum.New([]quorum.Replica{a, quorumtest.Wrap(b, quorumtest.Options{}), quorumtest.Wrap(b, quorumtest.Options{})}, quorum.Config{})
	require.ErrorIs(t, err, quorum.ErrConfig)
	assert.Contains(t, err.Error(), "replicas 1 and 2")
	// Equal values of a non-reference type are distinct replicas.
	c, err := quorum.New([]quorum.Replica{valueReplica{}, valueReplica{}, valueReplica{}}, quorum.Config{})
	require.NoError(t, err)
	require.NoError(t, c.Close())
}

// TestNewNeverPanicsGenerative builds replica slices from nil, typed nil,
// duplicate, wrapped-duplicate, panicking and good replicas, seeded: New
// never panics, refuses exactly the bad slices with ErrConfig naming the
// first bad index, and accepts the rest.
func TestNewNeverPanicsGenerative(t *testing.T) {
	for seed := range uint64(500) {
		rng := rand.New(rand.NewPCG(seed, 1))
		n := 1 + rng.IntN(6)
		var reps []quorum.Replica
		var mems []*memreplica.Replica
		wantBad := -1
		for i := range n {
			var r quorum.Replica
			bad := false
			switch k := rng.IntN(10); {
			case k == 0:
				r, bad = nil, true
			case k == 1:
				var m *memreplica.Replica
				r, bad = m, true
			case k == 2:
				r, bad = panicsInNew{memreplica.New(memreplica.Options{})}, true
			case k == 3 && len(mems) > 0:
				r, bad = mems[rng.IntN(len(mems))], true
			case k == 4 && len(mems) > 0:
				r, bad = quorumtest.Wrap(mems[rng.IntN(len(mems))], quorumtest.Options{}), true
			case k == 5:
				r = valueReplica{id: rng.IntN(2)}
			default:
				m := memreplica.New(memreplica.Options{})
				mems = append(mems, m)
				r = m
				if rng.IntN(2) == 0 {
					r = quorumtest.Wrap(m, quorumtest.Options{})
				}
			}
			if bad && wantBad < 0 {
				wantBad = i
			}
			reps = append(reps, r)
		}
		var c *quorum.Client
		var err error
		require.NotPanics(t, func() { c, err = quorum.New(reps, quorum.Config{W: 1, R: n, Consistency: quorum.Weak}) }, "seed %d", seed)
		if wantBad >= 0 {
			require.ErrorIs(t, err, quorum.ErrConfig, "seed %d", seed)
			assert.True(t, strings.Contains(err.Error(), fmt.Sprintf("replica %d ", wantBad)) ||
				strings.Contains(err.Error(), fmt.Sprintf(" and %d ", wantBad)), "seed %d: %v should name replica %d", seed, err, wantBad)
			continue
		}
		require.NoError(t, err, "seed %d", seed)
		require.NoError(t, c.Close())
	}
}

// TestNewRefusesUselessConfigs: configs that silently disabled a feature.
func TestNewRefusesUselessConfigs(t *testing.T) {
	_, reps := fakes("a", "b", "c")
	for name, cfg := range map[string]quorum.Config{
		"MinDelay >= ReplicaTimeout":     {ReplicaTimeout: time.Second, Hedge: quorum.Hedge{MinDelay: 5 * time.Second}},
		"InitialDelay >= ReplicaTimeout": {ReplicaTimeout: time.Second, Hedge: quorum.Hedge{InitialDelay: 2 * time.Second}},
		"ReplicaTimeout 1ns":             {ReplicaTimeout: time.Nanosecond},
		"DualWrite with MinWriteZones":   {Tier: quorum.DualWrite, MinWriteZones: 2},
		"MasterSlave with MinWriteZones": {Tier: quorum.MasterSlave, MinWriteZones: 2},
	} {
		_, err := quorum.New(reps, cfg)
		require.ErrorIs(t, err, quorum.ErrConfig, name)
	}
	// Disabled hedging ignores the hedge delays; a short ReplicaTimeout
	// keeps the default delays under it.
	for _, cfg := range []quorum.Config{
		{ReplicaTimeout: time.Second, Hedge: quorum.Hedge{Disabled: true, MinDelay: 5 * time.Second}},
		{ReplicaTimeout: 2 * time.Millisecond},
	} {
		c, err := quorum.New(reps, cfg)
		require.NoError(t, err)
		require.NoError(t, c.Close())
	}
}

// TestZeroClient: a zero Client{} said "invalid config: W+R=0"; now every
// operation says it was not constructed with New, and Close does not panic.
func TestZeroClient(t *testing.T) {
	var c quorum.Client
	ctx := context.Background()
	err := c.Put(ctx, "k", nil)
	require.ErrorIs(t, err, quorum.ErrNotApplied)
	assert.Contains(t, err.Error(), "not constructed with New")
	_, err = c.Get(ctx, "k")
	assert.Contains(t, err.Error(), "not constructed with New")
	require.ErrorIs(t, c.Delete(ctx, "k"), quorum.ErrNotApplied)
	require.NoError(t, c.Close())
}

// idReplica is a value-type wrapper without Inner that forwards a store
// identity, as a user's own adapter would.
type idReplica struct {
	valueReplica
	id string
}

func (r idReplica) StoreID() string { return r.id }

// TestNewRefusesSameStoreID: two replicas over one store that are distinct
// values (two adapters over one Redis database) were accepted, and a W=2
// write was then acknowledged by one store.
func TestNewRefusesSameStoreID(t *testing.T) {
	reps := []quorum.Replica{idReplica{id: "s1"}, idReplica{id: "s2"}, quorumtest.Wrap(idReplica{id: "s1"}, quorumtest.Options{})}
	_, err := quorum.New(reps, quorum.Config{})
	require.ErrorIs(t, err, quorum.ErrConfig)
	assert.Contains(t, err.Error(), "replicas 0 and 2")
	assert.Contains(t, err.Error(), `"s1"`)
	// An empty identity is unknown, not shared.
	c, err := quorum.New([]quorum.Replica{idReplica{}, idReplica{}, idReplica{id: "s3"}}, quorum.Config{})
	require.NoError(t, err)
	require.NoError(t, c.Close())
}
