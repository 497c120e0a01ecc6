package quorum_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
	"github.com/bulwark-go/bulwark/quorum/memreplica"
	"github.com/bulwark-go/bulwark/quorum/quorumtest"
)

// sample is one read: when it started, how long it took, how it ended.
type sample struct {
	start time.Time
	d     time.Duration
	err   error
}

// readFor runs readers goroutines doing Gets of key until d has passed.
func readFor(c *quorum.Client, key string, readers int, d time.Duration) []sample {
	end := time.Now().Add(d)
	var mu sync.Mutex
	var out []sample
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() {
			var mine []sample
			for time.Now().Before(end) {
				s := sample{start: time.Now()}
				_, s.err = c.Get(context.Background(), key)
				s.d = time.Since(s.start)
				mine = append(mine, s)
			}
			mu.Lock()
			out = append(out, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

func p50(ss []sample) time.Duration {
	ds := make([]time.Duration, len(ss))
	for i, s := range ss {
		ds[i] = s.d
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// faultKinds are the ways the victim replica dies in the recovery tests.
var faultKinds = []string{"refused", "fails-after-100ms", "hangs"}

// TestDeadReplicaRecovery: one of three replicas dies — refuses at once,
// fails after 100 ms, or hangs until its context ends — at a random moment;
// the victim, the way it dies, hedging on or off, sequential or concurrent
// readers and the ReplicaTimeout are drawn from the seed. Every read must
// succeed; the reads started from 1 s after the failure must have a p50
// within 1.5× of the healthy p50 before it; and once the replica is back it
// must be read again (more Gets than probes alone make) within 3 s if it
// was read before. The victim is ranked by how much it was read while
// healthy, so the preferred replica dies in about two runs out of three.
// Fake time (synctest): every replica is 3–5 ms away (fewer reads per
// fake second than 1 ms replicas would make, for the same schedules).
func TestDeadReplicaRecovery(t *testing.T) {
	seeds := 16
	if testing.Short() {
		seeds = 6
	}
	for s := range seeds {
		seed := uint64(s + 1)
		rng := rand.New(rand.NewPCG(seed, 15))
		kind := faultKinds[rng.IntN(len(faultKinds))]
		if s < len(faultKinds) {
			kind = faultKinds[s] // every kind at least once
		}
		hedge := rng.IntN(2) == 0
		readers := []int{1, 4}[rng.IntN(2)]
		timeout := []time.Duration{100 * time.Millisecond, time.Second}[rng.IntN(2)]
		victimRank := rng.IntN(3) // by Gets while healthy: 0 the most read
		warm := time.Duration(300+rng.IntN(700)) * time.Millisecond
		name := fmt.Sprintf("seed=%d/%s/rank=%d/hedge=%v/readers=%d/timeout=%v", seed, kind, victimRank, hedge, readers, timeout)
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fs := make([]*quorumtest.Faulty, 3)
				reps := make([]quorum.Replica, 3)
				healthy := quorumtest.Faults{Latency: 3 * time.Millisecond, Jitter: 2 * time.Millisecond}
				for i := range fs {
					fs[i] = quorumtest.Wrap(memreplica.New(memreplica.Options{}), quorumtest.Options{Seed: seed*7 + uint64(i)})
					require.NoError(t, fs[i].SetFaults(healthy))
					reps[i] = fs[i]
				}
				c, err := quorum.New(reps, quorum.Config{ReplicaTimeout: timeout, Hedge: quorum.Hedge{Disabled: !hedge}})
				require.NoError(t, err)
				defer c.Close()
				require.NoError(t, c.Put(context.Background(), "k", []byte("v")))

				before := readFor(c, "k", readers, warm)
				base := p50(before)

				byUse := []*quorumtest.Faulty{fs[0], fs[1], fs[2]}
				slices.SortStableFunc(byUse, func(a, b *quorumtest.Faulty) int { return int(b.Stats().Gets - a.Stats().Gets) })
				f := byUse[victimRank]
				wasUsed := f.Stats().Gets > int64(len(before))/10
				failedAt := time.Now()
				switch kind {
				case "refused":
					f.SetDown(true)
				case "fails-after-100ms":
					require.NoError(t, f.SetFaults(quorumtest.Faults{Latency: 100 * time.Millisecond, ErrorP: 1}))
				case "hangs":
					f.Pause()
				}
				during := readFor(c, "k", readers, 2*time.Second)
				var late []sample
				for _, s := range during {
					require.NoError(t, s.err, "a read failed with two replicas alive")
					if !s.start.Before(failedAt.Add(time.Second)) {
						late = append(late, s)
					}
				}
				require.NotEmpty(t, late)
				assert.LessOrEqual(t, p50(late), base*3/2, "p50 from 1 s after the failure (healthy p50 %v)", base)

				switch kind {
				case "refused":
					f.SetDown(false)
				case "fails-after-100ms":
					require.NoError(t, f.SetFaults(healthy))
				case "hangs":
					f.Resume()
				}
				gets := f.Stats().Gets
				after := readFor(c, "k", readers, 3*time.Second)
				for _, s := range after {
					require.NoError(t, s.err)
				}
				// Probes alone make at most 6 Gets in 3 s (100 ms, doubling).
				// Once promoted, the replica has no latency samples and is
				// asked first for its next 32 calls; whether it then stays in
				// the read set depends on its latency against the others'.
				used := f.Stats().Gets - gets
				if wasUsed {
					assert.GreaterOrEqual(t, used, int64(20), "the replica is read again once back")
				}
				t.Logf("healthy p50 %v, p50 from 1 s after the failure %v (%d reads), %d Gets of the victim after it came back",
					base, p50(late), len(late), used)
			})
		})
	}
}

// TestHealthReporterShortCuts: a replica that reports itself unhealthy is
// never called, before any failure teaches the client anything.
func TestHealthReporterShortCuts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := make([]*quorumtest.Faulty, 3)
		reps := make([]quorum.Replica, 3)
		for i := range fs {
			fs[i] = quorumtest.Wrap(memreplica.New(memreplica.Options{}), quorumtest.Options{Seed: uint64(i), ReportHealth: true})
			reps[i] = fs[i]
		}
		c := newClient(t, reps, quorum.Config{})
		require.NoError(t, c.Put(context.Background(), "k", []byte("v")))
		synctest.Wait() // the Put's third copy may still be landing
		fs[0].SetDown(true)
		gets := fs[0].Stats()
		for range 100 {
			_, err := c.Get(context.Background(), "k")
			require.NoError(t, err)
		}
		assert.Equal(t, gets, fs[0].Stats(), "the unhealthy replica was not called")
	})
}
