package quorum_test

import (
	"context"
	"errors"
	"flag"
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

// tierDraws is how many draws per tier TestTierHangingUnneededReplicaGenerative
// makes; raise it to search.
var tierDraws = flag.Int("quorum.tierdraws", 5, "draws per tier of TestTierHangingUnneededReplicaGenerative")

// TestMasterSlaveHangingSlaveDoesNotFillMaxInFlight: the slave of a
// MasterSlave tier hangs (its calls block until their context ends) while
// writers keep going. The asynchronous slave copy used to be sent whatever
// the slave's state, so the hanging slave filled MaxInFlight (1024 calls
// held) and most copies then failed "replica busy". A copy to a slave that
// hangs is now skipped and reported to AsyncWrite (a copy goes only while
// it holds fewer than 4 calls, and a suspect slave gets no version read),
// so the slave holds at most 4 calls plus one per writer once the hang is
// known (200 seeds: always 4), instead of filling MaxInFlight. Every write succeeds (the master
// acknowledges), and once the slave answers again it gets every writer's
// last write. N, writers, ReplicaTimeout, MaxInFlight and whether only the
// slave's Puts hang are drawn from the seed; fake time.
func TestMasterSlaveHangingSlaveDoesNotFillMaxInFlight(t *testing.T) {
	for s := range 24 {
		seed := uint64(s + 1)
		rng := rand.New(rand.NewPCG(seed, 31))
		n := 2 + rng.IntN(2)
		writers := 1 + rng.IntN(8)
		timeout := []time.Duration{100 * time.Millisecond, 300 * time.Millisecond}[rng.IntN(2)]
		maxInFlight := []int{0, 64}[rng.IntN(2)]
		putsOnly := rng.IntN(2) == 0
		name := fmt.Sprintf("seed=%d/n=%d/writers=%d/timeout=%v/maxinflight=%d/putsonly=%v", seed, n, writers, timeout, maxInFlight, putsOnly)
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fs, reps := nFakes(n)
				for _, f := range fs {
					f.setDelay(5 * time.Millisecond)
				}
				var skipped atomic.Int64
				c := newClient(t, reps, quorum.Config{Tier: quorum.MasterSlave, ReplicaTimeout: timeout, MaxInFlight: maxInFlight,
					Hooks: quorum.Hooks{AsyncWrite: func(i int, err error) {
						if errors.Is(err, quorum.ErrNotStored) {
							skipped.Add(1)
						}
					}}})
				ctx := context.Background()
				require.NoError(t, c.Put(ctx, "k0", []byte("v")))
				slave := fs[1]
				slave.gatePutsOnly.Store(putsOnly)
				slave.block()
				var stop atomic.Bool
				var writes atomic.Int64
				last := make([]quorum.Version, writers)
				var wg sync.WaitGroup
				for w := range writers {
					wg.Go(func() {
						for i := 0; !stop.Load(); i++ {
							v, err := c.PutVersion(ctx, "w"+strconv.Itoa(w), []byte(strconv.Itoa(i)))
							if err != nil {
								t.Errorf("writer %d: %v", w, err)
								return
							}
							last[w] = v
							writes.Add(1)
							time.Sleep(time.Millisecond)
						}
					})
				}
				time.Sleep(3*timeout + 100*time.Millisecond)
				// Calls held at the gate: with only Puts hanging, the
				// slave's version reads still answer.
				early := slave.maxHeld.Load()
				slave.maxHeld.Store(slave.held.Load())
				time.Sleep(3 * timeout)
				hung := slave.maxHeld.Load()
				slave.open()
				time.Sleep(4 * timeout)
				stop.Store(true)
				wg.Wait()
				require.NoError(t, c.Close())

				t.Logf("%d writes; slave calls held: at most %d before the first ended, %d after; %d copies reported not stored",
					writes.Load(), early, hung, skipped.Load())
				require.Positive(t, writes.Load())
				ops := int64(writers)
				// Once the hang is known: copies while it holds fewer
				// than 4 calls (3, plus one per writer that found it
				// below 4 at once), plus a probe.
				assert.LessOrEqual(t, hung, 4+ops, "calls held by the hanging slave once it is known to hang")
				// The ramp: 8 Puts with no progress for a hedge delay, plus
				// per writer what it sent in one hedge delay, plus a probe.
				assert.LessOrEqual(t, early, 8+3*ops+1, "calls held by the hanging slave before the hang is known")
				assert.Positive(t, skipped.Load(), "skipped copies are reported to AsyncWrite as not stored")
				for w := range writers {
					assert.Equal(t, last[w], slave.stored(t, "w"+strconv.Itoa(w)).Version, "writer %d: the slave back holds its last write", w)
				}
			})
		})
	}
}

