package quorum_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
)

// hangRun is one hang of one replica of a tier's pair under writers, the
// hanging replica swallowing the calls it receives (they return only when
// their context ends, up to 3 × ReplicaTimeout after their write began).
type hangRun struct {
	tc       tierCase
	n        int
	writers  int
	timeout  time.Duration
	hang     time.Duration
	hung     int  // which replica of the pair hangs
	putsOnly bool // only its Puts hang; its Gets answer
	pause    time.Duration
}

// hangResult is what the writes met after the hang ended.
type hangResult struct {
	recovered  time.Duration // first write started after the end that succeeded, its start after the end
	relapses   int           // writes failed after a write had succeeded again
	firstLapse time.Duration // their first and last start after the end
	lastLapse  time.Duration
	lapseErr   error
	fastLapses int
	okAfter    int
}

func (r hangResult) String() string {
	return fmt.Sprintf("first success %v after the end; %d writes failed later (%d fast), from %v to %v after the end; first: %v",
		r.recovered, r.relapses, r.fastLapses, r.firstLapse, r.lastLapse, r.lapseErr)
}

// runHang runs h under fake time and reports the writes after the hang.
func runHang(t *testing.T, h hangRun) hangResult {
	var res hangResult
	synctest.Test(t, func(t *testing.T) {
		fs, reps := nFakes(h.n)
		for _, f := range fs {
			f.setDelay(time.Millisecond)
		}
		cfg := h.tc.cfg
		cfg.ReplicaTimeout = h.timeout
		c := newClient(t, reps, cfg)
		ctx := context.Background()
		var stop atomic.Bool
		var ended atomic.Int64 // unix ns when the hang ended
		var mu sync.Mutex
		okSeen := false
		var wg sync.WaitGroup
		for w := range h.writers {
			wg.Go(func() {
				for i := 0; !stop.Load(); i++ {
					t0 := time.Now()
					err := c.Put(ctx, "w"+strconv.Itoa(w)+"-"+strconv.Itoa(i), []byte("v"))
					if err != nil && errors.Is(err, quorum.ErrNotApplied) == errors.Is(err, quorum.ErrIndeterminate) {
						t.Errorf("not exactly one of ErrNotApplied and ErrIndeterminate: %v", err)
					}
					mu.Lock()
					if e := ended.Load(); e != 0 && t0.UnixNano() >= e {
						since := time.Duration(t0.UnixNano() - e)
						switch {
						case err == nil:
							if !okSeen {
								okSeen, res.recovered = true, since
							}
							res.okAfter++
						case okSeen:
							if res.relapses == 0 {
								res.firstLapse, res.lapseErr = since, err
							}
							res.relapses++
							res.lastLapse = since
							var qe *quorum.Error
							if errors.As(err, &qe) && qe.Fast {
								res.fastLapses++
							}
						}
					}
					mu.Unlock()
					time.Sleep(h.pause)
				}
			})
		}
		time.Sleep(time.Second)
		f := fs[h.hung]
		f.gatePutsOnly.Store(h.putsOnly)
		f.swallow.Store(true)
		f.block()
		time.Sleep(h.hang)
		ended.Store(time.Now().UnixNano())
		f.open()
		// Every call the hang swallowed has ended 3 × ReplicaTimeout after
		// the end; then 2 s more.
		time.Sleep(3*h.timeout + 2*time.Second)
		stop.Store(true)
		wg.Wait()
		require.NoError(t, c.Close())
	})
	return res
}

