package metrics

import (
	"math"
	"sync/atomic"
)

// Bucket layout: base-2 exponential at scale 3, the layout of OpenTelemetry's
// exponential histograms at scale 3 and of Prometheus native histograms with
// schema 3. Bucket i holds (2^((i-1)/8), 2^(i/8)], so neighbouring bounds
// differ by 2^(1/8) ≈ 1.0905 and the harmonic mean of a bucket's bounds is
// within (2^(1/8)-1)/(2^(1/8)+1) ≈ 4.33 % of every value in it.
//
// Indexes run from minIndex to maxIndex, covering (2^-64, 2^64]. Values in
// (0, 2^-64] count in the lowest bucket; values ≤ 0 in the zero bucket;
// values above 2^64 (and +Inf) only in +Inf. NaN is not counted.
const (
	minIndex    = -511
	maxIndex    = 512
	numBuckets  = maxIndex - minIndex + 1 // 1024
	chunkBits   = 6
	chunkSize   = 1 << chunkBits // buckets per lazily allocated chunk
	numChunks   = numBuckets / chunkSize
	bucketScale = 3
)

type chunk [chunkSize]atomic.Uint64

// schema3 holds 2^(j/8), j = 0..7, as the float64 values Prometheus's
// native histograms use at schema 3: client_golang's
// nativeHistogramBounds[3], which are given in [0.5, 1), doubled (exactly).
// math.Exp2(j/8) differs from three of them by one ulp, which put a value
// lying exactly on such a bound one bucket lower than Prometheus does;
// benchmarks/metrics checks every bound against client_golang v1.25.0.
var schema3 = [8]float64{
	2 * 0.5, 2 * 0.5452538663326288, 2 * 0.5946035575013605, 2 * 0.6484197773255048,
	2 * 0.7071067811865475, 2 * 0.7711054127039704, 2 * 0.8408964152537144, 2 * 0.9170040432046711,
}

// mantissaBounds[j] holds the 52 mantissa bits of 2^((j+1)/8), j = 0..6.
var mantissaBounds = func() (m [7]uint64) {
	for j := range m {
		m[j] = math.Float64bits(schema3[j+1]) & (1<<52 - 1)
	}
	return m
}()

// upperBounds[k] is the upper bound of bucket index k+minIndex.
var upperBounds = func() (b [numBuckets]float64) {
	for k := range b {
		i := k + minIndex
		e := i >> bucketScale // floor division
		j := i - e<<bucketScale
		b[k] = math.Ldexp(schema3[j], e)
	}
	return b
}()