// tierCase is a tier configuration under test, and what its writes need.
type tierCase struct {
	name string
	cfg  quorum.Config
	// needs reports whether a write cannot be acknowledged without
	// replica i of the pair.
	needs func(i int) bool
	// holds reports whether an acknowledged write must be on replica r0
	// and r1 as the tier's contract says (the records they hold for it).
	holds func(r0, r1 quorum.Record) bool
}

var tierCases = []tierCase{
	{"MasterSlave", quorum.Config{Tier: quorum.MasterSlave},
		func(i int) bool { return i == 0 },
		func(r0, _ quorum.Record) bool { return !r0.Version.IsZero() }},
	{"DualPrimary", quorum.Config{Tier: quorum.DualWrite, DualWrite: quorum.DualPrimary},
		func(i int) bool { return i == 0 },
		func(r0, _ quorum.Record) bool { return !r0.Version.IsZero() }},
	{"DualEither", quorum.Config{Tier: quorum.DualWrite, DualWrite: quorum.DualEither},
		func(int) bool { return false },
		func(r0, r1 quorum.Record) bool { return !r0.Version.IsZero() || !r1.Version.IsZero() }},
	{"DualBoth", quorum.Config{Tier: quorum.DualWrite, DualWrite: quorum.DualBoth},
		func(int) bool { return true },
		func(r0, r1 quorum.Record) bool { return !r0.Version.IsZero() && !r1.Version.IsZero() }},
}

// TestTierHangingReplicaFailsFast: one replica of a tier's pair hangs (its
// calls block until their context ends; with putsOnly only its Puts) while
// writers keep going. When the tier's writes need that replica (the master
// under MasterSlave, the primary under DualPrimary, either under
// DualBoth), every write used to wait ReplicaTimeout and then fail, for as
// long as the hang lasted. Such writes must fail; once the replica is
// known to hang they now fail at once (Fast, ErrNotApplied) without
// calling it, background probes (and Put trials) find it back, and writes
// succeed again soon after it answers. When they do not need it (the
// secondary under DualPrimary, either under DualEither), they keep
// succeeding on the other. The reviewer's case (8 writers, 10 s, N = 2
// and 3) first, then N, writers, delays, ReplicaTimeout, which replica
// hangs and putsOnly drawn from the seed; fake time.
func TestTierHangingReplicaFailsFast(t *testing.T) {
	for _, tc := range tierCases {
		seeds := 6 // 100 a tier pass (17 s without -race)
		if tc.name == "DualBoth" {
			seeds = 12
		}
		for s := range seeds {
			seed := uint64(s + 1)
			rng := rand.New(rand.NewPCG(seed, 41))
			hang := 10 * time.Second
			n := 2 + s%2
			writers := 8
			reviewer := s < 2 || tc.name == "DualBoth" && s < 4
			if !reviewer {
				hang = 3 * time.Second
				writers = 1 + rng.IntN(8)
			}
			timeout := []time.Duration{100 * time.Millisecond, 300 * time.Millisecond, time.Second}[rng.IntN(3)]
			delay := time.Duration(1+rng.IntN(5)) * time.Millisecond
			hung := rng.IntN(2)
			switch {
			case tc.name == "DualBoth" && reviewer:
				hung = 1 - s/2 // the secondary, then the primary
			case reviewer && tc.needs(0):
				hung = 0 // the master, the primary
			}
			putsOnly := !reviewer && rng.IntN(2) == 0
			name := fmt.Sprintf("%s/seed=%d/n=%d/writers=%d/hang=%v/timeout=%v/delay=%v/hung=%d/putsonly=%v", tc.name, seed, n, writers, hang, timeout, delay, hung, putsOnly)
			t.Run(name, func(t *testing.T) {
				testHangingReplica(t, tc, n, writers, hang, timeout, delay, hung, putsOnly)
			})
		}
	}
}

