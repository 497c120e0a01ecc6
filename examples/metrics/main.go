// Command metrics runs a small HTTP service instrumented with package
// metrics on loopback, prints its dashboard and /metrics URLs, drives
// traffic through it, injects an error burst and shows an alert firing and
// resolving.
//
//	go run ./examples/metrics          # 10 s calm, 10 s of errors, calm until resolved; -hold to keep serving
//	go run ./examples/metrics -short   # the same in about 6 s
//
// It exits non-zero if the alert does not fire during the burst or does not
// resolve after it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/metrics"
)

func main() {
	short := flag.Bool("short", false, "run the scenario in a few seconds")
	hold := flag.Duration("hold", 0, "keep serving the dashboard this long after the scenario")
	flag.Parse()
	if err := run(*short, *hold); err != nil {
		fmt.Fprintln(os.Stderr, "metrics example:", err)
		os.Exit(1)
	}
}

func run(short bool, hold time.Duration) error {
	calm, burst, window := 10*time.Second, 10*time.Second, 5*time.Second
	if short {
		calm, burst, window = 1500*time.Millisecond, 2500*time.Millisecond, 2*time.Second
	}
	reg := metrics.NewRegistry()
	reqs := reg.CounterVec("http_requests_total", "Requests by route and status code.", "route", "code")
	lat := reg.HistogramVec("http_request_duration_seconds", "Request latency.", "route")
	inflight := reg.Gauge("http_in_flight_requests", "Requests being served.")

	var failing atomic.Bool
	fired, resolved := make(chan metrics.Alert, 1), make(chan metrics.Alert, 1)
	err := reg.AddRule(metrics.Rule{
		Name: "items-error-rate", Metric: "http_requests_total", Labels: []string{"/items", "500"},
		Kind: metrics.Ratio, Denominator: "http_requests_total", DenominatorLabels: []string{"/items", "*"},
		Above: true, Threshold: 0.05,
		Window: window, For: time.Second, MinCount: 20,
		OnFire: func(a metrics.Alert) {
			fmt.Printf("ALERT %s firing: error rate %.1f%%\n", a.Rule, 100*a.Value)
			select {
			case fired <- a:
			default:
			}
		},
		OnResolve: func(a metrics.Alert) {
			fmt.Printf("ALERT %s resolved\n", a.Rule)
			select {
			case resolved <- a:
			default:
			}
		},
	})
	if err != nil {
		return err
	}

	// the instrumented service
	mux := http.NewServeMux()
	mux.HandleFunc("/items", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		inflight.Inc()
		defer inflight.Dec()
		time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
		code := http.StatusOK
		if failing.Load() && rand.IntN(4) == 0 {
			code = http.StatusInternalServerError
		}
		w.WriteHeader(code)
		reqs.With("/items", strconv.Itoa(code)).Inc()
		lat.With("/items").Observe(time.Since(start).Seconds())
	})
	mux.Handle("/metrics", reg.Handler())
	mux.Handle("/debug/metrics", metrics.Dashboard(reg))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	fmt.Println("dashboard:", base+"/debug/metrics")
	fmt.Println("metrics:  ", base+"/metrics")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- reg.Run(ctx) }()

	// clients: four goroutines of steady traffic
	client := &http.Client{Timeout: 2 * time.Second}
	for i := 0; i < 4; i++ {
		go func() {
			for ctx.Err() == nil {
				resp, err := client.Get(base + "/items")
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}

	time.Sleep(calm)
	fmt.Println("injecting errors: a quarter of /items requests fail")
	failing.Store(true)
	select {
	case <-fired:
	case <-time.After(burst + window + 2*time.Second):
		return errors.New("the alert did not fire during the error burst")
	}
	time.Sleep(burst / 4) // let it fire for a while
	failing.Store(false)
	fmt.Println("errors stopped")
	select {
	case <-resolved:
	case <-time.After(window + 5*time.Second):
		return errors.New("the alert did not resolve after the burst")
	}
	ps, err := reg.History("http_requests_total", time.Second, "/items", "200")
	if err != nil {
		return err
	}
	total := 0.0
	for _, p := range ps {
		total += p.Value
	}
	fmt.Printf("served %.0f successful /items requests over %d seconds of history; p99 latency %.2f ms\n",
		total, len(ps), 1000*lat.With("/items").Quantile(0.99))
	if hold > 0 {
		fmt.Println("serving the dashboard for", hold)
		time.Sleep(hold)
	}
	cancel()
	if err := <-runDone; !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
