// Command service is every Bulwark package in one chat-like service, on
// loopback, with nothing to install but Go.
//
//	go run ./examples/service                 # serve until Ctrl-C; prints the URLs
//	go run ./examples/service -scenario       # a scripted bad day, one table row per phase (~45 s)
//	go run ./examples/service -short          # the same bad day with shorter phases (~20 s)
//	go run ./examples/service -redis h:p,h:p,h:p   # replicas on real redis-servers
//
// The service stores messages with a quorum client over three replicas in
// three zones (W = R = 2, acknowledged in two zones), picks its v1 or v2
// handlers per user with grayroute (the decision travels to the downstream
// preview service in a header), admits requests with DAGOR overload control
// (and gates its calls to the downstream by the level the downstream
// reports), calls the downstream through a breaker Group with a fallback,
// speaks tlv to old and new app versions, keeps metrics with alerts and a
// dashboard, and logs through logging's dyes and flight recorder. The
// packages never import each other: service.go wires them through their
// hooks and small funcs.
//
// The scenario drives it with a seeded open-loop load generator: normal
// load, 4× overload, a zone lost, the downstream failing, a bad v2 release,
// a user dyed at runtime, and recovery. It exits 0 when every phase met its
// expectations and 1 naming the phases that did not. On a terminal it
// prints a progress line every second; the dashboard URL comes first, so
// the run can be watched.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address of the service (the scenario uses 127.0.0.1:0 unless set)")
	scenarioFlag := fs.Bool("scenario", false, "run the scripted bad day and exit 0 if every phase met its expectations")
	short := fs.Bool("short", false, "run the scenario with shorter phases (implies -scenario; CI runs every example with it)")
	redisFlag := fs.String("redis", "", "three comma-separated redis-server addresses, one per zone, instead of in-memory replicas")
	load := fs.Float64("load", 20, "serving: background requests per second from the built-in clients, so the dashboard moves (0: none)")
	seed := fs.Uint64("seed", 1, "seed of the load generator")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	addrSet := false
	fs.Visit(func(f *flag.Flag) { addrSet = addrSet || f.Name == "addr" })
	var redisAddrs []string
	if *redisFlag != "" {
		redisAddrs = strings.Split(*redisFlag, ",")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *scenarioFlag || *short {
		a := "127.0.0.1:0"
		if addrSet {
			a = *addr
		}
		code, _ := runScenario(ctx, scenarioOptions{addr: a, redis: redisAddrs, seed: *seed, short: *short, tty: isTerminal(stdout)}, stdout)
		return code
	}
	return serve(ctx, stop, *addr, redisAddrs, *load, *seed, stdout, stderr)
}

// serve runs the service until ctx ends (SIGINT or SIGTERM), then shuts it
// down and checks that every goroutine it started has ended.
func serve(ctx context.Context, stop func(), addr string, redisAddrs []string, load float64, seed uint64, stdout, stderr io.Writer) int {
	before := runtime.NumGoroutine()
	transport := &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 10 * time.Second}
	api, err := newAPIClient("", transport)
	if err != nil {
		fmt.Fprintln(stderr, "client:", err)
		return 1
	}
	svc, err := New(Config{Addr: addr, Redis: redisAddrs, Log: stderr, Text: true})
	if err != nil {
		fmt.Fprintln(stderr, "service:", err)
		return 1
	}
	api.base = svc.URL()
	printURLs(stdout, svc)
	fmt.Fprintf(stdout, "try:         curl -s %s/ ; curl -s -XPOST '%s/debug/dyes?key=u42&ttl=10m'\n", svc.URL(), svc.URL())
	runCtx, stopSvc := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- svc.Run(runCtx) }()

	if err := tlvDemo(ctx, api, "demo-0", stdout); err != nil {
		fmt.Fprintln(stderr, err)
	}
	genCtx, stopGen := context.WithCancel(ctx)
	genDone := make(chan struct{})
	gen := newLoadGen(api, seed)
	gen.setRate(load)
	go func() { defer close(genDone); gen.Run(genCtx) }()
	fmt.Fprintf(stdout, "serving with %.0f background requests/s; Ctrl-C to stop\n", load)

	<-ctx.Done()
	stop() // a second Ctrl-C kills at once
	fmt.Fprintln(stdout, "\nshutting down: requests in flight finish")
	stopGen()
	<-genDone
	stopSvc()
	err = <-runDone
	transport.CloseIdleConnections()
	if err != nil {
		fmt.Fprintln(stderr, "shutdown:", err)
		return 1
	}
	left := settleGoroutines(before, 5*time.Second)
	if left > before {
		buf := make([]byte, 1<<20)
		fmt.Fprintf(stderr, "%d goroutines left after shutdown, %d before start:\n%s\n", left, before, buf[:runtime.Stack(buf, true)])
		return 1
	}
	fmt.Fprintf(stdout, "stopped cleanly: %d goroutines, as before start\n", left)
	return 0
}

// settleGoroutines waits (up to max) for the goroutine count to drop to
// want, as connection goroutines end shortly after their connections
// close, and returns the last count.
func settleGoroutines(want int, max time.Duration) int {
	deadline := time.Now().Add(max)
	for {
		n := runtime.NumGoroutine()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