func testHangingReplica(t *testing.T, tc tierCase, n, writers int, hang, timeout, delay time.Duration, hung int, putsOnly bool) {
	synctest.Test(t, func(t *testing.T) {
		fs, reps := nFakes(n)
		for _, f := range fs {
			f.setDelay(delay)
		}
		cfg := tc.cfg
		cfg.ReplicaTimeout = timeout
		c := newClient(t, reps, cfg)
		ctx := context.Background()
		require.NoError(t, c.Put(ctx, "k0", []byte("v")))
		h := fs[hung]
		h.gatePutsOnly.Store(putsOnly)
		start := time.Now()
		h.block()
		var stop atomic.Bool
		var opened atomic.Int64 // unix ns when the hang ended
		var mu sync.Mutex
		var writes, slow, failed, fast, late, okAfter int
		var lastSlow, recovered time.Duration
		last := make([]quorum.Version, writers)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := 0; !stop.Load(); i++ {
					t0 := time.Now()
					v, err := c.PutVersion(ctx, "w"+strconv.Itoa(w), []byte(strconv.Itoa(i)))
					d := time.Since(t0)
					mu.Lock()
					writes++
					if d > 100*time.Millisecond {
						slow++
						lastSlow = t0.Sub(start)
					}
					if err != nil {
						failed++
						notApplied := errors.Is(err, quorum.ErrNotApplied)
						if !errors.Is(err, quorum.ErrNoQuorum) || notApplied == errors.Is(err, quorum.ErrIndeterminate) {
							t.Errorf("not ErrNoQuorum and exactly one of ErrNotApplied and ErrIndeterminate: %v", err)
						}
						var qe *quorum.Error
						if errors.As(err, &qe) && qe.Fast {
							fast++
							if !notApplied {
								t.Errorf("a fast failure is not ErrNotApplied: %v", err)
							}
						}
					} else {
						last[w] = v
						if o := opened.Load(); o != 0 && recovered == 0 {
							recovered = time.Duration(time.Now().UnixNano() - o)
						}
					}
					// Writes started well after the hang ended.
					if o := opened.Load(); o != 0 && t0.UnixNano() > o+int64(timeout+2500*time.Millisecond) {
						if err != nil {
							late++
						} else {
							okAfter++
						}
					}
					mu.Unlock()
					time.Sleep(2 * time.Millisecond)
				}
			})
		}
		// The ramp: the writes that met the hang before it was known; a
		// write's calls end at most 3 × ReplicaTimeout after it started.
		time.Sleep(3*timeout + 50*time.Millisecond)
		early := h.maxHeld.Load()
		h.maxHeld.Store(h.held.Load())
		time.Sleep(hang - 3*timeout - 50*time.Millisecond)
		held := h.maxHeld.Load()
		opened.Store(time.Now().UnixNano())
		h.open()
		time.Sleep(timeout + 4*time.Second)
		stop.Store(true)
		wg.Wait()
		require.NoError(t, c.Close())

		t.Logf("%d writes, %d took >100ms (last at %v), %d failed (%d fast); hanging replica held at most %d calls in the first 3 × ReplicaTimeout, %d after; after the hang: first success after %v, %d ok, %d failed",
			writes, slow, lastSlow, failed, fast, early, held, recovered, okAfter, late)
		// One write per writer meets the hang before it is known; with
		// only Puts hanging, probes (Gets) find the replica answering, and
		// a trial write at most every probeMax (after 100, 200, 400, 800
		// ms) waits for it again.
		bound := writers + 2
		if putsOnly && tc.needs(hung) {
			bound += int(hang/time.Second) + 5
		}
		assert.LessOrEqual(t, slow, bound, "writes that waited for the hanging replica")
		// Before the hang is known: per writer its version read and its
		// record, plus a probe (a write that needs the replica waits for
		// it; one that does not still waits for its version read, until
		// the replica is suspect and left out). Then 4 plus one per
		// writer. Within the first 3 × ReplicaTimeout, a hanging
		// MasterSlave slave also gets copies while it holds fewer than 4
		// calls (4 plus one per writer, as later); and a replica the
		// writes can do without whose Puts alone hang answers its reads,
		// so its Puts pile up until the Put-stall rule finds them (see
		// putStallBound).
		earlyBound := int64(2*writers + 1)
		switch {
		case putsOnly && !tc.needs(hung):
			earlyBound = putStallBound(writers, delay)
		case tc.name == "MasterSlave" && hung == 1:
			earlyBound = int64(max(2*writers+1, 4+writers))
		}
		assert.LessOrEqual(t, early, earlyBound, "calls held by the hanging replica before the hang is known")
		assert.LessOrEqual(t, held, int64(4+writers), "calls held by the hanging replica once it is known to hang")
		assert.Positive(t, okAfter, "writes succeed once the replica answers")
		assert.Zero(t, late, "writes fail after the replica answers again")
		if !tc.needs(hung) {
			assert.Zero(t, failed, "writes that do not need the hanging replica fail")
			for w := range writers {
				assert.Equal(t, last[w], fs[1-hung].stored(t, "w"+strconv.Itoa(w)).Version, "writer %d: the other replica holds its last acknowledged write", w)
			}
			return
		}
		assert.Positive(t, fast)
		assert.LessOrEqual(t, recovered, timeout+2*time.Second, "writes succeed again soon after the hang ends")
		for w := range writers {
			if !last[w].IsZero() {
				assert.Equal(t, last[w], h.stored(t, "w"+strconv.Itoa(w)).Version, "writer %d: the replica holds its last acknowledged write", w)
			}
		}
	})
}

