package metrics

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHotPathsAllocateNothing(t *testing.T) {
	r := NewRegistry()
	c := r.Counter("c_total", "")
	g := r.Gauge("g", "")
	h := r.Histogram("h_seconds", "")
	v := r.CounterVec("v_total", "", "method", "code")
	hv := r.HistogramVec("hv_seconds", "", "method")
	a := r.Attr(1, "oss", 8)
	v.With("GET", "200").Inc()
	hv.With("GET").Observe(0.1)
	h.Observe(0.25)
	cases := map[string]func(){
		"Counter.Inc":         func() { c.Inc() },
		"Counter.Add":         func() { c.Add(3) },
		"Gauge.Set":           func() { g.Set(2) },
		"Gauge.Add":           func() { g.Add(2) },
		"Histogram.Observe":   func() { h.Observe(0.2) },
		"CounterVec.With.Inc": func() { v.With("GET", "200").Inc() },
		"HistogramVec.With":   func() { hv.With("GET").Observe(0.12) },
		"Attr.Add":            func() { a.Add(3, 1) },
		"Attr.Add overflow":   func() { a.Add(300, 1) },
	}
	for name, fn := range cases {
		assert.Zero(t, testing.AllocsPerRun(1000, fn), name)
	}
	// past the cap: overflow routing allocates nothing either
	small := NewRegistry(WithMaxSeries(1))
	sv := small.CounterVec("s_total", "", "k")
	sv.With("a").Inc()
	sv.With("b").Inc()
	assert.Zero(t, testing.AllocsPerRun(1000, func() { sv.With("zzz").Inc() }), "overflow With")
}
