// Command service is every Bulwark package in one chat-like service, on
// loopback, with nothing to install but Go.
//
//	go run ./examples/service                 # serve until Ctrl-C; prints the URLs
//	go run ./examples/service -scenario       # a scripted bad day, one table row per phase (~40 s)
//	go run ./examples/service -short          # the same bad day with shorter phases (~20 s)
//	go run ./examples/service -redis h:p,h:p,h:p   # replicas on real redis-servers
//
// While it serves, send and read chat messages from another shell, as a
// new (v2) or an old (-v1) app; curl cannot build the tlv bodies:
//
//	go run ./examples/service -send 'hello' -as alice            # prints the message id
//	go run ./examples/service -read ID -as bob -from alice -v1   # an old app reads it, keeping what it does not know
//
// # The service
//
// It stores messages with a quorum client over three replicas in three
// zones (W = R = 2, acknowledged in two zones), picks its v1 or v2 handlers
// per user with grayroute (the decision travels to the downstream preview
// service in a header; the gray plan ramps v2 by itself, 10 % → 25 % →
// 50 %, while v2's errors and p99 stay within v1's; a 503, a dependency
// unavailable to both, is not counted as the release's error), admits requests with
// DAGOR overload control (6 slots × 40 ms handlers: 150 req/s; beyond that
// the least important requests are shed) and gates its calls to the
// downstream by the level the downstream reports, calls the downstream
// through a breaker Group with a fallback, speaks tlv to old and new app
// versions, keeps metrics with alerts and a dashboard, and logs through
// logging's dyes and flight recorder. The packages never import each other:
// service.go wires them through their hooks and small funcs.
//
// The API needs the X-User header. It stands in for authentication and is
// trusted as sent: anyone can claim any user, so the guarantees below hold
// only under that premise (a real service would take the user from a
// verified token). A request without it gets 400. Message ids belong to their sender: one
// user's send never replaces another's message, and a read names the
// sender (from=, default the caller). A request's body is read whole, under
// the request's 1 s budget, before it is admitted: a client trickling its
// body in gets 408 and never holds an overload slot. Ctrl-C stops serving:
// requests in flight get 3 s to finish, then the connections still open
// are closed; the command checks by goroutine id that every goroutine
// started while serving has ended and exits 0.
//
// # The bad day
//
// The scenario drives the service with a seeded open-loop load generator:
// normal load, 4× overload, a zone lost (for half a second before zone-a
// burns, the other zones' replicas refuse writes, read-only as after a
// failover: the real store, W = 2 in two zones, refuses the writes it could
// only place in zone-a, while a store acknowledging a write on one replica
// would acknowledge them and lose them with the zone, which the phase
// reports; in-memory replicas take every write at once, so without this
// step no W would ever be tested), the downstream degraded and then
// failing (degraded: one renderer left and no queue, so its own overload
// Controller sheds and reports its level; the phase requires the Gate on
// the service's calls to refuse some calls locally, before sending, and
// fails when none was; failing: 40 % of calls fail), a bad v2
// release (the planner's own periodic judging is paused in that phase, so
// the rollback it requires can only come from the canary alert), a user
// dyed at runtime, and recovery. A legend under the table header says what
// each column means. On a terminal it prints a progress line every second;
// the dashboard URL comes first, so the run can be watched.
//
// Each phase is judged on invariants (nothing acknowledged lost, no field
// dropped between app versions, no debug line of an undyed user, ...) and
// service levels (class 0 served ≥ 99 % at 4× load, goodput, the breaker
// opening and closing, ...). An acknowledged message the store answers
// "not found" or with other content is lost; one a quorum of replicas does
// not answer for is unreadable, which is a missed service level, not a
// loss, and the recovery phase reads it again. The front's capacity
// measured in a phase (slots ÷ the mean time a request holds one) under
// half its nominal is a missed service level: its handlers got slower. When
// the machine starves the run of CPU, which only signals independent of
// the service tell (the Go scheduler's latency from runtime/metrics,
// /sched/latencies:seconds, at its 99th percentile over 10 ms, or the load
// generator waking up over 100 ms late for a tenth of the phase), the
// phase's service levels measure the machine, not the service: they are
// reported as one "machine too busy" failure that names them, and the
// overload phase, which needs the CPU most, runs once more first. A slower
// service raises neither signal, so it fails as itself. Invariants are judged
// whatever the machine.
//
// The banner prints the quorum configuration in use (W, R, the zones a
// write needs, the read consistency). After the last phase the scenario
// shuts the service down and checks by goroutine id, as serving does, that
// every goroutine it started has ended; a leftover is a "shutdown" failure.
//
// Exit status: 0 when every phase met its expectations (and for -h); 1
// naming the phases that did not, or when serving or a -send/-read call
// failed; 2 for bad flags (a client flag such as -as, -id, -from, -v1 or
// -lang without -send or -read, a negative -load) or when the service cannot start (a -redis server
// unreachable, the port taken); 130 when Ctrl-C interrupted the scenario,
// which stops at once and judges nothing from the phase it cut short on.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
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

