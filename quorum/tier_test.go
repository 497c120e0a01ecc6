package quorum_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
)

// TestMasterSlaveLossWindow measures the tier's loss window in fake time: a
// write is acknowledged once the master stored it; the slave copy lands one
// slave latency later. Losing the master at time T loses exactly the writes
// acknowledged in (T - slave latency, T].
func TestMasterSlaveLossWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			masterLat = time.Millisecond
			slaveLat  = 20 * time.Millisecond
			writes    = 100
		)
		fs, reps := nFakes(2)
		fs[0].setDelay(masterLat)
		fs[1].setDelay(slaveLat)
		var asyncOK atomic.Int64
		c, err := quorum.New(reps, quorum.Config{Tier: quorum.MasterSlave, Hooks: quorum.Hooks{
			AsyncWrite: func(replica int, err error) {
				if replica == 1 && err == nil {
					asyncOK.Add(1)
				}
			},
		}})
		require.NoError(t, err)
		defer c.Close()
		ctx := context.Background()
		acked := make([]time.Time, writes)
		for i := range writes {
			require.NoError(t, c.Put(ctx, fmt.Sprint("k", i), []byte("v")))
			acked[i] = time.Now()
		}
		synctest.Wait()
		lossAt := time.Now() // the master is lost now
		lost := 0
		for i := range writes {
			onSlave := !fs[1].stored(t, fmt.Sprint("k", i)).Version.IsZero()
			inWindow := acked[i].After(lossAt.Add(-slaveLat))
			assert.Equal(t, !inWindow, onSlave, "write %d acked %v before the loss", i, lossAt.Sub(acked[i]))
			if !onSlave {
				lost++
			}
		}
		// Each write takes a version read of both replicas (slaveLat) and
		// a master write (masterLat), so the window holds
		// ceil(slaveLat / (slaveLat + masterLat)) writes.
		per := slaveLat + masterLat
		assert.Equal(t, int((slaveLat+per-1)/per), lost)
		t.Logf("master-slave: losing the master loses %d acknowledged writes (the last %v)", lost, slaveLat)

		// Reads fall back to the slave when the master fails.
		fs[0].down.Store(true)
		got, err := c.Get(ctx, "k0")
		require.NoError(t, err)
		assert.Equal(t, "v", string(got))
		// Writes need the master.
		err = c.Put(ctx, "k", []byte("v"))
		require.ErrorIs(t, err, quorum.ErrNotApplied)

		require.NoError(t, c.Close()) // waits for the slave copies
		assert.Equal(t, int64(writes), asyncOK.Load())
		for i := range writes {
			assert.False(t, fs[1].stored(t, fmt.Sprint("k", i)).Version.IsZero(), "after Close the window is closed")
		}
	})
}

// TestDualWriteLossWindow: per policy, which acknowledged writes are lost
// when one replica is lost after the other was out for a while.
func TestDualWriteLossWindow(t *testing.T) {
	const writes, outFrom, outTo = 30, 10, 20 // secondary out for writes [10, 20)
	tests := []struct {
		policy     quorum.DualPolicy
		ackedInOut bool // writes during the secondary's outage are acknowledged
		lostOnLoss int  // acknowledged writes lost when the primary is then lost
	}{
		{quorum.DualBoth, false, 0},
		{quorum.DualEither, true, outTo - outFrom},
		{quorum.DualPrimary, true, outTo - outFrom},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.policy), func(t *testing.T) {
			fs, reps := nFakes(2)
			ctx := context.Background()
			var acked []int
			// Three segments: up, secondary out, up. Each ends with Close so
			// that no secondary copy is in flight when the outage starts or
			// ends (an in-flight copy would join the loss window).
			for _, seg := range [][2]int{{0, outFrom}, {outFrom, outTo}, {outTo, writes}} {
				c, err := quorum.New(reps, quorum.Config{Tier: quorum.DualWrite, DualWrite: tt.policy})
				require.NoError(t, err)
				fs[1].down.Store(seg[0] == outFrom)
				for i := seg[0]; i < seg[1]; i++ {
					err := c.Put(ctx, fmt.Sprint("k", i), []byte("v"))
					if seg[0] == outFrom && !tt.ackedInOut {
						require.ErrorIs(t, err, quorum.ErrNotApplied, "the secondary's version read failed first")
						continue
					}
					require.NoError(t, err)
					acked = append(acked, i)
				}
				require.NoError(t, c.Close())
			}
			fs[1].down.Store(false)
			c := newClient(t, reps, quorum.Config{Tier: quorum.DualWrite, DualWrite: tt.policy})
			fs[0].down.Store(true) // the primary is lost
			lost := 0
			for _, i := range acked {
				if _, err := c.Get(ctx, fmt.Sprint("k", i)); err != nil {
					require.ErrorIs(t, err, quorum.ErrNotFound)
					lost++
				}
			}
			assert.Equal(t, tt.lostOnLoss, lost)
			t.Logf("dual-write %v: losing the primary after a %d-write secondary outage loses %d acknowledged writes", tt.policy, outTo-outFrom, lost)
		})
	}
	t.Run("either reads the newer copy", func(t *testing.T) {
		fs, reps := nFakes(2)
		c := newClient(t, reps, quorum.Config{Tier: quorum.DualWrite, DualWrite: quorum.DualEither})
		ctx := context.Background()
		require.NoError(t, c.Put(ctx, "k", []byte("old")))
		fs[0].down.Store(true)
		require.NoError(t, c.Put(ctx, "k", []byte("new")))
		fs[0].down.Store(false)
		got, err := c.Get(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, "new", string(got), "the secondary's newer record wins")
	})
	t.Run("primary policy needs the primary", func(t *testing.T) {
		fs, reps := nFakes(2)
		c := newClient(t, reps, quorum.Config{Tier: quorum.DualWrite, DualWrite: quorum.DualPrimary})
		fs[0].down.Store(true)
		err := c.Put(context.Background(), "k", []byte("v"))
		require.ErrorIs(t, err, quorum.ErrNoQuorum)
	})
}
