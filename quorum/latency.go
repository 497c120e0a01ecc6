package quorum

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// latency is a small lock-free histogram of one replica's recent call
// latencies. Buckets are quarter octaves of 128 ns units (about 19 % wide),
// from 128 ns to about 8.6 s; every decayEvery samples all counts are halved,
// so the estimate follows the replica within a few thousand calls. Races
// between concurrent observations and the halving only blur counts a little.
type latency struct {
	buckets [latBuckets]atomic.Uint32
	n       atomic.Uint64
	est     atomic.Int64 // cached quantile in ns; 0 until minSamples
}

const (
	latBuckets   = 100
	latUnitShift = 7 // 128 ns
	decayEvery   = 1024
	refreshEvery = 16
	minSamples   = 32
)

func latBucket(d time.Duration) int {
	if d < 0 {
		d = 0
	}
	v := uint64(d) >> latUnitShift
	if v < 4 {
		return int(v)
	}
	e := bits.Len64(v) - 1 // >= 2
	sub := int(v>>(e-2)) & 3
	i := 4*(e-1) + sub
	if i >= latBuckets {
		return latBuckets - 1
	}
	return i
}

// latUpper is the exclusive upper bound of bucket i.
func latUpper(i int) time.Duration {
	if i < 4 {
		return time.Duration(i+1) << latUnitShift
	}
	e := i/4 + 1
	sub := i % 4
	return time.Duration(uint64(5+sub)<<(e-2)) << latUnitShift
}

func (l *latency) observe(d time.Duration, q float64) {
	l.buckets[latBucket(d)].Add(1)
	n := l.n.Add(1)
	if n%decayEvery == 0 {
		for i := range l.buckets {
			b := &l.buckets[i]
			b.Store(b.Load() / 2)
		}
	}
	if n >= minSamples && n%refreshEvery == 0 {
		l.est.Store(int64(l.quantile(q)))
	}
}

// reset forgets every sample (a demoted replica that answers again).
func (l *latency) reset() {
	for i := range l.buckets {
		l.buckets[i].Store(0)
	}
	l.n.Store(0)
	l.est.Store(0)
}

// quantile scans the buckets; callers use the cached estimate instead.
func (l *latency) quantile(q float64) time.Duration {
	var counts [latBuckets]uint32
	var total uint64
	for i := range l.buckets {
		counts[i] = l.buckets[i].Load()
		total += uint64(counts[i])
	}
	if total == 0 {
		return 0
	}
	target := uint64(math.Ceil(q * float64(total)))
	var cum uint64
	for i, c := range counts {
		cum += uint64(c)
		if cum >= target {
			return latUpper(i)
		}
	}
	return latUpper(latBuckets - 1)
}

// estimate is the cached quantile, or 0 with too few samples.
func (l *latency) estimate() time.Duration { return time.Duration(l.est.Load()) }

// budget is a lock-free token bucket for hedges in thousandths of a hedge:
// every read adds credit, every hedge takes 1000, the bucket holds at most
// burst hedges. Over any run, hedges <= credit/1000 * reads + burst.
type budget struct {
	tokens atomic.Int64
	credit int64
	max    int64
}

func (b *budget) init(share float64, burst int) {
	b.credit, b.max = int64(share*1000), int64(burst)*1000
	b.tokens.Store(b.max)
}

func (b *budget) deposit() {
	for {
		t := b.tokens.Load()
		if t >= b.max {
			return
		}
		if b.tokens.CompareAndSwap(t, min(t+b.credit, b.max)) {
			return
		}
	}
}

func (b *budget) take() bool {
	for {
		t := b.tokens.Load()
		if t < 1000 {
			return false
		}
		if b.tokens.CompareAndSwap(t, t-1000) {
			return true
		}
	}
}
