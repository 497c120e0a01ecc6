package breaker

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestKeyIndexGenerative checks the Group's lock-free key index against a
// map through random inserts and removals, with hashes drawn from a small
// range so that keys collide and probe chains run long: every lookup agrees
// with the map, and the table always keeps an empty slot (a probe ends).
func TestKeyIndexGenerative(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 53))
		hashes := uint64(1 + rng.IntN(64)) // few distinct hashes: collisions
		hashOf := func(k string) uint64 { return uint64(len(k)*7919+int(k[0])) % hashes }
		var ix keyIndex[int]
		ix.init(hashOf)
		ref := map[string]*entry[int]{}
		keys := 1 + rng.IntN(300)
		for step := range 3000 {
			key := fmt.Sprint(rng.IntN(keys))
			e := ref[key]
			switch {
			case e == nil && rng.IntN(3) > 0:
				e = &entry[int]{key: key}
				ix.insert(e, hashOf(key))
				ref[key] = e
			case e != nil && rng.IntN(2) == 0:
				ix.remove(e)
				delete(ref, key)
			}
			probe := fmt.Sprint(rng.IntN(keys))
			require.Same(t, ref[probe], ix.lookup(probe, hashOf(probe)), "seed %d step %d key %s", seed, step, probe)
			require.Equal(t, len(ref), ix.live)
			tab := ix.tab.Load()
			require.Less(t, ix.used, len(tab.slots), "no empty slot left")
		}
	}
}

// TestKeyIndexConcurrentReaders: readers look keys up while one writer
// inserts and removes others (rebuilding the table as it grows and fills
// with tombstones), under -race. A key that stays in the index is always
// found; any other lookup returns nil or that key's entry.
func TestKeyIndexConcurrentReaders(t *testing.T) {
	hash := func(k string) uint64 { return uint64(len(k)*31+int(k[len(k)-1])) % 40 }
	var ix keyIndex[int]
	ix.init(hash)
	stable := map[string]*entry[int]{}
	for i := range 50 {
		k := fmt.Sprint("stable", i)
		e := &entry[int]{key: k}
		ix.insert(e, hash(k))
		stable[k] = e
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan string, 10)
	for r := range 3 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			for !stop.Load() {
				k := fmt.Sprint("stable", rng.IntN(50))
				if ix.lookup(k, hash(k)) != stable[k] {
					select {
					case errs <- "lost " + k:
					default:
					}
				}
				c := fmt.Sprint("churn", rng.IntN(200))
				if e := ix.lookup(c, hash(c)); e != nil && e.key != c {
					select {
					case errs <- "wrong entry for " + c:
					default:
					}
				}
			}
		})
	}
	rng := rand.New(rand.NewPCG(9, 9))
	churn := map[string]*entry[int]{}
	for range 20_000 {
		k := fmt.Sprint("churn", rng.IntN(200))
		if e, ok := churn[k]; ok {
			ix.remove(e)
			delete(churn, k)
		} else {
			e := &entry[int]{key: k}
			ix.insert(e, hash(k))
			churn[k] = e
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
