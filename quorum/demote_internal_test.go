package quorum

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDemoteInterleavings: a stale failure A (a Put sent at t0 that timed
// out), a good Put B that ended at t1 > t0, and a genuine failure C (a Put
// sent after t1 that timed out), in the orders that matter, also B
// between A's looks at the good answers' ends and its marks (markFailed,
// markPutHang), which the take-backs are for. Without
// C the replica ends up and its Puts not hanging; with C, demoted with its
// Puts hanging.
func TestDemoteInterleavings(t *testing.T) {
	c, err := New([]Replica{gated{}, gated{}}, Config{ReplicaTimeout: time.Second})
	require.NoError(t, err)
	defer c.Close()
	rs := &c.replicas[0]
	base := time.Now()
	for k, tc := range []struct {
		name    string
		genuine bool
		steps   []string
	}{
		{"A then B", false, []string{"A", "B"}},
		{"B then A", false, []string{"B", "A"}},
		{"A looks, B, A marks", false, []string{"A-marks-after-B"}},
		{"A looks, B, A marks, C", true, []string{"A-marks-after-B", "C"}},
		{"A, B, C", true, []string{"A", "B", "C"}},
		{"B, C, A", true, []string{"B", "C", "A"}},
	} {
		t0 := base.Add(time.Duration(k) * 10 * time.Second)
		t1 := t0.Add(time.Millisecond)
		rs.cond.state.Store(condUp)
		rs.cond.putHang.Store(false)
		a := func() { rs.demote(t0, t0.Add(3*time.Second), true, true) }
		b := func() { c.noteOutcome(rs, nil, t1.Add(-time.Microsecond), time.Microsecond, t1, true, false) }
		cc := func() { rs.demote(t1.Add(time.Millisecond), t1.Add(time.Second), true, true) }
		for _, step := range tc.steps {
			switch step {
			case "A":
				a()
			case "B":
				b()
			case "C":
				cc()
			case "A-marks-after-B":
				rs.cond.demoting.Lock()
				b()
				rs.markPutHang(t0.UnixNano(), t0.Add(3*time.Second))
				rs.markFailed(t0.UnixNano(), t0.Add(3*time.Second), true)
				rs.cond.demoting.Unlock()
			}
		}
		now := t1.Add(time.Second)
		require.Equal(t, tc.genuine, rs.cond.isFailed(), tc.name)
		require.Equal(t, tc.genuine, rs.cond.putHang.Load(), tc.name)
		require.Equal(t, tc.genuine, c.hangs(0, now), tc.name)
	}
}

// TestDemoteRace: a stale failure (a Put sent at t0 that timed out) races
// with a good Put that ended at t1 > t0, and in half the rounds with a
// genuine failure too (a Put sent after t1 that timed out, which runs
// after the good answer, as it does in time). Whatever the interleaving:
// without the genuine failure the replica ends up and its Puts not
// hanging; with it, demoted and its Puts hanging. Run with -race.
func TestDemoteRace(t *testing.T) {
	c, err := New([]Replica{gated{}, gated{}}, Config{ReplicaTimeout: time.Second})
	require.NoError(t, err)
	defer c.Close()
	rs := &c.replicas[0]
	base := time.Now().Add(time.Hour)
	for round := range 2000 {
		t0 := base.Add(time.Duration(round) * 10 * time.Second)
		t1 := t0.Add(time.Millisecond)
		rs.cond.state.Store(condUp)
		rs.cond.putHang.Store(false)
		genuine := round%2 == 1
		var wg sync.WaitGroup
		wg.Go(func() { rs.demote(t0, t0.Add(3*time.Second), true, true) })
		wg.Go(func() {
			c.noteOutcome(rs, nil, t1.Add(-time.Microsecond), time.Microsecond, t1, true, false)
			if genuine {
				rs.demote(t1.Add(time.Millisecond), t1.Add(time.Second), true, true)
			}
		})
		wg.Wait()
		if genuine {
			require.True(t, rs.cond.isFailed(), "round %d: a call sent after the good answer timed out", round)
			require.True(t, rs.cond.putHang.Load(), "round %d", round)
			require.True(t, c.hangs(0, t1.Add(time.Second)), "round %d", round)
		} else {
			require.False(t, rs.cond.isDown(), "round %d: demoted by a call sent before the good answer", round)
			require.False(t, rs.cond.putHang.Load(), "round %d", round)
			require.False(t, c.hangs(0, t1.Add(time.Second)), "round %d", round)
		}
	}
}
