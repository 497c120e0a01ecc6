package quorum_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
)

// TestTiersSurviveEmptyRestart: over two replicas, one of which (random per
// seed) repeatedly restarts empty, random writes through MasterSlave and
// the three DualWrite policies and random reads through all four lose no
// acknowledged write, never go backwards, and no slave copy is refused.
// Before the fix a MasterSlave write after the master's empty restart read
// the master's version alone: the slave refused the record as older, Put
// returned nil and AsyncWrite reported nil; and DualBoth / DualPrimary /
// MasterSlave reads returned ErrNotFound from the empty primary.
func TestTiersSurviveEmptyRestart(t *testing.T) {
	for seed := range uint64(60) {
		synctest.Test(t, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 3))
			ctx := context.Background()
			fs, reps := nFakes(2)
			lost := rng.IntN(2) // the replica that restarts empty
			var asyncMu sync.Mutex
			var asyncErrs []error
			hooks := quorum.Hooks{AsyncWrite: func(_ int, err error) {
				if err != nil {
					asyncMu.Lock()
					asyncErrs = append(asyncErrs, err)
					asyncMu.Unlock()
				}
			}}
			var clients []quorum.Caller
			var names []string
			for _, cfg := range []quorum.Config{
				{Tier: quorum.MasterSlave},
				{Tier: quorum.DualWrite, DualWrite: quorum.DualBoth},
				{Tier: quorum.DualWrite, DualWrite: quorum.DualPrimary},
				{Tier: quorum.DualWrite, DualWrite: quorum.DualEither},
			} {
				cfg.ClientID = rng.Uint64() | 1
				cfg.Hooks = hooks
				c, err := quorum.New(reps, cfg)
				require.NoError(t, err)
				defer c.Close()
				clients = append(clients, c.With(quorum.Call{}))
				names = append(names, fmt.Sprint(cfg.Tier, "/", cfg.DualWrite))
			}
			last := map[string]string{}
			lastV := map[string]quorum.Version{}
			for op := range 150 {
				key := fmt.Sprint("k", rng.IntN(5))
				ci := rng.IntN(len(clients))
				switch r := rng.IntN(20); {
				case r < 3:
					fs[lost].mem.Reset()
				case r < 12:
					val := fmt.Sprint("v", op)
					v, err := clients[ci].PutVersion(ctx, key, []byte(val))
					require.NoError(t, err, "seed %d op %d %s", seed, op, names[ci])
					require.True(t, v.Newer(lastV[key]), "seed %d op %d %s: acknowledged %v not above the earlier %v", seed, op, names[ci], v, lastV[key])
					last[key], lastV[key] = val, v
					synctest.Wait() // a slave copy lands (the documented window closes)
				default:
					got, err := clients[ci].Get(ctx, key)
					if want, ok := last[key]; ok {
						require.NoError(t, err, "seed %d op %d %s: %s acknowledged as %q", seed, op, names[ci], key, want)
						require.Equal(t, want, string(got), "seed %d op %d %s", seed, op, names[ci])
					} else {
						require.ErrorIs(t, err, quorum.ErrNotFound)
					}
				}
			}
			asyncMu.Lock()
			defer asyncMu.Unlock()
			assert.Empty(t, asyncErrs, "seed %d: slave copies refused", seed)
		})
	}
}

// TestMixedTiersNeverGoBackwards: N 3..5 replicas, random W and R, several
// clients (random ids) writing one key space through random tiers per call
// while random replicas go down and up (no data lost). Every acknowledged
// write's version is above every QuorumTier write acknowledged before it
// (the adversary's case: a MasterSlave write after a completed QuorumTier
// write was ordered below it); while replicas 0 and 1 stay up, every
// MasterSlave / DualWrite write is above every earlier one; and at the end
// the replicas hold, for every key, the newest acknowledged write or a later
// one. What mixing does not give (a QuorumTier write may be ordered below a
// tier write that is not on W replicas; reads through one tier may miss a
// write acknowledged through another) is stated in the package doc.
func TestMixedTiersNeverGoBackwards(t *testing.T) {
	tiers := []quorum.Tier{quorum.QuorumTier, quorum.MasterSlave, quorum.DualWrite}
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 4))
		ctx := context.Background()
		n := 3 + rng.IntN(3)
		w := 1 + rng.IntN(n)
		r := n - w + 1 + rng.IntN(w)
		fs, reps := nFakes(n)
		var clients []*quorum.Client
		for range 1 + rng.IntN(3) {
			c := newClient(t, reps, quorum.Config{
				W: w, R: r, ClientID: rng.Uint64() | 1,
				DualWrite: quorum.DualPolicy(1 + rng.IntN(3)),
			})
			clients = append(clients, c)
		}
		pairStable := rng.IntN(2) == 0       // only replicas 2.. go down
		lastQ := map[string]quorum.Version{} // newest acknowledged QuorumTier write
		lastT := map[string]quorum.Version{} // newest acknowledged tier write
		maxV := map[string]quorum.Version{}  // newest acknowledged write
		for op := range 200 {
			if rng.IntN(6) == 0 {
				i := rng.IntN(n)
				if pairStable {
					i = 2 + rng.IntN(n-2)
				}
				fs[i].down.Store(!fs[i].down.Load())
			}
			key := fmt.Sprint("k", rng.IntN(4))
			tier := tiers[rng.IntN(len(tiers))]
			c := clients[rng.IntN(len(clients))].With(quorum.Call{Tier: tier})
			if rng.IntN(3) == 0 {
				_, _ = c.Get(ctx, key)
				continue
			}
			v, err := c.PutVersion(ctx, key, []byte(fmt.Sprint(op)))
			if err != nil {
				require.True(t, errors.Is(err, quorum.ErrNotApplied) != errors.Is(err, quorum.ErrIndeterminate), "seed %d op %d: %v", seed, op, err)
				continue
			}
			require.True(t, v.Newer(lastQ[key]), "seed %d op %d %v (N=%d W=%d R=%d): acknowledged %v not above the earlier QuorumTier write %v", seed, op, tier, n, w, r, v, lastQ[key])
			if tier == quorum.QuorumTier {
				lastQ[key] = v
			} else {
				if pairStable {
					require.True(t, v.Newer(lastT[key]), "seed %d op %d %v (N=%d W=%d R=%d): acknowledged %v not above the earlier tier write %v", seed, op, tier, n, w, r, v, lastT[key])
				}
				lastT[key] = v
			}
			if v.Newer(maxV[key]) {
				maxV[key] = v
			}
		}
		for _, c := range clients {
			require.NoError(t, c.Close()) // every copy in flight has landed
		}
		for key, v := range maxV {
			var hi quorum.Version
			for _, f := range fs {
				if sv := f.stored(t, key).Version; sv.Newer(hi) {
					hi = sv
				}
			}
			assert.False(t, v.Newer(hi), "seed %d: %s acknowledged at %v, replicas hold at most %v", seed, key, v, hi)
		}
	}
}