// Exit statuses.
const (
	exitOK          = 0
	exitFailed      = 1   // a phase missed its expectations; serving or a client call failed
	exitCannotStart = 2   // bad flags, or the service could not start (a -redis server unreachable, the port taken)
	exitInterrupted = 130 // the scenario was interrupted (Ctrl-C): nothing after that was judged
)

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:8080", "listen address of the service, or the service a -send/-read client calls (the scenario uses 127.0.0.1:0 unless set)")
	scenarioFlag := fs.Bool("scenario", false, "run the scripted bad day and exit 0 if every phase met its expectations")
	short := fs.Bool("short", false, "run the scenario with shorter phases (implies -scenario; CI runs every example with it)")
	redisFlag := fs.String("redis", "", "three comma-separated redis-server addresses, one per zone, instead of in-memory replicas")
	load := fs.Float64("load", 20, "serving: background requests per second from the built-in clients, so the dashboard moves (0: none)")
	seed := fs.Uint64("seed", 1, "seed of the load generator")
	var cl clientFlags
	fs.StringVar(&cl.send, "send", "", "client: send this text as a chat message to the service at -addr")
	fs.StringVar(&cl.read, "read", "", "client: read the message with this id from the service at -addr")
	fs.StringVar(&cl.as, "as", "", "client: the user sending or reading (the "+UserHeader+" header)")
	fs.StringVar(&cl.id, "id", "", "client -send: the message id (default: a new one, printed)")
	fs.StringVar(&cl.from, "from", "", "client -read: whose message (default: -as's own)")
	fs.StringVar(&cl.lang, "lang", "en", "client -send: the language tag a v2 client adds")
	fs.BoolVar(&cl.v1, "v1", false, "client: be an old (version 1) app, which does not know lang and reactions")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitCannotStart
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "service: unexpected arguments %q (see -h)\n", fs.Args())
		return exitCannotStart
	}
	addrSet := false
	fs.Visit(func(f *flag.Flag) { addrSet = addrSet || f.Name == "addr" })
	var redisAddrs []string
	if *redisFlag != "" {
		redisAddrs = strings.Split(*redisFlag, ",")
	}
	if cl.send != "" || cl.read != "" {
		return runClient(cl, *addr, stdout, stderr)
	}
	var clientOnly []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "as", "id", "from", "v1", "lang":
			clientOnly = append(clientOnly, "-"+f.Name)
		}
	})
	if len(clientOnly) > 0 {
		fmt.Fprintf(stderr, "service: %s only apply to a client call: add -send TEXT or -read ID (see -h)\n", strings.Join(clientOnly, ", "))
		return exitCannotStart
	}
	if *load < 0 || math.IsNaN(*load) || math.IsInf(*load, 0) {
		fmt.Fprintf(stderr, "service: -load %v: want a finite number of requests per second ≥ 0\n", *load)
		return exitCannotStart
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
	return serve(ctx, stop, serveOptions{addr: *addr, redis: redisAddrs, load: *load, seed: *seed, settle: 5 * time.Second}, stdout, stderr)
}

const usage = `Usage:
  service [-addr host:port] [-load N] [-redis h:p,h:p,h:p]   serve until Ctrl-C
  service -scenario | -short [-seed N] [-redis ...]           the scripted bad day
  service -send TEXT -as USER [-id ID] [-v1] [-addr ...]      send a chat message
  service -read ID -as USER [-from USER] [-v1] [-addr ...]    read one back

Exit status: 0 ok (-h too); 1 a phase missed its expectations, or serving
or a client call failed; 2 bad flags or the service could not start;
130 the scenario was interrupted.

Flags:
`