// putStallBound is how many calls a replica of the pair the writes can do
// without holds before the hang of its Puts alone is known, in
// testHangingReplica: the Put-stall rule (Client.stall) lets Puts through
// until 4 are in flight, then for a suspect delay while fewer than 8 are,
// and for a hedge delay whatever their number — so at most 7, or 3 plus
// the Puts sent within one hedge delay if more — plus one per writer that
// checked at the same moment, plus a probe. A writer sends one Put per
// write, and a write takes at least a version read, a record (each one
// call of delay) and the writer's 2 ms pause; the hedge delay is the
// initial 5 ms until the replica has 32 latency samples, then 3 × its
// median, which the histogram rounds up by at most a quarter.
func putStallBound(writers int, delay time.Duration) int64 {
	hedgeDelay := max(quorum.DefaultHedgeInitialDelay, 3*delay*5/4)
	perWriter := int(hedgeDelay/(2*delay+2*time.Millisecond)) + 1
	return int64(max(7, 3+perWriter*writers) + writers + 1)
}

// TestTierHangingUnneededReplicaGenerative: the cases of
// TestTierHangingReplicaFailsFast where the writes can do without the
// hanging replica (MasterSlave's slave, DualPrimary's secondary, either
// under DualEither), where writers keep writing at full speed while the
// hang is not yet known, so what the replica holds depends on the
// mechanism that finds it (a suspect replica gets no version read; the
// Put-stall rule), not on writers waiting for it. N, writers, the hang,
// ReplicaTimeout, the replicas' delay, which replica hangs and putsOnly
// are drawn from the seed; fake time. CI runs tierDraws draws per tier;
// 120 per tier pass (go test -run Unneeded -quorum.tierdraws=120).
func TestTierHangingUnneededReplicaGenerative(t *testing.T) {
	for _, tc := range tierCases {
		if tc.needs(0) && tc.needs(1) {
			continue // DualBoth needs both
		}
		for s := range *tierDraws {
			seed := uint64(s + 1)
			rng := rand.New(rand.NewPCG(seed, 47))
			hung := 1
			if !tc.needs(0) {
				hung = rng.IntN(2)
			}
			n := 2 + rng.IntN(2)
			writers := 1 + rng.IntN(8)
			timeout := []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 300 * time.Millisecond, time.Second}[rng.IntN(4)]
			delay := time.Duration(1+rng.IntN(5)) * time.Millisecond
			hang := 3*timeout + time.Duration(100+rng.IntN(1500))*time.Millisecond
			putsOnly := rng.IntN(2) == 0
			name := fmt.Sprintf("%s/seed=%d/n=%d/writers=%d/hang=%v/timeout=%v/delay=%v/hung=%d/putsonly=%v", tc.name, seed, n, writers, hang, timeout, delay, hung, putsOnly)
			t.Run(name, func(t *testing.T) {
				testHangingReplica(t, tc, n, writers, hang, timeout, delay, hung, putsOnly)
			})
		}
	}
}

// TestTierFaultSchedule: random fault schedules on the pair of each tier
// (replicas hanging, hanging on Puts only, refusing, slow, back to normal,
// switching every 20-500 ms) under concurrent writers of distinct keys;
// fake time. With the fast failures of a hanging replica: every
// acknowledged write is where the tier's contract says (the master, the
// primary, either, both), every write that failed as ErrNotApplied (a fast
// one always does) is on neither, every failure matches exactly one of
// ErrNotApplied and ErrIndeterminate, and writes succeed again once the
// faults end. (Under DualBoth, two replicas with hanging Puts used to
// spend each other's trial writes, so writes never came back.)
func TestTierFaultSchedule(t *testing.T) {
	for _, tc := range tierCases {
		seeds := 5
		if tc.name == "DualBoth" {
			seeds = 10 // 200 seeds pass too (20 s without -race)
		}
		for s := range seeds {
			seed := uint64(s + 1)
			rng := rand.New(rand.NewPCG(seed, 43))
			n := 2 + rng.IntN(2)
			writers := 1 + rng.IntN(6)
			timeout := []time.Duration{50 * time.Millisecond, 200 * time.Millisecond, time.Second}[rng.IntN(3)]
			t.Run(fmt.Sprintf("%s/seed=%d/n=%d/writers=%d/timeout=%v", tc.name, seed, n, writers, timeout), func(t *testing.T) {
				testFaultSchedule(t, tc, rng, seed, n, writers, timeout)
			})
		}
	}
}

