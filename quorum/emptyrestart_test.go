package quorum_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
)

// TestEmptyRestartTolerance checks the package doc's durability claim for
// replicas restarted empty, over random N, W, R and write placements: with
// k < W+R-N replicas emptied, every acknowledged write (a record on W
// replicas) is read back by every read quorum tried; at or above the bound
// the search finds read quorums where it reads as ErrNotFound (never below
// it), so the doc's bound is where the loss starts, not just a safe one.
func TestEmptyRestartTolerance(t *testing.T) {
	ctx := context.Background()
	hidden := map[[4]int]bool{} // (N, W, R, k) shapes where a write was hidden
	for seed := range uint64(150) {
		rng := rand.New(rand.NewPCG(seed, 5))
		n := 3 + rng.IntN(3)
		w := 1 + rng.IntN(n)
		r := n - w + 1 + rng.IntN(w)
		k := rng.IntN(n)
		fs, reps := nFakes(n)
		// An acknowledged write: on exactly W replicas.
		perm := rng.Perm(n)
		for _, i := range perm[:w] {
			_, err := fs[i].mem.Put(ctx, "k", quorum.Record{Value: []byte("v"), Version: quorum.Version{Counter: 1, Writer: 1}})
			require.NoError(t, err)
		}
		// Empty k replicas, holders first (the worst case).
		for _, i := range perm[:k] {
			fs[i].mem.Reset()
		}
		// Every read quorum: a fresh client per read, R random replicas up.
		lostOne := false
		for range 6 {
			up := rng.Perm(n)[:r]
			for i, f := range fs {
				f.down.Store(true)
				for _, u := range up {
					if u == i {
						f.down.Store(false)
					}
				}
			}
			rc := newClient(t, reps, quorum.Config{W: w, R: r, Consistency: quorum.Quorum, Repair: quorum.RepairOff, Hedge: quorum.Hedge{Disabled: true}})
			got, err := rc.Get(ctx, "k")
			require.NoError(t, rc.Close())
			if k < w+r-n {
				require.NoError(t, err, "seed %d N=%d W=%d R=%d k=%d read %v", seed, n, w, r, k, up)
				require.Equal(t, "v", string(got))
			} else if err != nil {
				require.ErrorIs(t, err, quorum.ErrNotFound)
				lostOne = true
			}
		}
		for _, f := range fs {
			f.down.Store(false)
		}
		if lostOne {
			hidden[[4]int{n, w, r, k}] = true
		}
	}
	found := 0
	for shape := range hidden {
		require.GreaterOrEqual(t, shape[3], shape[1]+shape[2]-shape[0], "hidden below the bound: %v", shape)
		found++
	}
	require.NotZero(t, found, "the search found no hidden write at or above the bound")
	t.Log(fmt.Sprint(found, " shapes (N, W, R, k) hid an acknowledged write"))
}
