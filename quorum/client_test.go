package quorum_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
)

func TestNewValidates(t *testing.T) {
	_, three := nFakes(3)
	zoned := func() []quorum.Replica { _, r := fakes("a", "a", "b"); return r }
	tests := []struct {
		name string
		reps []quorum.Replica
		cfg  quorum.Config
		ok   bool
	}{
		{"zero config over three", three, quorum.Config{}, true},
		{"no replicas", nil, quorum.Config{}, false},
		{"nil replica", []quorum.Replica{nil, three[0]}, quorum.Config{}, false},
		{"W > N", three, quorum.Config{W: 4}, false},
		{"InlineBelow > ReplicaTimeout", three, quorum.Config{InlineBelow: 2 * time.Second}, false},
		{"InlineBelow negative disables", three, quorum.Config{InlineBelow: -1}, true},
		{"R > N", three, quorum.Config{R: 4}, false},
		{"negative W", three, quorum.Config{W: -1}, false},
		{"W+R = N linearizable", three, quorum.Config{W: 2, R: 1}, false},
		{"W+R = N quorum", three, quorum.Config{W: 2, R: 1, Consistency: quorum.Quorum}, false},
		{"W+R = N weak", three, quorum.Config{W: 2, R: 1, Consistency: quorum.Weak}, true},
		{"W=R=1 weak", three, quorum.Config{W: 1, R: 1, Consistency: quorum.Weak}, true},
		{"W=3 R=1", three, quorum.Config{W: 3, R: 1}, true},
		{"unknown consistency", three, quorum.Config{Consistency: 9}, false},
		{"unknown tier", three, quorum.Config{Tier: 9}, false},
		{"unknown repair", three, quorum.Config{Repair: 9}, false},
		{"unknown dual policy", three, quorum.Config{DualWrite: 9}, false},
		{"tier on one replica", three[:1], quorum.Config{Tier: quorum.MasterSlave}, false},
		{"negative timeout", three, quorum.Config{ReplicaTimeout: -time.Second}, false},
		{"zones more than exist", three, quorum.Config{MinWriteZones: 2}, false},
		{"two zones", zoned(), quorum.Config{MinWriteZones: 2}, true},
		{"zones above W", zoned(), quorum.Config{MinWriteZones: 2, W: 1, R: 3}, false},
		{"local zone", zoned(), quorum.Config{LocalZone: "b"}, true},
		{"unknown local zone", zoned(), quorum.Config{LocalZone: "c"}, false},
		{"hedge quantile 1", three, quorum.Config{Hedge: quorum.Hedge{Quantile: 1}}, false},
		{"hedge budget 2", three, quorum.Config{Hedge: quorum.Hedge{Budget: 2}}, false},
		{"negative in-flight", three, quorum.Config{MaxInFlight: -1}, false},
		{"negative repair burst", three, quorum.Config{RepairBurst: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := quorum.New(tt.reps, tt.cfg)
			if tt.ok {
				require.NoError(t, err)
				require.NoError(t, c.Close())
				return
			}
			require.ErrorIs(t, err, quorum.ErrConfig)
			assert.Nil(t, c)
		})
	}
	t.Run("too many replicas", func(t *testing.T) {
		_, many := nFakes(65)
		_, err := quorum.New(many, quorum.Config{})
		require.ErrorIs(t, err, quorum.ErrConfig)
	})
}

func TestZeroConfigIsMajorityLinearizable(t *testing.T) {
	fs, reps := nFakes(3)
	c := newClient(t, reps, quorum.Config{})
	assert.NotZero(t, c.ID(), "a random client id is drawn")
	ctx := context.Background()
	require.NoError(t, c.Put(ctx, "k", []byte("v")))
	// Majority: one replica down still works, two do not.
	fs[0].down.Store(true)
	got, err := c.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "v", string(got))
	fs[1].down.Store(true)
	_, err = c.Get(ctx, "k")
	require.ErrorIs(t, err, quorum.ErrNoQuorum)

	c2 := newClient(t, reps, quorum.Config{})
	assert.NotEqual(t, c.ID(), c2.ID(), "each client draws its own id")
}