// bucketOf returns the slot of v: 0..numBuckets-1 for a finite positive
// value, -1 for the zero bucket, numBuckets for +Inf, -2 for NaN.
func bucketOf(v float64) int {
	if !(v > 0) {
		if v != v {
			return -2
		}
		return -1
	}
	b := math.Float64bits(v)
	exp := int(b>>52) - 1023
	mant := b & (1<<52 - 1)
	if exp < minIndex>>bucketScale || exp >= maxIndex>>bucketScale {
		if exp < 0 {
			return 0
		}
		if v == math.Ldexp(1, maxIndex>>bucketScale) {
			return numBuckets - 1
		}
		return numBuckets
	}
	i := exp << bucketScale
	if mant != 0 {
		i += 1 + b2i(mant > mantissaBounds[0]) + b2i(mant > mantissaBounds[1]) +
			b2i(mant > mantissaBounds[2]) + b2i(mant > mantissaBounds[3]) +
			b2i(mant > mantissaBounds[4]) + b2i(mant > mantissaBounds[5]) +
			b2i(mant > mantissaBounds[6])
	}
	k := i - minIndex
	if k < 0 {
		return 0
	}
	return k
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// bucketLower returns the lower bound of slot k.
func bucketLower(k int) float64 {
	if k == 0 {
		return 0
	}
	return upperBounds[k-1]
}

// bucketEstimate is the value reported for a quantile falling in slot k: the
// harmonic mean of its bounds, which minimises the worst relative error.
func bucketEstimate(k int) float64 {
	lo := math.Ldexp(1, minIndex>>bucketScale) // 2^-64, the lowest bucket's lower bound
	if k > 0 {
		lo = upperBounds[k-1]
	}
	hi := upperBounds[k]
	return 2 * lo * hi / (lo + hi)
}

// Histogram counts observations in fixed log-linear buckets, safe for
// concurrent use and lock-free. Observe is a few atomic adds; the 1,024
// buckets live in 16 chunks allocated on first use, so a latency histogram
// spanning microseconds to seconds holds two or three.
type Histogram struct {
	zero   atomic.Uint64
	inf    atomic.Uint64
	sum    atomic.Uint64 // float64 bits
	chunks [numChunks]atomic.Pointer[chunk]
}

// Observe records v in base units (seconds, bytes). NaN is ignored.
func (h *Histogram) Observe(v float64) {
	k := bucketOf(v)
	switch {
	case k >= 0 && k < numBuckets:
		c := h.chunks[k>>chunkBits].Load()
		if c == nil {
			c = h.newChunk(k >> chunkBits)
		}
		c[k&(chunkSize-1)].Add(1)
	case k == -1:
		h.zero.Add(1)
	case k == numBuckets:
		h.inf.Add(1)
	default:
		return
	}
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

//go:noinline
func (h *Histogram) newChunk(i int) *chunk {
	c := new(chunk)
	if h.chunks[i].CompareAndSwap(nil, c) {
		return c
	}
	return h.chunks[i].Load()
}

// Count returns the number of observations so far.
func (h *Histogram) Count() uint64 {
	n := h.zero.Load() + h.inf.Load()
	for i := range h.chunks {
		if c := h.chunks[i].Load(); c != nil {
			for j := range c {
				n += c[j].Load()
			}
		}
	}
	return n
}

// Sum returns the sum of the observations so far.
func (h *Histogram) Sum() float64 { return math.Float64frombits(h.sum.Load()) }

// Quantile returns an estimate of the q-quantile of every observation so
// far: the value reported for the observation of rank ceil(q·n), within
// 4.33 % of it when it lies in [2^-64, 2^64], 0 for one ≤ 0 and +Inf for
// one above 2^64. It returns NaN when there is no observation, or when q
// is not in (0, 1] (NaN included).
func (h *Histogram) Quantile(q float64) float64 {
	var s bucketCounts
	s.load(h)
	return s.quantile(q)
}

// bucketCounts is a plain copy of a histogram's counts.
type bucketCounts struct {
	zero, inf uint64
	chunks    [numChunks]*[chunkSize]uint64
}

func (s *bucketCounts) load(h *Histogram) {
	s.zero, s.inf = h.zero.Load(), h.inf.Load()
	for i := range h.chunks {
		c := h.chunks[i].Load()
		if c == nil {
			if s.chunks[i] != nil {
				*s.chunks[i] = [chunkSize]uint64{}
			}
			continue
		}
		d := s.chunks[i]
		if d == nil {
			d = new([chunkSize]uint64)
			s.chunks[i] = d
		}
		for j := range c {
			d[j] = c[j].Load()
		}
	}
}

// reset zeroes s, keeping its chunks.
func (s *bucketCounts) reset() {
	s.zero, s.inf = 0, 0
	for _, c := range s.chunks {
		if c != nil {
			*c = [chunkSize]uint64{}
		}
	}
}

// sub sets s to a - b (counts since snapshot b).
func (s *bucketCounts) sub(a, b *bucketCounts) {
	s.zero, s.inf = a.zero-b.zero, a.inf-b.inf
	for i := range a.chunks {
		if a.chunks[i] == nil {
			if s.chunks[i] != nil {
				*s.chunks[i] = [chunkSize]uint64{}
			}
			continue
		}
		if s.chunks[i] == nil {
			s.chunks[i] = new([chunkSize]uint64)
		}
		d, x, y := s.chunks[i], a.chunks[i], b.chunks[i]
		for j := range x {
			if y != nil {
				d[j] = x[j] - y[j]
			} else {
				d[j] = x[j]
			}
		}
	}
}

// add adds a into s.
func (s *bucketCounts) add(a *bucketCounts) {
	s.zero += a.zero
	s.inf += a.inf
	for i := range a.chunks {
		if a.chunks[i] == nil {
			continue
		}
		if s.chunks[i] == nil {
			s.chunks[i] = new([chunkSize]uint64)
		}
		for j := range a.chunks[i] {
			s.chunks[i][j] += a.chunks[i][j]
		}
	}
}

func (s *bucketCounts) count() uint64 {
	n := s.zero + s.inf
	for _, c := range s.chunks {
		if c != nil {
			for _, v := range c {
				n += v
			}
		}
	}
	return n
}

// quantile returns the estimate for the observation of rank ceil(q·n).
func (s *bucketCounts) quantile(q float64) float64 {
	n := s.count()
	if n == 0 || !(q > 0 && q <= 1) {
		return math.NaN()
	}
	rank := uint64(math.Ceil(q * float64(n)))
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	seen := s.zero
	if seen >= rank {
		return 0
	}
	for i, c := range s.chunks {
		if c == nil {
			continue
		}
		for j, v := range c {
			seen += v
			if seen >= rank {
				return bucketEstimate(i<<chunkBits + j)
			}
		}
	}
	return math.Inf(1)
}

// copyFrom makes s a copy of a. A chunk that is all zeros in a is not
// allocated in s (a's chunks may be scratch left over from another
// histogram), so a snapshot holds only the chunks its histogram uses.
func (s *bucketCounts) copyFrom(a *bucketCounts) {
	s.zero, s.inf = a.zero, a.inf
	for i := range a.chunks {
		if a.chunks[i] == nil || s.chunks[i] == nil && *a.chunks[i] == [chunkSize]uint64{} {
			if s.chunks[i] != nil {
				*s.chunks[i] = [chunkSize]uint64{}
			}
			continue
		}
		if s.chunks[i] == nil {
			s.chunks[i] = new([chunkSize]uint64)
		}
		*s.chunks[i] = *a.chunks[i]
	}
}
