package metrics

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// regCall is one registration a goroutine makes in
// TestConcurrentRegistrationSchedules.
type regCall struct {
	attr bool // Attr(id, name, keys), else CounterVec(name, "h", "id", "key")
	name string
	id   uint32
	keys int
}

// TestConcurrentRegistrationSchedules: random schedules of goroutines
// registering Attr ids and counter vectors under a few shared names at
// once. Per name the first registration decides the kind and per (name, id)
// the first decides the key count; every call that agrees with the winner
// returns the winner's object, and exactly the calls that disagree panic.
// Before registration held one lock across lookup and creation, two Attr
// calls for different ids of one new name could panic with "registered
// again with a different kind".
func TestConcurrentRegistrationSchedules(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for round := 0; round < 300; round++ {
		r := NewRegistry()
		names := 1 + rng.IntN(3)
		g := 2 + rng.IntN(6)
		conflicts := rng.IntN(3) == 0 // some schedules mix kinds and key counts
		calls := make([][]regCall, g)
		for i := range calls {
			for j := 0; j < 1+rng.IntN(6); j++ {
				c := regCall{attr: true, name: "n" + strconv.Itoa(rng.IntN(names)), id: uint32(rng.IntN(4)), keys: 4}
				if conflicts && rng.IntN(4) == 0 {
					if rng.IntN(2) == 0 {
						c.attr = false
					} else {
						c.keys = 5
					}
				}
				calls[i] = append(calls[i], c)
			}
		}
		type result struct {
			c     regCall
			obj   any
			panic any
		}
		var mu sync.Mutex
		var results []result
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, cs := range calls {
			wg.Go(func() {
				<-start
				for _, c := range cs {
					res := result{c: c}
					func() {
						defer func() { res.panic = recover() }()
						if c.attr {
							res.obj = r.Attr(c.id, c.name, c.keys)
						} else {
							res.obj = r.CounterVec(c.name, "h", "id", "key")
						}
					}()
					mu.Lock()
					results = append(results, res)
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		// The registry's final state says who won; check every call against it.
		for _, res := range results {
			f := r.fams[res.c.name]
			require.NotNil(t, f, "round %d: %+v", round, res.c)
			ok := res.c.attr == f.attr
			if ok && res.c.attr {
				a := f.attrs[res.c.id]
				require.NotNil(t, a, "round %d: %+v", round, res.c)
				ok = len(a.keys)-1 == res.c.keys
			}
			if !ok {
				require.NotNil(t, res.panic, "round %d: %+v disagrees with the registry but did not panic", round, res.c)
				continue
			}
			require.Nil(t, res.panic, "round %d: %+v", round, res.c)
			if res.c.attr {
				require.Same(t, f.attrs[res.c.id], res.obj.(*Attr))
			} else {
				require.Same(t, f, res.obj.(*CounterVec).f)
			}
		}
		// each Attr works and is exposed once per key
		for name, f := range r.fams {
			if !f.attr {
				continue
			}
			for id, a := range f.attrs {
				a.Add(1, 2)
				assert.Equal(t, uint64(2), a.Value(1), "%s id %d", name, id)
			}
			assert.Len(t, f.all(), int(f.count.Load()))
		}
	}
}

// TestAttrIdsBoundedByMaxSeries: random caps, key counts and id streams
// (as if ids came from request data). The series of a name never pass
// MaxSeries plus the overflow Attr's one, ids that fit keep exact counts,
// and every Add that landed on the overflow Attr is counted.
func TestAttrIdsBoundedByMaxSeries(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	for round := 0; round < 60; round++ {
		capN := 1 + rng.IntN(300)
		keys := 1 + rng.IntN(20)
		r := NewRegistry(WithMaxSeries(capN))
		fits := max(1, capN/(keys+1)) // the first id always fits
		want := map[uint32][]uint64{}
		var ovfAdds, ovfSum, keyOvf uint64
		for i := 0; i < 400; i++ {
			id := uint32(rng.IntN(3 * (fits + 1)))
			a := r.Attr(id, "oss", keys)
			k, n := rng.IntN(keys+2)-1, uint64(1+rng.IntN(5))
			a.Add(k, n)
			if _, ok := want[id]; !ok && len(want) < fits {
				want[id] = make([]uint64, keys+1)
			}
			w, ok := want[id]
			if !ok {
				ovfAdds++
				ovfSum += n
				continue
			}
			if k < 0 || k >= keys {
				k = keys
				keyOvf++
			}
			w[k] += n
		}
		f := r.fams["oss"]
		require.LessOrEqual(t, len(f.all()), max(capN, keys+1)+1, "round %d", round)
		require.Len(t, f.attrs, len(want))
		for id, w := range want {
			a := r.Attr(id, "oss", keys)
			for k, n := range w {
				require.Equal(t, n, a.keys[k].c.Value(), "round %d id %d key %d", round, id, k)
			}
		}
		ovf := r.ovf
		if ovfAdds > 0 {
			s := f.idx.lookup(f.idx.hash([]string{OverflowValue, OverflowValue}), []string{OverflowValue, OverflowValue})
			require.NotNil(t, s)
			assert.Equal(t, ovfSum, s.c.Value())
		}
		assert.Equal(t, ovfAdds, ovf.with([]string{"oss", "series"}).c.Value(), "round %d", round)
		assert.Equal(t, keyOvf, ovf.with([]string{"oss", "key"}).c.Value(), "round %d", round)
	}
}