// TestAvailability: with f replicas down, reads succeed exactly when the live
// replicas reach R (and, for a Linearizable read that must write back, W);
// writes when they reach max(W, min(R, N-W+1)).
func TestAvailability(t *testing.T) {
	configs := []struct{ n, w, r int }{{3, 2, 2}, {5, 3, 3}, {3, 1, 3}, {3, 3, 1}, {5, 2, 4}}
	for _, cf := range configs {
		for f := 0; f <= cf.n; f++ {
			for _, level := range []quorum.Consistency{quorum.Linearizable, quorum.Quorum} {
				name := fmt.Sprintf("N=%d,W=%d,R=%d/down=%d/%v", cf.n, cf.w, cf.r, f, level)
				t.Run(name, func(t *testing.T) {
					fs, reps := nFakes(cf.n)
					c := newClient(t, reps, quorum.Config{W: cf.w, R: cf.r, Consistency: level, ReplicaTimeout: time.Second})
					ctx := context.Background()
					require.NoError(t, c.Put(ctx, "k", []byte("v0")), "all replicas up")
					for i := range f {
						fs[i].down.Store(true)
					}
					live := cf.n - f
					_, err := c.Get(ctx, "k")
					// A Linearizable read writes back unless W answers agree,
					// which needs R >= W; otherwise it needs W live replicas.
					wantRead := live >= cf.r && (level != quorum.Linearizable || cf.r >= cf.w || live >= cf.w)
					if wantRead {
						require.NoError(t, err, "read with %d live, R=%d", live, cf.r)
					} else {
						require.ErrorIs(t, err, quorum.ErrNoQuorum, "read with %d live, R=%d", live, cf.r)
					}
					err = c.Put(ctx, "k", []byte("v1"))
					wantWrite := live >= max(cf.w, min(cf.r, cf.n-cf.w+1))
					if wantWrite {
						require.NoError(t, err, "write with %d live", live)
						got, err := c.Get(ctx, "k")
						if live >= cf.r && (level != quorum.Linearizable || live >= cf.w || cf.r >= cf.w) {
							require.NoError(t, err)
							assert.Equal(t, "v1", string(got))
						}
					} else {
						require.ErrorIs(t, err, quorum.ErrNoQuorum, "write with %d live", live)
						// Down replicas say "not stored": the write is applied
						// exactly when its version read succeeded and live
						// replicas stored it.
						if live < min(cf.r, cf.n-cf.w+1) {
							require.ErrorIs(t, err, quorum.ErrNotApplied)
							require.NotErrorIs(t, err, quorum.ErrIndeterminate)
						} else {
							require.ErrorIs(t, err, quorum.ErrIndeterminate)
							require.NotErrorIs(t, err, quorum.ErrNotApplied)
						}
					}
				})
			}
		}
	}
}

// TestFastFailWhenUnhealthy: with health known, too few healthy replicas fail
// at once, match ErrNoQuorum and ErrNotApplied, and contact nobody.
func TestFastFailWhenUnhealthy(t *testing.T) {
	fs, reps := nFakes(3)
	for _, f := range fs {
		f.block() // a contacted replica would hang until the op's deadline
	}
	defer func() {
		for _, f := range fs {
			f.open()
		}
	}()
	fs[0].unhealthy.Store(true)
	fs[1].unhealthy.Store(true)
	ctx := context.Background()
	for _, tier := range []quorum.Tier{quorum.QuorumTier, quorum.MasterSlave, quorum.DualWrite} {
		t.Run(tier.String(), func(t *testing.T) {
			c := newClient(t, reps, quorum.Config{Tier: tier})
			for _, op := range []string{"get", "put", "delete"} {
				start := time.Now()
				var err error
				switch op {
				case "get":
					_, err = c.Get(ctx, "k")
				case "put":
					err = c.Put(ctx, "k", []byte("v"))
				case "delete":
					err = c.Delete(ctx, "k")
				}
				elapsed := time.Since(start)
				require.ErrorIs(t, err, quorum.ErrNoQuorum, op)
				require.ErrorIs(t, err, quorum.ErrNotApplied, op)
				require.NotErrorIs(t, err, quorum.ErrIndeterminate, op)
				var qe *quorum.Error
				require.ErrorAs(t, err, &qe)
				assert.True(t, qe.Fast)
				assert.Less(t, elapsed, time.Second, "a contacted replica would block")
			}
			for i, f := range fs {
				assert.Zero(t, f.gets.Load()+f.puts.Load(), "replica %d contacted", i)
			}
		})
	}
}