// TestTierStaleTimeoutDoesNotDemote is the third adversary review's
// repro: replica 0 hangs, swallowing the calls it receives, then answers
// again. A call it swallowed returns when its context ends, up to 3 ×
// ReplicaTimeout after its write began — seconds after the hang ended and
// the replica answered well again. Its timeout used to mark the replica
// hanging again, and every write needing it failed fast until the next
// probe or trial (15–31 writes, 3.7–9.6 s after the hang ended, past the
// ReplicaTimeout + 2 s bound doc.go states). An outcome of a call sent
// before the replica's last good answer (for Puts, its last good Put) now
// says nothing about it. One writer, a write every 7 ms, N = 2; fake time.
func TestTierStaleTimeoutDoesNotDemote(t *testing.T) {
	for _, row := range []struct {
		tier     int // in tierCases
		putsOnly bool
		timeout  time.Duration
		hang     time.Duration
	}{
		{3, true, 2 * time.Second, 6500 * time.Millisecond},  // DualBoth
		{0, true, 2 * time.Second, 6500 * time.Millisecond},  // MasterSlave
		{1, true, 2 * time.Second, 6500 * time.Millisecond},  // DualPrimary
		{3, false, 5 * time.Second, 5500 * time.Millisecond}, // DualBoth
		{0, false, 5 * time.Second, 5500 * time.Millisecond}, // MasterSlave
	} {
		h := hangRun{tc: tierCases[row.tier], n: 2, writers: 1, timeout: row.timeout, hang: row.hang, putsOnly: row.putsOnly, pause: 7 * time.Millisecond}
		t.Run(fmt.Sprintf("%s/putsonly=%v/timeout=%v/hang=%v", h.tc.name, h.putsOnly, h.timeout, h.hang), func(t *testing.T) {
			res := runHang(t, h)
			t.Log(res)
			assert.Positive(t, res.okAfter, "writes succeed after the hang")
			assert.LessOrEqual(t, res.recovered, h.timeout+2*time.Second, "writes succeed again within ReplicaTimeout + 2 s of the hang ending")
			assert.Zero(t, res.relapses, "writes fail after writes succeeded again")
		})
	}
}

// TestTierHangRecoveryGenerative: hangs of random length (0.3–7 s) of a
// random replica of a random tier's pair, whole or Puts only, the replica
// swallowing what it receives, under 1–4 writers, with a random
// ReplicaTimeout (50 ms–5 s); fake time. Once a write succeeds after the
// hang ended, no later write fails; and writes that need the replica
// succeed again within ReplicaTimeout + 2 s of the end.
func TestTierHangRecoveryGenerative(t *testing.T) {
	seeds := 6
	if !testing.Short() {
		seeds = 16
	}
	var worst time.Duration // recovery beyond ReplicaTimeout
	for s := range seeds {
		rng := rand.New(rand.NewPCG(uint64(s+1), 47))
		h := hangRun{
			tc:       tierCases[rng.IntN(len(tierCases))],
			n:        2 + rng.IntN(2),
			writers:  1 + rng.IntN(4),
			timeout:  time.Duration(50+rng.IntN(4951)) * time.Millisecond,
			hang:     time.Duration(300+rng.IntN(6701)) * time.Millisecond,
			hung:     rng.IntN(2),
			putsOnly: rng.IntN(2) == 0,
			pause:    time.Duration(1+rng.IntN(10)) * time.Millisecond,
		}
		t.Run(fmt.Sprintf("seed=%d/%s/n=%d/writers=%d/timeout=%v/hang=%v/hung=%d/putsonly=%v", s+1, h.tc.name, h.n, h.writers, h.timeout, h.hang, h.hung, h.putsOnly), func(t *testing.T) {
			res := runHang(t, h)
			t.Log(res)
			assert.Positive(t, res.okAfter, "writes succeed after the hang")
			assert.LessOrEqual(t, res.recovered, h.timeout+2*time.Second, "writes succeed again within ReplicaTimeout + 2 s of the hang ending")
			assert.Zero(t, res.relapses, "writes fail after writes succeeded again")
			if h.tc.needs(h.hung) {
				worst = max(worst, res.recovered-h.timeout)
			}
		})
	}
	t.Logf("slowest recovery of a write needing the replica: ReplicaTimeout + %v after the hang ended", worst)
}
