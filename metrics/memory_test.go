package metrics

import (
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func heapNow() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestHistoryBudgetRealHeap: random mixes of counter, gauge and histogram
// series (histograms spread over random numbers of bucket chunks, some
// series idle, some gauges never set) under random budgets, some too small
// for all of them. The heap growth of the Tick that gives them history,
// measured with runtime.MemStats, never exceeds what HistoryBytes charged
// nor the budget, and the charge is the real cost: it exceeds the growth
// only by the snapshot chunks reserved for histograms and not yet used.
// Before, counter and gauge history cost 9 % more heap than charged (the
// allocator rounds up) and never-set gauges were charged.
func TestHistoryBudgetRealHeap(t *testing.T) {
	require.LessOrEqual(t, unsafe.Sizeof(history{}), uintptr(512), "history's header must stay small enough to carry no malloc header")
	costs := historyCosts()
	rng := rand.New(rand.NewPCG(91, 92))
	for round := 0; round < 8; round++ {
		nc, ng, nh := rng.IntN(600), rng.IntN(600), rng.IntN(60)
		full := int64(nc)*costs.scalar + int64(ng)*costs.scalar + int64(nh)*costs.hist
		budget := int64(1 + rng.IntN(int(full)+1))
		if rng.IntN(3) == 0 {
			budget = full + 1
		}
		r := NewRegistry(WithClock(fixedClock{t0}), WithHistoryBudget(int(budget)), WithMaxSeries(1000))
		cv, gv, hv := r.CounterVec("c_total", "", "k"), r.GaugeVec("g", "", "k"), r.HistogramVec("h", "", "k")
		idle := 0
		for i := 0; i < nc; i++ {
			if rng.IntN(5) == 0 {
				cv.With(strconv.Itoa(i)) // never counts: no history
				idle++
			} else {
				cv.With(strconv.Itoa(i)).Add(uint64(1 + rng.IntN(9)))
			}
		}
		for i := 0; i < ng; i++ {
			if rng.IntN(5) == 0 {
				gv.With(strconv.Itoa(i)) // never set: no history
				idle++
			} else {
				gv.With(strconv.Itoa(i)).Set(rng.NormFloat64())
			}
		}
		for i := 0; i < nh; i++ {
			h := hv.With(strconv.Itoa(i))
			for range 1 + rng.IntN(40) {
				h.Observe(math.Ldexp(1, rng.IntN(1+rng.IntN(128))-64))
			}
		}
		// the tick's own scratch is allocated once, not part of history
		for i := range r.tick.scratch.chunks {
			r.tick.scratch.chunks[i], r.tick.delta.chunks[i] = new([chunkSize]uint64), new([chunkSize]uint64)
		}
		costs := historyCosts() // measured before the baseline
		before := heapNow()
		r.Tick(t0.Add(61 * time.Second)) // a minute too: both snapshots are taken
		growth := heapNow() - before
		charged := r.HistoryBytes()
		withHist, histWith, usedWith := 0, 0, 0
		for _, f := range []*family{cv.f, gv.f, hv.f} {
			for _, s := range f.all() {
				if f == gv.f && s.g.Value() == 0 || f == cv.f && s.c.Value() == 0 {
					require.Nil(t, s.ts.hist, "round %d: an idle series got history", round)
				}
				if s.ts.hist == nil {
					continue
				}
				withHist++
				if s.h != nil {
					histWith++
					for i := range s.h.chunks {
						if s.h.chunks[i].Load() != nil {
							usedWith++
						}
					}
				}
			}
		}
		// a snapshot allocates a chunk per chunk its histogram uses, twice
		// (second and minute)
		unused := int64(2*numChunks*histWith-2*usedWith) * costs.snapChunk
		t.Logf("round %d: %d counters %d gauges %d histograms (%d idle), budget %d: %d series got history, charged %d, heap grew %d (unused snapshot reserve %d)",
			round, nc, ng, nh, idle, budget, withHist, charged, growth, unused)
		const slack = 32 << 10 // the test's own noise
		require.LessOrEqual(t, charged, budget)
		require.LessOrEqual(t, growth, charged+slack, "round %d: heap grew past the charge", round)
		require.LessOrEqual(t, growth, budget+slack, "round %d: heap grew past the budget", round)
		require.InDelta(t, float64(charged-unused), float64(growth), float64(slack)+0.01*float64(charged), "round %d: the charge is not the real cost", round)
		runtime.KeepAlive(r)
	}
}

// TestContendedCounterMemory: at random GOMAXPROCS, random subsets of a
// vector's counters go striped (as a failed compare-and-swap makes them);
// each costs min(4×GOMAXPROCS, 64) rounded up to a power of two cells of
// 128 bytes plus a 32-byte header on the heap, never more than the 8 KiB +
// 32 B per series the package doc states, and the counts stay exact.
func TestContendedCounterMemory(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	rng := rand.New(rand.NewPCG(93, 94))
	for round := 0; round < 6; round++ {
		procs := []int{1, 2, 3, 5, 16, 40}[round]
		runtime.GOMAXPROCS(procs)
		r := NewRegistry(WithMaxSeries(2000))
		v := r.CounterVec("c_total", "", "k")
		n := 50 + rng.IntN(400)
		cs := make([]*Counter, n)
		for i := range cs {
			cs[i] = v.With(strconv.Itoa(i))
			cs[i].Add(uint64(i))
		}
		striped := 0
		before := heapNow()
		for i, c := range cs {
			if rng.IntN(2) == 0 {
				c.contended(1) // what a lost compare-and-swap does
				striped++
			} else {
				c.Add(1)
			}
			require.Equal(t, uint64(i+1), c.Value())
		}
		per := float64(heapNow()-before) / float64(max(striped, 1))
		k := 1 << bitsLen(min(4*procs, maxStripes)-1)
		want := float64(k*128 + 32)
		t.Logf("GOMAXPROCS %d: %d of %d counters striped, %.0f B each (%d cells)", procs, striped, n, per, k)
		require.InDelta(t, want, per, 128+0.02*want, "GOMAXPROCS %d", procs)
		require.LessOrEqual(t, per, float64(maxStripes*128+32)+128)
		runtime.KeepAlive(cs)
	}
}

func bitsLen(x int) int {
	n := 0
	for ; x > 0; x >>= 1 {
		n++
	}
	return n
}