func TestTombstonesNeverResurrect(t *testing.T) {
	for _, level := range []quorum.Consistency{quorum.Linearizable, quorum.Quorum} {
		t.Run(level.String(), func(t *testing.T) {
			fs, reps := nFakes(3)
			c := newClient(t, reps, quorum.Config{Consistency: level, Repair: quorum.RepairBlocking, Hedge: quorum.Hedge{Disabled: true}})
			ctx := context.Background()
			seed(t, reps, "k", "old")
			fs[2].down.Store(true)
			tomb, err := c.DeleteVersion(ctx, "k")
			require.NoError(t, err)
			fs[2].down.Store(false) // back with the old value
			assert.Equal(t, "old", string(fs[2].stored(t, "k").Value))

			// Every pair of replicas includes one with the tombstone.
			for _, downed := range []int{0, 1, 2} {
				fs[downed].down.Store(true)
				for range 3 {
					_, v, err := c.GetVersion(ctx, "k")
					require.ErrorIs(t, err, quorum.ErrNotFound, "with replica %d down", downed)
					assert.Equal(t, tomb, v, "the tombstone's version")
				}
				fs[downed].down.Store(false)
			}
			// Repair spread the tombstone instead of the old value.
			rec := fs[2].stored(t, "k")
			assert.True(t, rec.Deleted, "replica 2 repaired with the tombstone")
			assert.Equal(t, tomb, rec.Version)
			// A later put wins over the tombstone.
			require.NoError(t, c.Put(ctx, "k", []byte("new")))
			got, err := c.Get(ctx, "k")
			require.NoError(t, err)
			assert.Equal(t, "new", string(got))
		})
	}
}

func TestWriteOutcomes(t *testing.T) {
	ctx := context.Background()
	t.Run("landed but failed is indeterminate and later visible", func(t *testing.T) {
		fs, reps := nFakes(3)
		c := newClient(t, reps, quorum.Config{})
		for _, f := range fs {
			f.landFail.Store(true) // version reads work; puts store, then fail
		}
		err := c.Put(ctx, "k", []byte("v"))
		require.ErrorIs(t, err, quorum.ErrIndeterminate)
		require.ErrorIs(t, err, quorum.ErrNoQuorum)
		require.NotErrorIs(t, err, quorum.ErrNotApplied)
		var qe *quorum.Error
		require.ErrorAs(t, err, &qe)
		assert.True(t, qe.Applied)
		var re *quorum.ReplicaError
		require.ErrorAs(t, err, &re, "per-replica errors are joined inside")
		for _, f := range fs {
			f.landFail.Store(false)
		}
		got, err := c.Get(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, "v", string(got), "the indeterminate write landed")
	})
	t.Run("refused everywhere is not applied", func(t *testing.T) {
		fs, reps := nFakes(3)
		c := newClient(t, reps, quorum.Config{})
		require.NoError(t, c.Put(ctx, "k", []byte("v0")))
		for _, f := range fs {
			f.down.Store(true)
		}
		err := c.Put(ctx, "k", []byte("v1"))
		require.ErrorIs(t, err, quorum.ErrNotApplied)
		require.NotErrorIs(t, err, quorum.ErrIndeterminate)
		require.NotErrorIs(t, err, quorum.ErrNotFound)
	})
	t.Run("opaque put errors are indeterminate", func(t *testing.T) {
		fs, reps := nFakes(3)
		c := newClient(t, reps, quorum.Config{})
		fs[1].opaque.Store(true)
		fs[2].opaque.Store(true)
		err := c.Put(ctx, "k", []byte("v"))
		require.ErrorIs(t, err, quorum.ErrIndeterminate)
	})
	t.Run("partial acknowledgements are indeterminate", func(t *testing.T) {
		fs, reps := nFakes(3)
		c := newClient(t, reps, quorum.Config{W: 3, R: 1, Hedge: quorum.Hedge{Disabled: true}})
		fs[1].down.Store(true)
		err := c.Put(ctx, "k", []byte("v"))
		require.ErrorIs(t, err, quorum.ErrIndeterminate, "replicas 0 and 2 stored it")
		require.NoError(t, c.Close()) // waits for the stragglers
		assert.Equal(t, "v", string(fs[0].stored(t, "k").Value))
		assert.Equal(t, "v", string(fs[2].stored(t, "k").Value))
	})
	t.Run("replica timeout is indeterminate", func(t *testing.T) {
		fs, reps := nFakes(3)
		c := newClient(t, reps, quorum.Config{W: 3, R: 1, ReplicaTimeout: 20 * time.Millisecond})
		require.NoError(t, c.Put(ctx, "k", []byte("v0")))
		fs[2].block()
		defer fs[2].open()
		err := c.Put(ctx, "k", []byte("v1"))
		require.ErrorIs(t, err, quorum.ErrIndeterminate)
		require.ErrorIs(t, err, quorum.ErrReplicaTimeout)
	})
	t.Run("cancelled caller", func(t *testing.T) {
		fs, reps := nFakes(3)
		c := newClient(t, reps, quorum.Config{})
		for _, f := range fs {
			f.block()
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := c.Put(cctx, "k", []byte("v"))
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorIs(t, err, quorum.ErrNotApplied, "cancelled during the version read")
		_, err = c.Get(cctx, "k")
		require.ErrorIs(t, err, context.Canceled)
		for _, f := range fs {
			f.open()
		}
	})
}

func TestVersionsComeFromTheReadPhase(t *testing.T) {
	fs, reps := nFakes(3)
	c := newClient(t, reps, quorum.Config{ClientID: 9})
	ctx := context.Background()
	_, err := fs[1].mem.Put(ctx, "k", quorum.Record{Value: []byte("x"), Version: quorum.Version{Counter: 41, Writer: 3}})
	require.NoError(t, err)
	_, err = fs[2].mem.Put(ctx, "k", quorum.Record{Value: []byte("x"), Version: quorum.Version{Counter: 41, Writer: 3}})
	require.NoError(t, err)
	v, err := c.PutVersion(ctx, "k", []byte("y"))
	require.NoError(t, err)
	assert.Equal(t, quorum.Version{Counter: 42, Writer: 9}, v)
	v2, err := c.DeleteVersion(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, quorum.Version{Counter: 43, Writer: 9}, v2)

	t.Run("overflow", func(t *testing.T) {
		for _, f := range fs {
			_, err := f.mem.Put(ctx, "max", quorum.Record{Version: quorum.Version{Counter: math.MaxUint64}})
			require.NoError(t, err)
		}
		err := c.Put(ctx, "max", []byte("v"))
		require.ErrorIs(t, err, quorum.ErrVersionOverflow)
		require.ErrorIs(t, err, quorum.ErrNotApplied)
	})
}

func TestPerCallSettings(t *testing.T) {
	fs, reps := nFakes(3)
	c := newClient(t, reps, quorum.Config{W: 1, R: 1, Consistency: quorum.Weak})
	ctx := context.Background()
	_, err := c.With(quorum.Call{Consistency: quorum.Linearizable}).Get(ctx, "k")
	require.ErrorIs(t, err, quorum.ErrConfig, "W+R <= N cannot serve Linearizable")
	_, err = c.With(quorum.Call{Tier: 9}).Get(ctx, "k")
	require.ErrorIs(t, err, quorum.ErrConfig)

	c2 := newClient(t, reps, quorum.Config{})
	ms := c2.With(quorum.Call{Tier: quorum.MasterSlave})
	require.NoError(t, ms.Put(ctx, "k", []byte("m")))
	require.NoError(t, c2.Close()) // waits for the slave copy
	assert.Equal(t, "m", string(fs[0].stored(t, "k").Value))
	assert.Equal(t, "m", string(fs[1].stored(t, "k").Value))
	assert.Zero(t, fs[2].puts.Load(), "the master-slave tier uses replicas 0 and 1 only")
}

func TestClosed(t *testing.T) {
	_, reps := nFakes(3)
	c, err := quorum.New(reps, quorum.Config{})
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "idempotent")
	ctx := context.Background()
	_, err = c.Get(ctx, "k")
	require.ErrorIs(t, err, quorum.ErrClosed)
	require.ErrorIs(t, c.Put(ctx, "k", nil), quorum.ErrClosed)
	require.ErrorIs(t, c.Delete(ctx, "k"), quorum.ErrClosed)
}

