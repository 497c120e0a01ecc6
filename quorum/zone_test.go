package quorum_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
)

// TestZoneLossLosesNoAcknowledgedWrite: three replicas in two zones (a: 0 and
// 1, b: 2). Under random single-replica faults, every write acknowledged with
// MinWriteZones = 2 survives the loss of either whole zone. Without the rule,
// a write acknowledged by zone a alone dies with it.
func TestZoneLossLosesNoAcknowledgedWrite(t *testing.T) {
	ctx := context.Background()
	t.Run("without zone rule a zone loss loses writes", func(t *testing.T) {
		fs, reps := fakes("a", "a", "b")
		c := newClient(t, reps, quorum.Config{})
		fs[2].down.Store(true)
		require.NoError(t, c.Put(ctx, "k", []byte("v")), "W=2 reached in zone a")
		require.NoError(t, c.Close())
		// Zone a is lost: only replica 2 is left, and it never saw the write.
		assert.True(t, fs[2].stored(t, "k").Version.IsZero(), "the acknowledged write is lost")
	})

	for _, lose := range []string{"a", "b"} {
		t.Run("lose zone "+lose, func(t *testing.T) {
			fs, reps := fakes("a", "a", "b")
			c := newClient(t, reps, quorum.Config{MinWriteZones: 2, LocalZone: "a"})
			rng := rand.New(rand.NewPCG(1, 2))
			acked := map[string]quorum.Version{}
			failed := 0
			for i := range 300 {
				// One random replica misbehaves per write.
				for _, f := range fs {
					f.down.Store(false)
				}
				if rng.IntN(3) > 0 {
					fs[rng.IntN(3)].down.Store(true)
				}
				key := fmt.Sprint("k", rng.IntN(40))
				v, err := c.PutVersion(ctx, key, []byte(fmt.Sprint(i)))
				if err != nil {
					require.ErrorIs(t, err, quorum.ErrNoQuorum)
					failed++
					continue
				}
				acked[key] = v
			}
			require.NoError(t, c.Close())
			require.NotEmpty(t, acked)
			require.NotZero(t, failed, "zone b down must fail some writes")
			for _, f := range fs {
				f.down.Store(false)
			}
			survivors := []quorum.Replica{}
			for i, f := range fs {
				if f.zone == lose {
					continue
				}
				survivors = append(survivors, reps[i])
			}
			// Whatever survives holds every acknowledged write.
			for key, v := range acked {
				newest := quorum.Version{}
				for i, f := range fs {
					if f.zone != lose {
						if got := fs[i].stored(t, key).Version; got.Newer(newest) {
							newest = got
						}
					}
				}
				assert.False(t, v.Newer(newest), "%s acked at %v, survivors hold %v", key, v, newest)
			}
			// And a client over the survivors reads them.
			rc := newClient(t, survivors, quorum.Config{W: len(survivors), R: len(survivors)})
			for key, v := range acked {
				_, got, err := rc.GetVersion(ctx, key)
				require.NoError(t, err)
				assert.False(t, v.Newer(got), key)
			}
		})
	}
	t.Run("write needs both zones", func(t *testing.T) {
		fs, reps := fakes("a", "a", "b")
		c := newClient(t, reps, quorum.Config{MinWriteZones: 2})
		fs[2].unhealthy.Store(true)
		err := c.Put(ctx, "k", []byte("v"))
		require.ErrorIs(t, err, quorum.ErrNoQuorum)
		require.ErrorIs(t, err, quorum.ErrNotApplied, "zone b unhealthy: fails before contacting anyone")
		fs[2].unhealthy.Store(false)
		fs[2].down.Store(true)
		err = c.Put(ctx, "k", []byte("v"))
		require.ErrorIs(t, err, quorum.ErrIndeterminate, "zone a stored it, zone b refused")
	})
}

