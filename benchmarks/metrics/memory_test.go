package metrics

import (
	"runtime"
	"strconv"
	"testing"

	"github.com/bulwark-go/bulwark/metrics"
)

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMillionLabelValues streams 1,000,000 distinct label values into one
// vector with the default cap (10,000) and checks that the heap after GC
// grows by about the cap's worth of series, not the stream's, and that
// exactly the cap's series are kept plus the overflow one. It reports the
// figures the RESULTS table records.
func TestMillionLabelValues(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 200_000
	}
	before := heapAfterGC()
	r := metrics.NewRegistry()
	v := r.CounterVec("req_total", "", "user")
	for i := 0; i < n; i++ {
		v.With("user-" + strconv.Itoa(i)).Inc()
	}
	after := heapAfterGC()
	grown := int64(after) - int64(before)
	overflow := v.With(metrics.OverflowValue).Value()
	t.Logf("%d distinct values: heap grew %.2f MiB (%.0f B per kept series), overflow series counted %d",
		n, float64(grown)/(1<<20), float64(grown)/float64(metrics.DefaultMaxSeries), overflow)
	if overflow != uint64(n-metrics.DefaultMaxSeries) {
		t.Fatalf("overflow series has %d, want %d", overflow, n-metrics.DefaultMaxSeries)
	}
	for _, i := range []int{0, 1, metrics.DefaultMaxSeries - 1} {
		if got := v.With("user-" + strconv.Itoa(i)).Value(); got != 1 {
			t.Fatalf("kept series user-%d = %d, want 1", i, got)
		}
	}
	// about the cap's worth: 10,000 series at well under 1 KiB each
	if grown > 10<<20 {
		t.Fatalf("heap grew %d bytes for a cap of %d series", grown, metrics.DefaultMaxSeries)
	}
	runtime.KeepAlive(r)
}