func testFaultSchedule(t *testing.T, tc tierCase, rng *rand.Rand, seed uint64, n, writers int, timeout time.Duration) {
	synctest.Test(t, func(t *testing.T) {
		fs, reps := nFakes(n)
		for _, f := range fs {
			f.setDelay(time.Millisecond)
		}
		cfg := tc.cfg
		cfg.ReplicaTimeout = timeout
		c := newClient(t, reps, cfg)
		ctx := context.Background()
		var stop, calm atomic.Bool
		type outcome struct {
			key            string
			acked, applied bool
			fast           bool
		}
		var mu sync.Mutex
		var outs []outcome
		var calmOK int
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				wr := rand.New(rand.NewPCG(seed, uint64(w)))
				for i := 0; !stop.Load(); i++ {
					key := fmt.Sprintf("w%d-%d", w, i)
					wasCalm := calm.Load()
					err := c.Put(ctx, key, []byte("v"))
					o := outcome{key: key, acked: err == nil}
					if err != nil {
						notApplied := errors.Is(err, quorum.ErrNotApplied)
						if notApplied == errors.Is(err, quorum.ErrIndeterminate) {
							t.Errorf("%s: not exactly one of ErrNotApplied and ErrIndeterminate: %v", key, err)
						}
						o.applied = !notApplied
						var qe *quorum.Error
						o.fast = errors.As(err, &qe) && qe.Fast
						if o.fast && !notApplied {
							t.Errorf("%s: a fast failure is not ErrNotApplied: %v", key, err)
						}
					}
					mu.Lock()
					outs = append(outs, o)
					if wasCalm && o.acked {
						calmOK++
					}
					mu.Unlock()
					time.Sleep(time.Duration(1+wr.IntN(3)) * time.Millisecond)
				}
			})
		}
		// The fault schedule, on replicas 0 and 1.
		for range 10 + rng.IntN(20) {
			f := fs[rng.IntN(2)]
			f.open()
			f.down.Store(false)
			f.setDelay(time.Millisecond)
			switch rng.IntN(5) {
			case 0:
				f.gatePutsOnly.Store(false)
				f.block()
			case 1:
				f.gatePutsOnly.Store(true)
				f.block()
			case 2:
				f.down.Store(true)
			case 3:
				f.setDelay(time.Duration(5+rng.IntN(50)) * time.Millisecond)
			}
			time.Sleep(time.Duration(20+rng.IntN(480)) * time.Millisecond)
		}
		for _, f := range fs {
			f.open()
			f.down.Store(false)
			f.setDelay(time.Millisecond)
		}
		// Probes and trials find the replicas back within ReplicaTimeout
		// + 2 s (a hung probe or trial, then the next).
		time.Sleep(timeout + 2*time.Second)
		calm.Store(true)
		time.Sleep(time.Second)
		stop.Store(true)
		wg.Wait()
		require.NoError(t, c.Close())

		var acked, notApplied, indeterminate, fast int
		for _, o := range outs {
			r0, r1 := fs[0].stored(t, o.key), fs[1].stored(t, o.key)
			switch {
			case o.acked:
				acked++
				if !tc.holds(r0, r1) {
					t.Errorf("%s acknowledged but not where %s says (%v, %v)", o.key, tc.name, r0.Version, r1.Version)
				}
			case !o.applied:
				notApplied++
				if o.fast {
					fast++
				}
				if !r0.Version.IsZero() || !r1.Version.IsZero() {
					t.Errorf("%s failed as not applied (fast %v) but stored (%v, %v)", o.key, o.fast, r0.Version, r1.Version)
				}
			default:
				indeterminate++
			}
		}
		t.Logf("%d writes: %d acknowledged, %d not applied (%d fast), %d indeterminate; %d acknowledged after the faults ended",
			len(outs), acked, notApplied, fast, indeterminate, calmOK)
		assert.Positive(t, calmOK, "writes succeed once the faults end")
	})
}