func TestReadsPreferLocalZone(t *testing.T) {
	ctx := context.Background()
	for _, local := range []string{"a", "b"} {
		t.Run(local, func(t *testing.T) {
			fs, reps := fakes("a", "a", "b")
			seed(t, reps, "k", "v")
			c := newClient(t, reps, quorum.Config{LocalZone: local, Hedge: quorum.Hedge{Disabled: true}})
			for _, f := range fs {
				f.gets.Store(0)
			}
			const reads = 30
			for range reads {
				_, err := c.Get(ctx, "k")
				require.NoError(t, err)
			}
			if local == "a" {
				assert.Equal(t, int64(reads), fs[0].gets.Load())
				assert.Equal(t, int64(reads), fs[1].gets.Load())
				assert.Zero(t, fs[2].gets.Load(), "R=2 is met in the local zone")
			} else {
				assert.Equal(t, int64(reads), fs[2].gets.Load(), "the local replica is in every read")
				assert.Equal(t, int64(reads), fs[0].gets.Load()+fs[1].gets.Load())
			}
		})
	}
}

// TestZoneLostLinearizableReads: with MinWriteZones = 2 and zone b lost,
// Linearizable reads of acknowledged data still succeed from zone a, whose
// two replicas are R = 2 answers and a write quorum W = 2 for the
// write-back. The zone rule applies to new writes, which still fail.
func TestZoneLostLinearizableReads(t *testing.T) {
	ctx := context.Background()
	for _, how := range []string{"down", "unhealthy"} {
		t.Run("zone b "+how, func(t *testing.T) {
			fs, reps := fakes("a", "a", "b")
			c := newClient(t, reps, quorum.Config{MinWriteZones: 2, LocalZone: "a", Hedge: quorum.Hedge{Disabled: true}})
			require.NoError(t, c.Put(ctx, "all", []byte("v1")), "on all three replicas")
			fs[1].down.Store(true)
			require.NoError(t, c.Put(ctx, "missed", []byte("v2")), "acknowledged by 0 (zone a) and 2 (zone b)")
			fs[1].down.Store(false)
			require.True(t, fs[1].stored(t, "missed").Version.IsZero())

			if how == "down" {
				fs[2].down.Store(true)
			} else {
				fs[2].unhealthy.Store(true)
			}
			v, err := c.Get(ctx, "all")
			require.NoError(t, err, "0 and 1 agree: a write quorum already holds it")
			assert.Equal(t, "v1", string(v))
			v, err = c.Get(ctx, "missed")
			require.NoError(t, err, "1 is stale: the write-back to 1 makes W = 2")
			assert.Equal(t, "v2", string(v))
			assert.Equal(t, "v2", string(fs[1].stored(t, "missed").Value), "written back")
			v, err = c.Get(ctx, "missed")
			require.NoError(t, err)
			assert.Equal(t, "v2", string(v))

			err = c.Put(ctx, "new", []byte("v3"))
			require.ErrorIs(t, err, quorum.ErrNoQuorum, "new writes still need both zones")
		})
	}
	t.Run("zone a lost: too few for R", func(t *testing.T) {
		fs, reps := fakes("a", "a", "b")
		c := newClient(t, reps, quorum.Config{MinWriteZones: 2, LocalZone: "a"})
		require.NoError(t, c.Put(ctx, "k", []byte("v")))
		fs[0].down.Store(true)
		fs[1].down.Store(true)
		_, err := c.Get(ctx, "k")
		require.ErrorIs(t, err, quorum.ErrNoQuorum)
	})
	t.Run("write-back needs W", func(t *testing.T) {
		// Replica 1 is stale and refuses the write-back: only one copy of
		// the newest record answers, short of W = 2, so the read fails
		// rather than return a record no write quorum holds.
		fs, reps := fakes("a", "a", "b")
		c := newClient(t, reps, quorum.Config{MinWriteZones: 2, LocalZone: "a", Hedge: quorum.Hedge{Disabled: true}})
		fs[1].down.Store(true)
		require.NoError(t, c.Put(ctx, "k", []byte("v")))
		fs[1].down.Store(false)
		fs[1].opaque.Store(true) // Put fails
		fs[2].down.Store(true)
		_, err := c.Get(ctx, "k")
		require.ErrorIs(t, err, quorum.ErrNoQuorum)
	})
}
