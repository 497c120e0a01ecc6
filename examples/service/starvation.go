package main

import (
	"math"
	"runtime/metrics"
	"time"
)

// The scenario blames the machine only on signals that a slow service does
// not raise: the Go scheduler's latency (how long runnable goroutines
// waited for a CPU, from runtime/metrics) and the load generator's wake-up
// lateness. A service whose handlers hold their slot longer (a slow
// dependency, a lock) lowers the front's measured capacity without either,
// and that is the service's failure.

const schedLatencies = "/sched/latencies:seconds"

// schedBusyP99 is the scheduler latency whose 99th percentile over a phase
// makes it "too busy": a handler wakes up a handful of times per request,
// so waits of this size for a CPU stretch a 40 ms request by its own length.
const schedBusyP99 = 10 * time.Millisecond

// schedHist is a snapshot of the scheduler latency histogram.
type schedHist struct {
	counts  []uint64
	buckets []float64
}

func readSched() schedHist {
	s := []metrics.Sample{{Name: schedLatencies}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return schedHist{}
	}
	h := s[0].Value.Float64Histogram()
	return schedHist{counts: append([]uint64(nil), h.Counts...), buckets: h.Buckets}
}

// p99Since is the 99th percentile of the scheduling latencies recorded
// after before (0 when none were, or the runtime does not report them): the
// lower bound of the bucket holding it.
func (h schedHist) p99Since(before schedHist) time.Duration {
	if len(h.counts) == 0 || len(before.counts) != len(h.counts) {
		return 0
	}
	var total uint64
	delta := make([]uint64, len(h.counts))
	for i := range h.counts {
		delta[i] = h.counts[i] - before.counts[i]
		total += delta[i]
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(0.99 * float64(total)))
	var seen uint64
	for i, n := range delta {
		seen += n
		if seen >= rank {
			lo := h.buckets[i]
			if math.IsInf(lo, -1) || lo < 0 {
				lo = 0
			}
			return time.Duration(lo * 1e9)
		}
	}
	return 0
}
