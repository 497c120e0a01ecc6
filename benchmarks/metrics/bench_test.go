// Package metrics compares bulwark/metrics with Prometheus client_golang and
// VictoriaMetrics/metrics on the same operations, side by side in one run.
package metrics

import (
	"testing"

	vm "github.com/VictoriaMetrics/metrics"
	"github.com/bulwark-go/bulwark/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// Peers in every sub-benchmark name so benchstat can pair them:
// BenchmarkCounterInc/{bulwark,prometheus,victoria}.

func BenchmarkCounterInc(b *testing.B) {
	b.Run("bulwark", func(b *testing.B) {
		c := metrics.NewRegistry().Counter("c_total", "")
		b.ReportAllocs()
		for b.Loop() {
			c.Inc()
		}
	})
	b.Run("prometheus", func(b *testing.B) {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: "c_total"})
		b.ReportAllocs()
		for b.Loop() {
			c.Inc()
		}
	})
	b.Run("victoria", func(b *testing.B) {
		c := vm.NewSet().NewCounter("c_total")
		b.ReportAllocs()
		for b.Loop() {
			c.Inc()
		}
	})
}

func BenchmarkCounterIncParallel(b *testing.B) {
	b.Run("bulwark", func(b *testing.B) {
		c := metrics.NewRegistry().Counter("c_total", "")
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Inc()
			}
		})
	})
	b.Run("prometheus", func(b *testing.B) {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: "c_total"})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Inc()
			}
		})
	})
	b.Run("victoria", func(b *testing.B) {
		c := vm.NewSet().NewCounter("c_total")
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Inc()
			}
		})
	})
}

func BenchmarkWithLabelsInc(b *testing.B) {
	b.Run("bulwark", func(b *testing.B) {
		v := metrics.NewRegistry().CounterVec("req_total", "", "method", "code")
		b.ReportAllocs()
		for b.Loop() {
			v.With("GET", "200").Inc()
		}
	})
	b.Run("prometheus", func(b *testing.B) {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "req_total"}, []string{"method", "code"})
		b.ReportAllocs()
		for b.Loop() {
			v.WithLabelValues("GET", "200").Inc()
		}
	})
	b.Run("victoria", func(b *testing.B) {
		s := vm.NewSet()
		b.ReportAllocs()
		for b.Loop() {
			s.GetOrCreateCounter(`req_total{method="GET",code="200"}`).Inc()
		}
	})
}

func BenchmarkWithLabelsIncParallel(b *testing.B) {
	b.Run("bulwark", func(b *testing.B) {
		v := metrics.NewRegistry().CounterVec("req_total", "", "method", "code")
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				v.With("GET", "200").Inc()
			}
		})
	})
	b.Run("prometheus", func(b *testing.B) {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "req_total"}, []string{"method", "code"})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				v.WithLabelValues("GET", "200").Inc()
			}
		})
	})
}

// values spread over a latency range: 100 µs to ~1 s
var latencies = func() []float64 {
	v := make([]float64, 1024)
	x := uint64(88172645463325252)
	for i := range v {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		v[i] = 1e-4 * float64(1+x%10000)
	}
	return v
}()

func BenchmarkHistogramObserve(b *testing.B) {
	b.Run("bulwark", func(b *testing.B) {
		h := metrics.NewRegistry().Histogram("lat_seconds", "")
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			h.Observe(latencies[i&1023])
			i++
		}
	})
	b.Run("prometheus", func(b *testing.B) {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lat_seconds", Buckets: prometheus.DefBuckets})
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			h.Observe(latencies[i&1023])
			i++
		}
	})
	b.Run("victoria", func(b *testing.B) {
		h := vm.NewSet().NewHistogram("lat_seconds")
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			h.Update(latencies[i&1023])
			i++
		}
	})
}