func TestReplicaBusy(t *testing.T) {
	fs, reps := nFakes(3)
	c := newClient(t, reps, quorum.Config{W: 1, R: 3, MaxInFlight: 1})
	ctx := context.Background()
	fs[0].block()
	// Occupy replica 0's only worker, then read: replica 0 is busy.
	done := make(chan error, 1)
	go func() { _, err := c.Get(ctx, "other"); done <- err }()
	<-fs[0].entered
	_, err := c.Get(ctx, "k")
	require.ErrorIs(t, err, quorum.ErrReplicaBusy)
	require.ErrorIs(t, err, quorum.ErrNoQuorum)
	fs[0].open()
	require.ErrorIs(t, <-done, quorum.ErrNotFound)
}

func TestNilContextAndOddInput(t *testing.T) {
	_, reps := nFakes(3)
	c := newClient(t, reps, quorum.Config{})
	var nilCtx context.Context
	require.NoError(t, c.Put(nilCtx, "", nil))
	_, err := c.Get(nilCtx, "")
	require.NoError(t, err, "an empty value is a value")
	big := make([]byte, 1<<20)
	require.NoError(t, c.Put(context.Background(), "big", big))
}

type panicky struct{ quorum.Replica }

func (panicky) Get(context.Context, string) (quorum.Record, error) { panic("boom") }