type serveOptions struct {
	addr       string
	redis      []string
	load       float64
	seed       uint64
	settle     time.Duration // how long goroutines may take to end after the shutdown
	afterStart func()        // tests: runs once the service serves
}

// serve runs the service until ctx ends (SIGINT or SIGTERM), then shuts it
// down and checks that every goroutine started since serve was called has
// ended: goroutines are told apart by id, so one that existed before (such
// as signal.NotifyContext's, which stop ends) cannot hide a leak.
func serve(ctx context.Context, stop func(), opt serveOptions, stdout, stderr io.Writer) int {
	before := goroutines()
	transport := &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 10 * time.Second}
	api, err := newAPIClient("", transport)
	if err != nil {
		fmt.Fprintln(stderr, "client:", err)
		return exitCannotStart
	}
	svc, err := New(Config{Addr: opt.addr, Redis: opt.redis, Log: stderr, Text: true})
	if err != nil {
		fmt.Fprintln(stderr, "service:", err)
		return exitCannotStart
	}
	api.base = svc.URL()
	printURLs(stdout, svc)
	cfg := svc.cfg
	fmt.Fprintf(stdout, "capacity:    %.0f req/s (%d overload slots × %v mean handler work); more than that is shed, least important first\n",
		cfg.Capacity(), cfg.Slots, cfg.Work)
	fmt.Fprintf(stdout, "gray ramp:   v2 ramps by itself, 10%% → 25%% → 50%% of users while its errors and p99 stay within v1's (watch %s/debug/gray)\n", svc.URL())
	fmt.Fprintf(stdout, "try:         go run ./examples/service -addr %s -send hello -as alice     (then -read ID -as bob -from alice)\n", svc.frontLn.Addr())
	fmt.Fprintf(stdout, "             curl -s -XPOST '%s/debug/dyes?key=u42&ttl=10m' ; curl -s %s/debug/log\n", svc.URL(), svc.URL())
	runCtx, stopSvc := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- svc.Run(runCtx) }()
	if opt.afterStart != nil {
		opt.afterStart()
	}

	if err := tlvDemo(ctx, api, "demo-0", stdout); err != nil {
		fmt.Fprintln(stderr, err)
	}
	genCtx, stopGen := context.WithCancel(ctx)
	genDone := make(chan struct{})
	gen := newLoadGen(api, opt.seed)
	gen.setRate(opt.load)
	go func() { defer close(genDone); gen.Run(genCtx) }()
	fmt.Fprintf(stdout, "serving with %.0f background requests/s from the built-in clients (-load); Ctrl-C to stop\n", opt.load)

	<-ctx.Done()
	stop() // a second Ctrl-C kills at once
	fmt.Fprintf(stdout, "\nshutting down: requests in flight get %v to finish\n", cfg.Grace)
	stopGen()
	<-genDone
	stopSvc()
	err = <-runDone
	transport.CloseIdleConnections()
	if err != nil {
		fmt.Fprintln(stderr, "shutdown:", err)
		return exitFailed
	}
	leaked, left := settleGoroutines(before, opt.settle)
	if len(leaked) > 0 {
		fmt.Fprintf(stderr, "%d goroutines started while serving are still running after the shutdown (%d before start, %d now):\n%s\n",
			len(leaked), len(before), left, strings.Join(leaked, "\n\n"))
		return exitFailed
	}
	fmt.Fprintf(stdout, "stopped cleanly: every goroutine started while serving has ended (%d before start, %d now)\n", len(before), left)
	return exitOK
}

// goroutines returns the stacks of the running goroutines by id.
func goroutines() map[string]string {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	m := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		// "goroutine 7 [chan receive]:\n..."
		if f := strings.Fields(g); len(f) > 1 && f[0] == "goroutine" {
			m[f[1]] = g
		}
	}
	return m
}

// settleGoroutines waits (up to max) until every goroutine running now was
// already running in before, as connection goroutines end shortly after
// their connections close. It returns the stacks of the others and the
// number of goroutines running.
func settleGoroutines(before map[string]string, max time.Duration) (leaked []string, n int) {
	deadline := time.Now().Add(max)
	for {
		now := goroutines()
		leaked = leaked[:0]
		for id, stack := range now {
			if _, ok := before[id]; !ok {
				leaked = append(leaked, stack)
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			return leaked, len(now)
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
