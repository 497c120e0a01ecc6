package quorum_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
)

// partial stores rec on the given replicas only, as a write that failed
// after reaching them would have.
func partial(t *testing.T, fs []*fake, key string, rec quorum.Record, on ...int) {
	t.Helper()
	for _, i := range on {
		_, err := fs[i].mem.Put(context.Background(), key, rec)
		require.NoError(t, err)
	}
}

// TestLinearizableWriteBack: a write that reached only replica 0 is seen by a
// read of {0, 1}. Without write-back (Quorum, repair off) a later read of
// {1, 2} goes back in time; with ABD write-back it cannot.
func TestLinearizableWriteBack(t *testing.T) {
	ctx := context.Background()
	newer := quorum.Record{Value: []byte("new"), Version: quorum.Version{Counter: 2, Writer: 1}}
	for _, tt := range []struct {
		level    quorum.Consistency
		wantLast string
	}{
		{quorum.Linearizable, "new"},
		{quorum.Quorum, "old"},
	} {
		t.Run(tt.level.String(), func(t *testing.T) {
			fs, reps := nFakes(3)
			seed(t, reps, "k", "old")
			partial(t, fs, "k", newer, 0)
			c := newClient(t, reps, quorum.Config{Consistency: tt.level, Repair: quorum.RepairOff, Hedge: quorum.Hedge{Disabled: true}})

			fs[2].unhealthy.Store(true) // read {0, 1}
			got, err := c.Get(ctx, "k")
			require.NoError(t, err)
			assert.Equal(t, "new", string(got))
			fs[2].unhealthy.Store(false)

			fs[0].unhealthy.Store(true) // read {1, 2}
			got, err = c.Get(ctx, "k")
			require.NoError(t, err)
			assert.Equal(t, tt.wantLast, string(got))
		})
	}
	t.Run("agreeing replicas skip the write-back", func(t *testing.T) {
		fs, reps := nFakes(3)
		seed(t, reps, "k", "v")
		c := newClient(t, reps, quorum.Config{})
		for _, f := range fs {
			f.puts.Store(0)
		}
		for range 10 {
			_, err := c.Get(ctx, "k")
			require.NoError(t, err)
		}
		require.NoError(t, c.Close())
		for i, f := range fs {
			assert.Zero(t, f.puts.Load(), "replica %d written", i)
		}
	})
}

func TestReadRepair(t *testing.T) {
	ctx := context.Background()
	newer := quorum.Record{Value: []byte("new"), Version: quorum.Version{Counter: 2, Writer: 1}}
	for _, tt := range []struct {
		mode        quorum.ReadRepair
		afterGet    bool // replica 2 repaired when Get returns
		afterClose  bool // repaired once Close returned
		repairHooks int
	}{
		{quorum.RepairOff, false, false, 0},
		{quorum.RepairBlocking, true, true, 1},
		{quorum.RepairAsync, false, true, 1}, // Close waits for the async repair
	} {
		t.Run(tt.mode.String(), func(t *testing.T) {
			fs, reps := nFakes(3)
			seed(t, reps, "k", "old")
			partial(t, fs, "k", newer, 1)
			var repairs, stale atomic.Int64
			c, err := quorum.New(reps, quorum.Config{
				Consistency: quorum.Quorum, Repair: tt.mode, Hedge: quorum.Hedge{Disabled: true},
				Hooks: quorum.Hooks{
					Repair: func(r int, err error) {
						if r == 2 && err == nil {
							repairs.Add(1)
						}
					},
					StaleRead: func(r int, have, newest quorum.Version) {
						if r == 2 && newest == newer.Version && have.Newer(quorum.Version{}) {
							stale.Add(1)
						}
					},
				},
			})
			require.NoError(t, err)
			if tt.mode == quorum.RepairAsync {
				fs[2].gatePutsOnly.Store(true)
				fs[2].block() // the async repair waits; Close must wait for it
			}
			fs[0].unhealthy.Store(true) // read {1, 2}
			got, err := c.Get(ctx, "k")
			require.NoError(t, err)
			assert.Equal(t, "new", string(got))
			assert.Equal(t, int64(1), stale.Load(), "replica 2 answered stale")
			assert.Equal(t, tt.afterGet, fs[2].stored(t, "k").Version == newer.Version)
			if tt.mode == quorum.RepairAsync {
				<-fs[2].entered // the repair is in flight
				closed := make(chan struct{})
				go func() { c.Close(); close(closed) }()
				select {
				case <-closed:
					t.Fatal("Close returned with a repair in flight")
				default:
				}
				fs[2].open()
				<-closed
			}
			require.NoError(t, c.Close())
			assert.Equal(t, tt.afterClose, fs[2].stored(t, "k").Version == newer.Version)
			assert.Equal(t, int64(tt.repairHooks), repairs.Load())
		})
	}
	t.Run("rate limited", func(t *testing.T) {
		fs, reps := nFakes(3)
		for _, k := range []string{"a", "b", "c"} {
			seed(t, reps, k, "old")
			partial(t, fs, k, newer, 1)
		}
		c := newClient(t, reps, quorum.Config{Consistency: quorum.Quorum, Repair: quorum.RepairBlocking,
			RepairRate: 1e-9, RepairBurst: 1, Hedge: quorum.Hedge{Disabled: true}})
		fs[0].unhealthy.Store(true)
		repaired := 0
		for _, k := range []string{"a", "b", "c"} {
			_, err := c.Get(ctx, k)
			require.NoError(t, err)
			if fs[2].stored(t, k).Version == newer.Version {
				repaired++
			}
		}
		assert.Equal(t, 1, repaired, "a burst of one, then nothing")
	})
}