func TestReplicaPanicIsAnError(t *testing.T) {
	_, reps := nFakes(3)
	reps[0] = panicky{reps[0]}
	c := newClient(t, reps, quorum.Config{R: 3, W: 1})
	_, err := c.Get(context.Background(), "k")
	require.ErrorIs(t, err, quorum.ErrNoQuorum)
	assert.Contains(t, err.Error(), "panicked")
}

// seed writes key on every replica through a W=N client, and waits for it.
func seed(t testing.TB, reps []quorum.Replica, key, val string) quorum.Version {
	t.Helper()
	c, err := quorum.New(reps, quorum.Config{W: len(reps), R: 1})
	require.NoError(t, err)
	v, err := c.PutVersion(context.Background(), key, []byte(val))
	require.NoError(t, err)
	require.NoError(t, c.Close())
	return v
}

// TestVersionsOfOneClientAreUnique: concurrent writes of one key by one
// client, and a write after an indeterminate one its version read missed,
// still get distinct versions (otherwise replicas could keep different values
// under one version forever).
func TestVersionsOfOneClientAreUnique(t *testing.T) {
	ctx := context.Background()
	t.Run("concurrent", func(t *testing.T) {
		c := memClient(t, quorum.Config{})
		versions := make(chan quorum.Version, 400)
		done := make(chan struct{})
		for w := range 8 {
			go func() {
				defer func() { done <- struct{}{} }()
				for i := range 50 {
					v, err := c.PutVersion(ctx, "k", []byte(fmt.Sprint(w, i)))
					if !assert.NoError(t, err) {
						return
					}
					versions <- v
				}
			}()
		}
		for range 8 {
			<-done
		}
		close(versions)
		seen := map[quorum.Version]bool{}
		for v := range versions {
			assert.False(t, seen[v], "version %v issued twice", v)
			seen[v] = true
		}
		assert.Len(t, seen, 400)
	})
	t.Run("after an indeterminate write", func(t *testing.T) {
		fs, reps := nFakes(3)
		c := newClient(t, reps, quorum.Config{Hedge: quorum.Hedge{Disabled: true}})
		fs[1].opaque.Store(true) // replicas 1 and 2 fail the write; 0 stores it
		fs[2].opaque.Store(true)
		_, err := c.PutVersion(ctx, "k", []byte("a"))
		require.ErrorIs(t, err, quorum.ErrIndeterminate)
		fs[1].opaque.Store(false)
		fs[2].opaque.Store(false)
		fs[0].unhealthy.Store(true) // the next version read misses replica 0
		second, err := c.PutVersion(ctx, "k", []byte("b"))
		require.NoError(t, err)
		fs[0].unhealthy.Store(false)
		require.NoError(t, c.Close())
		failed := fs[0].stored(t, "k")
		require.Equal(t, "a", string(failed.Value), "replica 0 stored the failed write")
		assert.True(t, second.Newer(failed.Version), "second write %v must beat the failed one %v", second, failed.Version)

		rc := newClient(t, reps, quorum.Config{})
		got, err := rc.Get(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, "b", string(got))
	})
}

func TestZeroValuesDoNotPanic(t *testing.T) {
	ctx := context.Background()
	var c *quorum.Client
	_, err := c.Get(ctx, "k")
	require.Error(t, err)
	require.Error(t, c.Put(ctx, "k", nil))
	require.NoError(t, c.Close())
	var caller quorum.Caller
	_, err = caller.Get(ctx, "k")
	require.Error(t, err)
	require.Error(t, caller.Delete(ctx, "k"))
}

func TestErrorMessages(t *testing.T) {
	fs, reps := nFakes(3)
	c := newClient(t, reps, quorum.Config{})
	fs[1].opaque.Store(true)
	fs[2].opaque.Store(true)
	err := c.Put(context.Background(), "k", []byte("v"))
	require.Error(t, err)
	msg := err.Error()
	// Replica 0's acknowledgement may come before or after the failures.
	assert.Regexp(t, `^quorum: put "k": no quorum: [01] of 2 needed \(may have been applied\): `, msg)
	assert.Contains(t, msg, "quorum: replica 1 put: fake: connection reset")
	assert.Contains(t, msg, "quorum: replica 2 put: fake: connection reset")

	fs[0].unhealthy.Store(true)
	fs[1].unhealthy.Store(true)
	_, err = c.Get(context.Background(), "k")
	assert.EqualError(t, err, `quorum: get "k": no quorum: only 1 healthy replicas, need 2`)
}
