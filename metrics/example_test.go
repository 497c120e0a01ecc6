package metrics_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/bulwark-go/bulwark/metrics"
	"github.com/bulwark-go/bulwark/metrics/metricstest"
)

func Example() {
	clock := metricstest.NewClock(time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC))
	reg := metrics.NewRegistry(metrics.WithClock(clock))
	reqs := reg.CounterVec("http_requests_total", "Requests by route and code.", "route", "code")
	reqs.With("/items", "200").Add(3)
	reqs.With("/items", "500").Inc()

	w := bufio.NewWriter(os.Stdout)
	reg.WriteText(w)
	_ = w.Flush()
	// Output:
	// # HELP http_requests_total Requests by route and code.
	// # TYPE http_requests_total counter
	// http_requests_total{route="/items",code="200"} 3
	// http_requests_total{route="/items",code="500"} 1
}

func ExampleRegistry_History() {
	clock := metricstest.NewClock(time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC))
	reg := metrics.NewRegistry(metrics.WithClock(clock))
	c := reg.Counter("jobs_total", "Jobs done.")
	for _, n := range []uint64{2, 0, 5} {
		c.Add(n)
		reg.Tick(clock.Advance(time.Second))
	}
	ps, _ := reg.History("jobs_total", time.Second)
	for _, p := range ps {
		fmt.Println(p.Time.Format("15:04:05"), p.Value)
	}
	// Output:
	// 10:00:00 2
	// 10:00:01 0
	// 10:00:02 5
}

func ExampleRegistry_AddRule() {
	clock := metricstest.NewClock(time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC))
	reg := metrics.NewRegistry(metrics.WithClock(clock))
	reqs := reg.CounterVec("http_requests_total", "", "code")
	_ = reg.AddRule(metrics.Rule{
		Name: "error-rate", Metric: "http_requests_total", Labels: []string{"500"},
		Kind: metrics.Ratio, Denominator: "http_requests_total", Above: true, Threshold: 0.1,
		Window: 10 * time.Second, For: 2 * time.Second, MinCount: 20,
		OnFire:    func(a metrics.Alert) { fmt.Printf("fire %s at %.2f\n", a.Rule, a.Value) },
		OnResolve: func(a metrics.Alert) { fmt.Println("resolve", a.Rule) },
	})
	for s := 0; s < 40; s++ {
		reqs.With("200").Add(10)
		if s >= 10 && s < 20 {
			reqs.With("500").Add(5) // an incident: a third of requests fail
		}
		reg.Tick(clock.Advance(time.Second))
	}
	fmt.Println(reg.Alerts()[0].State)
	// Output:
	// fire error-rate at 0.20
	// resolve error-rate
	// inactive
}

func ExampleRegistry_Attr() {
	reg := metrics.NewRegistry()
	// OssAttr style: latency classes as keys of one module id
	lat := reg.Attr(29878, "storage_latency_class", 6)
	for _, ms := range []float64{3, 12, 250, 40} {
		switch {
		case ms <= 10:
			lat.Inc(0)
		case ms <= 30:
			lat.Inc(1)
		case ms <= 100:
			lat.Inc(2)
		default:
			lat.Inc(3)
		}
	}
	fmt.Println(lat.Value(0), lat.Value(1), lat.Value(2), lat.Value(3))
	// Output: 1 1 1 1
}

func ExampleHistogram_Quantile() {
	reg := metrics.NewRegistry()
	h := reg.Histogram("op_seconds", "")
	for i := 1; i <= 100; i++ {
		h.Observe(float64(i) / 1000)
	}
	fmt.Printf("p50 %.4f p99 %.4f (true 0.0500, 0.0990)\n", h.Quantile(0.5), h.Quantile(0.99))
	// Output: p50 0.0503 p99 0.1006 (true 0.0500, 0.0990)
}

// Example_quickStart is the package doc's quick start: a per-route error
// ratio alert on a request counter, the exposition, the dashboard and Run.
func Example_quickStart() {
	reg := metrics.NewRegistry()
	reqs := reg.CounterVec("http_requests_total", "Requests by route and code.", "route", "code")
	lat := reg.HistogramVec("http_request_duration_seconds", "Latency.", "route")

	// in the handler
	start := time.Now()
	reqs.With("/items", "200").Inc()
	lat.With("/items").Observe(time.Since(start).Seconds())

	// alert when more than 5 % of /items requests fail over a minute
	err := reg.AddRule(metrics.Rule{Name: "items-errors", Metric: "http_requests_total",
		Labels: []string{"/items", "500"}, Kind: metrics.Ratio,
		Denominator: "http_requests_total", DenominatorLabels: []string{"/items", "*"},
		Above: true, Threshold: 0.05, For: 30 * time.Second, MinCount: 100,
		OnFire: func(a metrics.Alert) { log.Println("firing", a.Rule, a.Value) }})
	fmt.Println(err)

	mux := http.NewServeMux()
	mux.Handle("/metrics", reg.Handler())
	mux.Handle("/debug/metrics", metrics.Dashboard(reg))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- reg.Run(ctx) }()
	cancel()
	fmt.Println(<-done)
	// Output:
	// <nil>
	// context canceled
}

// ExampleRegistry_SnapshotHandler shows the JSON document's shape (without
// history, which adds "seconds" and "minutes" point lists).
func ExampleRegistry_SnapshotHandler() {
	clock := metricstest.NewClock(time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC))
	reg := metrics.NewRegistry(metrics.WithClock(clock))
	reg.CounterVec("jobs_total", "Jobs done.", "queue").With("mail").Add(3)
	reg.Gauge("workers", "Busy workers.").Set(2)
	reg.Tick(clock.Advance(time.Second))

	rec := httptest.NewRecorder()
	reg.SnapshotHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/?history=none", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())
	rec = httptest.NewRecorder()
	reg.SnapshotHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/?limit=-1", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// 200 {"time":"2026-12-05T10:00:01Z","alerts":[],"movers":[],"metrics":[{"name":"bulwark_metrics_overflow_total","help":"Label combinations, Attr keys and history that the registry folded or left out, by metric and reason.","kind":"counter","labels":["metric","reason"],"total":0,"series":[]},{"name":"jobs_total","help":"Jobs done.","kind":"counter","labels":["queue"],"total":1,"series":[{"values":["mail"],"value":3,"history":true}]},{"name":"workers","help":"Busy workers.","kind":"gauge","labels":[],"total":1,"series":[{"values":[],"value":2,"history":true}]}]}
	// 400 metrics: limit "-1": want a whole number of series per metric, 1 or more (at most 1000 are returned)
}