// TestHooks checks every hook against what the fakes saw.
func TestHooks(t *testing.T) {
	fs, reps := nFakes(3)
	var (
		mu      sync.Mutex
		calls   = map[quorum.Op]int{}
		quorums = map[quorum.Op]int{}
	)
	c := newClient(t, reps, quorum.Config{Hedge: quorum.Hedge{Disabled: true}, Hooks: quorum.Hooks{
		ReplicaLatency: func(r int, op quorum.Op, d time.Duration, err error) {
			mu.Lock()
			calls[op]++
			mu.Unlock()
			assert.GreaterOrEqual(t, d, time.Duration(0))
		},
		QuorumReached: func(op quorum.Op, d time.Duration) {
			mu.Lock()
			quorums[op]++
			mu.Unlock()
		},
	}})
	ctx := context.Background()
	for range 5 {
		require.NoError(t, c.Put(ctx, "k", []byte("v")))
		_, err := c.Get(ctx, "k")
		require.NoError(t, err)
	}
	require.NoError(t, c.Delete(ctx, "k"))
	fs[0].down.Store(true)
	fs[1].down.Store(true)
	_, err := c.Get(ctx, "k")
	require.Error(t, err)
	require.NoError(t, c.Close())
	var gets, puts int64
	for _, f := range fs {
		gets += f.gets.Load()
		puts += f.puts.Load()
	}
	assert.Equal(t, int(gets), calls[quorum.OpGet], "one latency report per replica read")
	assert.Equal(t, int(puts), calls[quorum.OpPut], "one latency report per replica write")
	assert.Equal(t, map[quorum.Op]int{quorum.OpGet: 5, quorum.OpPut: 5, quorum.OpDelete: 1}, quorums, "failed operations reach no quorum")
}

// TestCloseLeavesNoGoroutines runs a client in a synctest bubble, which
// fails if any goroutine is left when it ends, with every kind of background
// call in flight at Close: write stragglers, async repairs, slave writes.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs, reps := nFakes(3)
		fs[2].setDelay(100 * time.Millisecond)
		c, err := quorum.New(reps, quorum.Config{Consistency: quorum.Quorum})
		require.NoError(t, err)
		ctx := context.Background()
		require.NoError(t, c.Put(ctx, "k", []byte("v"))) // straggler to replica 2
		require.NoError(t, c.With(quorum.Call{Tier: quorum.MasterSlave}).Put(ctx, "m", []byte("v")))
		start := time.Now()
		require.NoError(t, c.Close())
		assert.Equal(t, 100*time.Millisecond, time.Since(start), "Close waited for the straggler")
		assert.Equal(t, "v", string(fs[2].stored(t, "k").Value))
		assert.Equal(t, "v", string(fs[1].stored(t, "m").Value))
	})
	synctest.Test(t, func(t *testing.T) {
		// A burst with hedges, async repairs and failures in flight.
		fs, reps := nFakes(3)
		for _, f := range fs {
			f.setDelay(time.Millisecond)
			f.slowEvery.Store(5)
			f.slowExtra.Store(int64(30 * time.Millisecond))
		}
		c, err := quorum.New(reps, quorum.Config{Consistency: quorum.Quorum, ReplicaTimeout: 20 * time.Millisecond})
		require.NoError(t, err)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := range 20 {
					key := string(rune('a' + (w+i)%4))
					_ = c.Put(context.Background(), key, []byte{byte(i)})
					_, _ = c.Get(context.Background(), key)
				}
			})
		}
		wg.Wait()
		require.NoError(t, c.Close())
	})
}

// TestCloseDuringOperations: Close racing operations of every kind neither
// panics nor deadlocks; operations that lose the race fail cleanly.
func TestCloseDuringOperations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs, reps := nFakes(3)
		for _, f := range fs {
			f.setDelay(time.Millisecond)
		}
		c, err := quorum.New(reps, quorum.Config{Consistency: quorum.Quorum})
		require.NoError(t, err)
		calls := []quorum.Caller{
			c.With(quorum.Call{}),
			c.With(quorum.Call{Consistency: quorum.Linearizable}),
			c.With(quorum.Call{Tier: quorum.MasterSlave}),
			c.With(quorum.Call{Tier: quorum.DualWrite}),
		}
		var wg sync.WaitGroup
		var closedSeen atomic.Int64
		for w := range 8 {
			wg.Go(func() {
				cl := calls[w%len(calls)]
				for i := 0; ; i++ {
					err := cl.Put(context.Background(), "k", []byte{byte(i)})
					if err == nil {
						_, err = cl.Get(context.Background(), "k")
					}
					if errors.Is(err, quorum.ErrClosed) {
						closedSeen.Add(1)
						return
					}
				}
			})
		}
		time.Sleep(20 * time.Millisecond)
		require.NoError(t, c.Close())
		wg.Wait()
		assert.Equal(t, int64(8), closedSeen.Load(), "every loop saw ErrClosed")
	})
}
