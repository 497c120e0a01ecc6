package metrics

import (
	"math/bits"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// Counter is an increasing integer, safe for concurrent use. It counts
// modulo 2^64: a total past 18446744073709551615 wraps to 0, which
// Prometheus reads as a counter reset, while history and rule deltas stay
// exact (they are taken modulo 2^64 too). Add takes a uint64, so
// Add(uint64(n)) with a negative n adds 2^64+n and wraps at once: convert
// only non-negative values.
//
// It starts as one atomic cell, so an uncontended Inc costs one load and one
// compare-and-swap. The first compare-and-swap that fails (another core wrote
// the cell between the load and the swap) gives the counter a set of
// cache-line padded cells, and from then on each goroutine adds to the cell
// picked by its stack address, as Java's LongAdder does with a per-thread
// probe. Reads sum the cells; a read racing with writers is not a
// linearizable snapshot, but every increment is counted exactly once by
// every read that starts after it returns.
//
// Memory: 16 bytes while uncontended; a counter that goes striped adds
// min(4×GOMAXPROCS, 64), rounded up to a power of two, cells of 128 bytes
// and a 32-byte header: 1 KiB at GOMAXPROCS 2, at most 8 KiB + 32 B from
// GOMAXPROCS 16 up. The cells stay for the counter's life.
type Counter struct {
	base  atomic.Uint64
	cells atomic.Pointer[stripes]
}

// stripe is one padded cell. 128 bytes keeps two cells out of one pair of
// lines that adjacent-line prefetchers move together.
type stripe struct {
	v atomic.Uint64
	_ [120]byte
}

type stripes struct {
	mask  uintptr
	cells []stripe
}

// maxStripes bounds the memory of one contended counter (64 × 128 B = 8 KiB).
const maxStripes = 64

// Inc adds one.
func (c *Counter) Inc() { c.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) {
	if s := c.cells.Load(); s != nil {
		s.add(n)
		return
	}
	old := c.base.Load()
	if !c.base.CompareAndSwap(old, old+n) {
		c.contended(n)
	}
}

//go:noinline
func (c *Counter) contended(n uint64) {
	s := c.cells.Load()
	if s == nil {
		k := runtime.GOMAXPROCS(0) * 4
		if k > maxStripes {
			k = maxStripes
		}
		k = 1 << bits.Len(uint(k-1))
		s = &stripes{mask: uintptr(k - 1), cells: make([]stripe, k)}
		if !c.cells.CompareAndSwap(nil, s) {
			s = c.cells.Load()
		}
	}
	s.add(n)
}

func (s *stripes) add(n uint64) {
	s.cells[probe()&s.mask].v.Add(n)
}

// probe returns a hash of the calling goroutine's stack position. Goroutine
// stacks are disjoint, so goroutines running at once land on different cells
// with high probability and each keeps using the same one (affinity, which
// a per-call random pick would lose). A stack that moves when it grows only
// changes the cell, never the sum.
func probe() uintptr {
	var x byte
	p := uintptr(unsafe.Pointer(&x))
	return uintptr(uint64(p>>10) * 0x9E3779B97F4A7C15 >> 40)
}

// Value returns the current total.
func (c *Counter) Value() uint64 {
	v := c.base.Load()
	if s := c.cells.Load(); s != nil {
		for i := range s.cells {
			v += s.cells[i].v.Load()
		}
	}
	return v
}
