package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/grayroute"
	"github.com/bulwark-go/bulwark/quorum"
)

// The scripted bad day. Each phase sets the offered load (a multiple of the
// capacity the front has at the moment), injects its fault, runs, and is
// judged on what the clients saw plus what the service reports; one table
// row per phase.

// timings are the phase lengths; -short halves most of them.
type timings struct {
	normal, overload, settleMax, cut, zone, downFailMax, downFail, healMax, downShedMax, badMax, dye, recovery time.Duration
}

var (
	fullTimings  = timings{normal: 4 * time.Second, overload: 7 * time.Second, settleMax: 6 * time.Second, cut: time.Second, zone: 5 * time.Second, downFailMax: 8 * time.Second, downFail: 3 * time.Second, healMax: 6 * time.Second, downShedMax: 4 * time.Second, badMax: 10 * time.Second, dye: 4 * time.Second, recovery: 5 * time.Second}
	shortTimings = timings{normal: 1500 * time.Millisecond, overload: 3 * time.Second, settleMax: 5 * time.Second, cut: 500 * time.Millisecond, zone: 1500 * time.Millisecond, downFailMax: 6 * time.Second, downFail: 500 * time.Millisecond, healMax: 5 * time.Second, downShedMax: 4 * time.Second, badMax: 6 * time.Second, dye: 1500 * time.Millisecond, recovery: 1500 * time.Millisecond}
)

const (
	normalLoad   = 0.6 // × capacity
	overloadLoad = 4.0
	dyedUser     = "u42"
	lostZone     = "zone-a" // the local zone, so reads must go elsewhere
)

type scenarioOptions struct {
	addr  string
	redis []string
	seed  uint64
	short bool
	tty   bool // print a progress line every second
	slots int  // the front's slots (0: the default); the capacity scales with them

	// tests
	only     map[string]bool // run only these phases (nil: all)
	timings  *timings        // instead of the full or short ones
	noCanary bool            // the canary alert does not judge the plan (Config.noCanaryAction)
	settle   time.Duration   // how long goroutines may take to end after the shutdown (0: 5 s)
	wiring   wiring          // mutations of the service's wiring (Config.wiring)
	afterRun func()          // runs once the service serves
}

type scenario struct {
	ctx  context.Context // ends on Ctrl-C
	svc  *Service
	gen  *loadGen
	logs *logCheck
	api  *apiClient
	t    timings

	outMu       sync.Mutex
	out         io.Writer
	progress    bool
	current     atomic.Pointer[phaseRun]
	failed      []finding
	interrupted string        // the phase Ctrl-C cut short
	unreadable  int           // acknowledged messages the zone-lost sweep could not read
	load        atomic.Uint64 // the phase's load, × capacity (float64 bits)
	capEst      atomic.Uint64 // the capacity the front has now (float64 bits; 0: not measured yet)
}

// capacity is what the front can serve now: its slots over the mean time
// a request holds one, measured over the last second (nominal until
// measured). Loads are set as multiples of it, so that "0.6×" stays 0.6×
// of what this machine gives the service at the moment, busy or not.
func (sc *scenario) capacity() float64 {
	if c := math.Float64frombits(sc.capEst.Load()); c > 0 {
		return c
	}
	return sc.svc.cfg.Capacity()
}

// trackCapacity re-measures the capacity four times a second and keeps the
// offered load at the phase's multiple of it.
func (sc *scenario) trackCapacity(ctx context.Context) {
	const window = 4 // ticks of 250 ms
	var nanos, counts [window]int64
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, c := sc.svc.hold.nanos.Load(), sc.svc.hold.count.Load()
		dn, dc := n-nanos[i%window], c-counts[i%window]
		nanos[i%window], counts[i%window] = n, c
		if i < window || dc < 20 {
			continue // a second of history, and enough requests in it
		}
		est := float64(sc.svc.cfg.Slots) / (float64(dn) / float64(dc) / 1e9)
		if old := math.Float64frombits(sc.capEst.Load()); old > 0 {
			est = 0.5*old + 0.5*est
		}
		sc.capEst.Store(math.Float64bits(est))
		sc.gen.setRate(math.Float64frombits(sc.load.Load()) * est)
	}
}

// runScenario runs the bad day and returns the exit status: 0 when every
// phase met its expectations, 1 otherwise, 2 when it could not start, 130
// when ctx ended (Ctrl-C) before the last phase was judged; and the
// expectations that failed.
func runScenario(ctx context.Context, opt scenarioOptions, out io.Writer) (int, []finding) {
	before := goroutines()
	transport := &http.Transport{MaxIdleConnsPerHost: 1024, IdleConnTimeout: 10 * time.Second}
	defer transport.CloseIdleConnections()
	api, err := newAPIClient("", transport)
	if err != nil {
		fmt.Fprintln(out, "client:", err)
		return exitCannotStart, nil
	}
	logs := newLogCheck()
	logs.setPhase("startup", "")
	svc, err := New(Config{Addr: opt.addr, Redis: opt.redis, Log: logs, Slots: opt.slots, noCanaryAction: opt.noCanary, wiring: opt.wiring})
	if err != nil {
		fmt.Fprintln(out, "service: cannot start:", err)
		return exitCannotStart, nil
	}
	api.base = svc.URL()
	t := fullTimings
	if opt.short {
		t = shortTimings
	}
	if opt.timings != nil {
		t = *opt.timings
	}
	sc := &scenario{ctx: ctx, svc: svc, logs: logs, api: api, t: t, out: out, progress: opt.tty, gen: newLoadGen(api, opt.seed)}

	store := "3 in-memory replicas"
	if len(opt.redis) > 0 {
		store = fmt.Sprintf("%d redis-servers", len(opt.redis))
	}
	fmt.Fprintf(out, "bulwark service: a bad day (%s; %s in zones %s, %s; capacity %.0f req/s: %d slots × %v handlers)\n",
		map[bool]string{true: "-short", false: "full"}[opt.short], store, strings.Join(zones, ", "), svc.store.describe(), svc.cfg.Capacity(), svc.cfg.Slots, svc.cfg.Work)
	printURLs(out, svc)

	runCtx, stopSvc := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- svc.Run(runCtx) }()
	if opt.afterRun != nil {
		opt.afterRun()
	}
	genCtx, stopGen := context.WithCancel(ctx)
	genDone := make(chan struct{})
	stopAll := func() error {
		stopGen()
		<-genDone
		stopSvc()
		return <-runDone
	}

	demoUser := ""
	for i := 0; demoUser == ""; i++ {
		if u := fmt.Sprint("demo-", i); svc.router.Route(release, grayroute.Request{Key: u}).Variant == "v1" {
			demoUser = u
		}
	}
	if err := tlvDemo(ctx, api, demoUser, out); err != nil && ctx.Err() == nil {
		sc.failed = append(sc.failed, finding{phase: "startup", msg: err.Error(), kind: kindInvariant})
		fmt.Fprintln(out, "FAIL startup:", err)
	}

	go runUntil(sc.gen, genCtx, genDone)
	var tick sync.WaitGroup
	tickCtx, stopTick := context.WithCancel(ctx)
	if sc.progress {
		tick.Go(func() { sc.tickProgress(tickCtx) })
	}
	tick.Go(func() { sc.trackCapacity(tickCtx) })
	fmt.Fprintln(out)
	sc.header()
	for _, ph := range sc.phases() {
		if ctx.Err() != nil {
			break
		}
		if opt.only == nil || opt.only[ph.name] {
			ph.run(ctx)
		}
	}
	stopTick()
	tick.Wait()

	if err := stopAll(); err != nil {
		sc.failed = append(sc.failed, finding{phase: "shutdown", msg: err.Error(), kind: kindInvariant})
	}
	transport.CloseIdleConnections()
	if ctx.Err() == nil {
		// As serve does: by id, every goroutine started since the start has ended.
		settle := opt.settle
		if settle == 0 {
			settle = 5 * time.Second
		}
		if leaked, left := settleGoroutines(before, settle); len(leaked) > 0 {
			sc.failed = append(sc.failed, finding{phase: "shutdown", kind: kindInvariant,
				msg: fmt.Sprintf("%d goroutines started by the scenario still run after the shutdown (%d before start, %d now):\n%s",
					len(leaked), len(before), left, strings.Join(leaked, "\n\n"))})
		}
	}
	fmt.Fprintln(out)
	for _, f := range sc.failed {
		fmt.Fprintln(out, "FAIL", f)
	}
	if ctx.Err() != nil {
		where := "between phases"
		if sc.interrupted != "" {
			where = "during phase " + sc.interrupted
		}
		fmt.Fprintf(out, "interrupted %s: it and the phases after it were not run to the end nor judged\n", where)
		return exitInterrupted, sc.failed
	}
	if len(sc.failed) > 0 {
		return exitFailed, sc.failed
	}
	fmt.Fprintln(out, "OK: every phase met its expectations; clean shutdown: every goroutine the scenario started has ended")
	return exitOK, nil
}

func runUntil(g *loadGen, ctx context.Context, done chan<- struct{}) {
	defer close(done)
	g.Run(ctx)
}

func printURLs(out io.Writer, s *Service) {
	fmt.Fprintln(out, "app:        ", s.URL()+"/")
	fmt.Fprintln(out, "dashboard:  ", s.URL()+"/debug/metrics")
	fmt.Fprintln(out, "metrics:    ", s.URL()+"/metrics")
	fmt.Fprintln(out, "dye admin:  ", s.URL()+"/debug/dyes")
	fmt.Fprintln(out, "log ring:   ", s.URL()+"/debug/log")
	fmt.Fprintln(out, "gray plan:  ", s.URL()+"/debug/gray")
	fmt.Fprintln(out, "downstream: ", s.downBase+"/preview")
}

// phaseRun is one phase in progress.
type phaseRun struct {
	name     string
	load     float64
	stats    *phaseStats
	extra    []*phaseStats // settling and between-phase stats: their writes and losses count too
	logs     []string      // log phases judged with it
	start    time.Time
	hold0    [2]int64
	level0   uint64
	opened0  int64
	stalled0 int64
	sched0   schedHist
	notes    []string
	fails    []finding
	sweep    int      // acknowledged writes the sweep found lost
	sweepIDs []string // a few of them
}

// expect records a broken invariant: something no machine, however busy,
// excuses (an acknowledged write lost, a field dropped, a debug line of an
// undyed user).
func (p *phaseRun) expect(ok bool, format string, args ...any) {
	if !ok {
		p.fails = append(p.fails, finding{phase: p.name, msg: fmt.Sprintf(format, args...), kind: kindInvariant})
	}
}

// sla records a missed service level: a rate, a ratio or a time limit that
// the service meets on a machine that gives it the CPU it needs.
func (p *phaseRun) sla(ok bool, format string, args ...any) {
	if !ok {
		p.fails = append(p.fails, finding{phase: p.name, msg: fmt.Sprintf(format, args...), kind: kindSLA})
	}
}

// Kinds of failed expectations.
const (
	kindInvariant = "invariant"     // broken whatever the machine
	kindSLA       = "service level" // missed on a machine that gave the service its CPU
	kindBusy      = "machine too busy"
)

// finding is a phase's failed expectation.
type finding struct {
	phase, msg string
	kind       string
}

func (f finding) String() string {
	return "phase " + f.phase + " (" + f.kind + "): " + f.msg
}

// tooBusy tells whether the machine starved the run of CPU in the phase
// (r's figures), so its service levels measure the machine, not the
// service: the Go scheduler's latency reached schedBusyP99 at its 99th
// percentile, or the load generator woke up over 100 ms late for more than
// a tenth of the phase. Neither depends on the service: a service whose
// handlers got slower lowers the measured capacity but is not "too busy"
// (see the capacity service level in end). It returns the reason, or "".
func (sc *scenario) tooBusy(p *phaseRun, r *row) string {
	if r.schedP99 >= schedBusyP99 {
		return fmt.Sprintf("runnable goroutines waited up to %v for a CPU (scheduler latency p99, want < %v): the process waited for the machine",
			r.schedP99, schedBusyP99)
	}
	if r.stalled > r.dur/10 {
		return fmt.Sprintf("the load generator woke up more than 100ms late for %.1fs of the phase's %.1fs: the process waited for a CPU",
			r.stalled.Seconds(), r.dur.Seconds())
	}
	return ""
}

func (p *phaseRun) note(format string, args ...any) {
	p.notes = append(p.notes, fmt.Sprintf(format, args...))
}

func (sc *scenario) begin(name string, load float64, dyed string) *phaseRun {
	sc.logs.setPhase(name, dyed)
	sc.load.Store(math.Float64bits(load))
	sc.gen.setRate(load * sc.capacity())
	p := &phaseRun{name: name, load: load, logs: []string{name}}
	if prev := sc.current.Load(); prev != nil {
		p.logs = append(p.logs, prev.name+"~") // the lines written between the phases
	}
	p.extra = append(p.extra, sc.gen.swap())
	p.stats = sc.gen.current()
	sc.mark(p)
	sc.current.Store(p)
	return p
}

// settle lets the service settle under the phase's load until cond holds
// (or max passes); what happened meanwhile counts toward writes and
// losses, not toward the phase's rates.
func (sc *scenario) settle(ctx context.Context, p *phaseRun, max time.Duration, cond func() bool) bool {
	ok := waitFor(ctx, max, cond)
	p.extra = append(p.extra, sc.gen.swap())
	p.stats = sc.gen.current()
	sc.mark(p)
	return ok
}

func (sc *scenario) mark(p *phaseRun) {
	p.start = time.Now()
	p.hold0 = [2]int64{sc.svc.hold.nanos.Load(), sc.svc.hold.count.Load()}
	p.level0 = sc.svc.tel.shed.With("level").Value()
	p.opened0 = sc.svc.opened.Load()
	p.stalled0 = sc.gen.stalled.Load()
	p.sched0 = readSched()
}

// waitFor polls cond every 50 ms for at most max.
func waitFor(ctx context.Context, max time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(max)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// row is a finished phase's line of the table.
type row struct {
	dur      time.Duration
	stalled  time.Duration // the load generator's lateness (see tooBusy)
	schedP99 time.Duration // the scheduler's latency (see tooBusy)
	offered  float64
	goodput  float64
	capacity float64
	success  [4]float64
	p99      time.Duration
	shed     float64
	breaker  string
	gray     string
	acked    int
	lost     int
	tlvBad   int
	mismatch int
	dropped  int
	log      logResult
}

// end closes the phase: later log lines and requests count elsewhere, and
// once every request issued in it has been answered it is judged.
func (sc *scenario) end(p *phaseRun) *row {
	sc.logs.setPhase(p.name+"~", "")
	st := p.stats
	r := &row{dur: time.Since(p.start), stalled: time.Duration(sc.gen.stalled.Load() - p.stalled0), schedP99: readSched().p99Since(p.sched0)}
	sc.gen.swap()
	for _, s := range append([]*phaseStats{st}, p.extra...) {
		s.wg.Wait()
	}
	holdNanos := sc.svc.hold.nanos.Load() - p.hold0[0]
	holdN := sc.svc.hold.count.Load() - p.hold0[1]

	st.mu.Lock()
	defer st.mu.Unlock()
	secs := r.dur.Seconds()
	sent, ok, shed := st.total(&st.sent), st.total(&st.ok), st.total(&st.shed)
	r.offered = float64(sent) / secs
	r.capacity = sc.svc.cfg.Capacity()
	if holdN > 0 {
		r.capacity = float64(sc.svc.cfg.Slots) / (float64(holdNanos) / float64(holdN) / 1e9)
	}
	r.goodput = float64(ok) / secs / math.Max(1e-9, math.Min(r.offered, r.capacity))
	for c := range 4 {
		r.success[c] = math.NaN()
		if st.sent[c] > 0 {
			r.success[c] = float64(st.ok[c]) / float64(st.sent[c])
		}
	}
	r.p99 = st.p99()
	if sent > 0 {
		r.shed = float64(shed) / float64(sent)
	}
	state := sc.svc.prev.group.State(sc.svc.prev.host)
	r.breaker = state.String()
	if n := sc.svc.opened.Load() - p.opened0; n > 0 {
		r.breaker += fmt.Sprintf(" (%d×open)", n)
	}
	share := 0
	if ps, ok := sc.svc.plan.Status()[release]; ok {
		share = ps.Share
	}
	r.gray = "-"
	if st.served > 0 {
		r.gray = fmt.Sprintf("%4.1f%% (%d%%)", 100*float64(st.v2)/float64(st.served), share/100)
	}
	r.acked, r.lost, r.tlvBad, r.mismatch, r.dropped = st.acked, st.lost+p.sweep, st.tlvBad, st.grayMismatch, st.genDropped
	lostIDs := append(slices.Clone(st.lostIDs), p.sweepIDs...)
	for _, e := range p.extra {
		e.mu.Lock()
		r.acked += e.acked
		r.lost += e.lost
		r.tlvBad += e.tlvBad
		r.mismatch += e.grayMismatch
		r.dropped += e.genDropped
		lostIDs = append(lostIDs, e.lostIDs...)
		e.mu.Unlock()
	}
	for _, name := range p.logs {
		lr := sc.logs.result(name)
		r.log.dyedDebug += lr.dyedDebug
		r.log.stray += lr.stray
		r.log.flights += lr.flights
		r.log.noRequest += lr.noRequest
		r.log.warn += lr.warn
		r.log.error += lr.error
		if lr.strayUser != "" {
			r.log.strayUser = lr.strayUser
		}
	}

	// What every phase must show, whatever its fault.
	p.expect(r.lost == 0, "%d acknowledged writes lost (e.g. %v)", r.lost, lostIDs)
	p.expect(r.tlvBad == 0, "%d reads where a client lost fields it does not know", r.tlvBad)
	p.expect(r.mismatch == 0, "%d previews made in another gray lane than the request's", r.mismatch)
	p.expect(r.log.stray == 0, "%d requests of undyed users (e.g. %s) wrote debug lines outside a failed request's flight", r.log.stray, r.log.strayUser)
	p.expect(r.log.noRequest == 0, "%d debug lines outside any request", r.log.noRequest)
	if nominal := sc.svc.cfg.Capacity(); r.capacity < 0.5*nominal {
		p.sla(false, "the front's capacity fell to %.0f req/s, under half its nominal %.0f: its handlers hold a slot %.1f× their nominal %v",
			r.capacity, nominal, nominal/r.capacity, sc.svc.cfg.Work)
	}
	p.sla(r.dropped == 0, "the load generator dropped %d requests (more than %d in flight)", r.dropped, maxInFlight)
	return r
}

func (sc *scenario) header() {
	sc.printf("%-10s %5s %5s %8s %7s %7s %7s %7s %7s %7s %6s  %-16s %-12s %6s %4s  %s\n",
		"phase", "time", "load", "offered", "goodput", "c0 send", "c1 read", "c2 prev", "c3 type", "p99", "shed", "breaker", "v2 (plan)", "acked", "lost", "result")
	sc.printf("%s", legend)
}

// legend explains the table's columns, once, under its header.
const legend = `  load: offered ÷ the capacity measured now (the front's slots ÷ the mean time a request holds one)
  goodput: requests served ÷ min(offered, capacity), so 1.00 is all the front could serve (a little over 1 is measurement noise)
  c0..c3: share of each business class's requests answered (send, read, preview, typing; class 0 is shed last)
  p99: the clients' latency of the answered requests; shed: refused by the clients' Gate or the front's admission level
  breaker: the downstream's breaker at the end (N×open: times it opened); v2 (plan): share answered by v2 (the plan's share)
  acked, lost: writes acknowledged in the phase, and acknowledged writes found gone; level a.b in the notes: DAGOR
  admission level business.user (255.255 admits all; 0.125 admits only class 0, from users at levels 0 to 125)
`

func (sc *scenario) report(p *phaseRun, r *row) {
	pct := func(x float64) string {
		if math.IsNaN(x) {
			return "-"
		}
		return fmt.Sprintf("%.1f%%", 100*x)
	}
	if sc.ctx.Err() != nil { // Ctrl-C: the phase was cut short; judging it would invent failures
		sc.interrupted = p.name
		return
	}
	if busy := sc.tooBusy(p, r); busy != "" {
		// The service levels measured the machine: say so instead.
		fails := p.fails[:0]
		var missed []string
		for _, f := range p.fails {
			if f.kind == kindSLA {
				missed = append(missed, f.msg)
				continue
			}
			fails = append(fails, f)
		}
		p.fails = fails
		if len(missed) > 0 {
			p.fails = append(p.fails, finding{phase: p.name, kind: kindBusy,
				msg: fmt.Sprintf("%s; so these service levels were not judged: %s", busy, strings.Join(missed, "; "))})
		}
	}
	verdict := "ok"
	if len(p.fails) > 0 {
		verdict = "FAIL"
		sc.failed = append(sc.failed, p.fails...)
	}
	sc.printf("%-10s %4.1fs %4.1f× %6.0f/s %7.2f %7s %7s %7s %7s %5dms %6s  %-16s %-12s %6d %4d  %s\n",
		p.name, r.dur.Seconds(), p.load, r.offered, r.goodput, pct(r.success[0]), pct(r.success[1]), pct(r.success[2]), pct(r.success[3]),
		r.p99.Milliseconds(), pct(r.shed), r.breaker, r.gray, r.acked, r.lost, verdict)
	for _, n := range p.notes {
		sc.printf("%12s %s\n", "·", n)
	}
	for _, f := range p.fails {
		sc.printf("%12s FAIL (%s): %s\n", "!", f.kind, f.msg)
	}
}

func (sc *scenario) printf(format string, args ...any) {
	sc.outMu.Lock()
	defer sc.outMu.Unlock()
	if sc.progress {
		fmt.Fprint(sc.out, "\r\033[K")
	}
	fmt.Fprintf(sc.out, format, args...)
}

// tickProgress prints one progress line per second, on a terminal only.
func (sc *scenario) tickProgress(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p := sc.current.Load()
		if p == nil {
			continue
		}
		st := sc.gen.current()
		st.mu.Lock()
		sent, ok, shed := st.total(&st.sent), st.total(&st.ok), st.total(&st.shed)
		st.mu.Unlock()
		sc.outMu.Lock()
		fmt.Fprintf(sc.out, "\r\033[K  %-10s %4.1fs  sent %5d  ok %5d  shed %5d  level %-7s  breaker %-9s  plan %d%%",
			p.name, time.Since(p.start).Seconds(), sent, ok, shed, sc.svc.ctrl.Level(), sc.svc.prev.group.State(sc.svc.prev.host), sc.planShare()/100)
		sc.outMu.Unlock()
	}
}

func (sc *scenario) planShare() int {
	return sc.svc.plan.Status()[release].Share
}

// sweepResult is what a sweep of the acknowledged messages found.
type sweepResult struct {
	checked    int
	lost       int      // read back as not found, or with other content: gone
	lostIDs    []string // a few of them
	unreadable int      // no answer from a quorum of replicas (down, slow): not known to be lost
	example    string   // one lost or unreadable message and why
}

// sweep reads every acknowledged message straight through the quorum
// client. A message read back missing or changed is lost; one that a
// quorum of replicas did not answer for (after three tries) is unreadable
// now, which says nothing of whether it is stored. A read that ctx cut
// short (Ctrl-C) counts as neither.
func (sc *scenario) sweep(ctx context.Context) sweepResult {
	msgs := sc.gen.acked.all()
	res := sweepResult{checked: len(msgs)}
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(msgs) || ctx.Err() != nil {
					return
				}
				m := msgs[i]
				var v []byte
				var err error
				for try := 0; try < 3; try++ { // a replica timing out on a busy machine is not a loss
					cctx, cancel := context.WithTimeout(ctx, time.Second)
					v, err = sc.svc.store.client.Get(cctx, messageKey(m.user, m.id()))
					cancel()
					if err == nil || errors.Is(err, quorum.ErrNotFound) || ctx.Err() != nil {
						break
					}
				}
				lost := false
				switch {
				case ctx.Err() != nil:
					return
				case err == nil:
					if err = m.check(v, 2); err != nil {
						lost = true
					}
				case errors.Is(err, quorum.ErrNotFound):
					lost = true
				}
				if err == nil {
					continue
				}
				mu.Lock()
				if lost {
					res.lost++
					if len(res.lostIDs) < 5 {
						res.lostIDs = append(res.lostIDs, m.user+"/"+m.id())
					}
				} else {
					res.unreadable++
				}
				if lost || res.lost == 0 {
					res.example = fmt.Sprintf("%s/%s: %v", m.user, m.id(), err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return res
}

// namedPhase is one phase of the bad day.
type namedPhase struct {
	name string
	run  func(context.Context)
}

func (sc *scenario) phases() []namedPhase {
	return []namedPhase{
		{"normal", sc.phaseNormal},
		{"overload", sc.phaseOverload},
		{"zone lost", sc.phaseZoneLost},
		{"downstream", sc.phaseDownstream},
		{"bad v2", sc.phaseBadV2},
		{"dye", sc.phaseDye},
		{"recovery", sc.phaseRecovery},
	}
}

func (sc *scenario) run(ctx context.Context, d time.Duration) {
	waitFor(ctx, d, func() bool { return false })
}

// healthy requires every class served at min or better, little shed, and
// writes acknowledged.
func healthy(p *phaseRun, r *row, min float64) {
	for c, x := range r.success {
		p.sla(x >= min, "class %d success %.1f%%, want ≥ %.0f%%", c, 100*x, 100*min)
	}
	p.sla(r.shed <= 0.02, "shed %.1f%%, want ≤ 2%%", 100*r.shed)
	p.sla(r.acked > 0, "no write acknowledged")
}

// 1. Normal: 0.6× capacity; everything served.
func (sc *scenario) phaseNormal(ctx context.Context) {
	p := sc.begin("normal", normalLoad, "")
	sc.run(ctx, sc.t.normal)
	r := sc.end(p)
	healthy(p, r, 0.98)
	p.sla(strings.HasPrefix(r.breaker, "closed"), "breaker %s, want closed", r.breaker)
	p.note("capacity %.0f req/s measured (slots ÷ mean hold time); plan at %d%% v2", r.capacity, sc.planShare()/100)
	sc.report(p, r)
}

// 2. 4× overload: DAGOR sheds the least important business classes and
// users first; sends keep going and goodput holds. On a machine too busy to
// measure that (see tooBusy) the phase runs once more before it is judged.
func (sc *scenario) phaseOverload(ctx context.Context) {
	s := sc.svc
	for attempt := 1; ; attempt++ {
		p := sc.begin("overload", overloadLoad, "")
		sc.run(ctx, sc.t.overload)
		levelAtEnd := s.ctrl.Level()
		r := sc.end(p)
		levelSheds := s.tel.shed.With("level").Value() - p.level0
		p.sla(r.success[0] >= 0.99, "class 0 success %.2f%% (%d sent: %d shed, %d failed or timed out), want ≥ 99%%",
			100*r.success[0], p.stats.sent[0], p.stats.shed[0], p.stats.failed[0])
		p.sla(r.goodput >= 0.8, "goodput %.2f of capacity, want ≥ 0.80", r.goodput)
		p.sla(levelSheds > 0 && p.stats.gated > 0, "the admission level shed nothing (front %d, clients' Gate %d)", levelSheds, p.stats.gated)
		p.sla(r.success[3] <= r.success[0]-0.3, "class 3 success %.1f%% not below class 0's %.1f%%: shedding ignored priority", 100*r.success[3], 100*r.success[0])
		p.note("capacity %.0f req/s; shed: %d by the clients' Gate, %d by the front's admission level (level %v at the end); p99 of the served %v",
			r.capacity, p.stats.gated, levelSheds, levelAtEnd, r.p99.Round(time.Millisecond))
		if busy := sc.tooBusy(p, r); busy != "" && attempt == 1 && ctx.Err() == nil {
			// Not judged: the machine, not the service, was measured.
			for _, f := range p.fails {
				if f.kind != kindSLA {
					sc.failed = append(sc.failed, f)
				}
			}
			sc.printf("%-10s %4.1fs %4.1f× %6.0f/s %7.2f  machine too busy: %s; running the phase again\n",
				p.name, r.dur.Seconds(), p.load, r.offered, r.goodput, busy)
			continue
		}
		sc.report(p, r)
		return
	}
}

// 3. A whole zone lost, data and all, once the level has reopened.
func (sc *scenario) phaseZoneLost(ctx context.Context) {
	s, t := sc.svc, sc.t
	p := sc.begin("zone lost", normalLoad, "")
	settleStart := time.Now()
	// Settled: the front's level is open and no request, at the front or at
	// the clients' Gate, was shed for half a second.
	// (The last shed is the generator's, not the phase's: a fresh phase
	// has none, while the clients' Gate may still hold the overload's level.)
	reopened := sc.settle(ctx, p, t.settleMax, func() bool {
		quiet := time.Since(time.Unix(0, sc.gen.lastShed.Load())) > 500*time.Millisecond
		return quiet && s.ctrl.Level().IsOpen()
	})
	settled := time.Since(settleStart)
	// Before it burns, the other zones' replicas refuse writes for a
	// moment (read-only, as after a failover): a write acknowledged then
	// would live in the lost zone alone. The real store refuses those
	// writes (W = 2 in two zones); one that acknowledged a write on one
	// replica would lose them with the zone.
	// The cut and the crash count toward writes and losses, not the rates.
	cutAt := time.Now()
	n := 0
	sc.settle(ctx, p, t.cut+time.Second, func() bool {
		if time.Since(cutAt) < t.cut {
			s.store.othersReadOnly(lostZone, true)
			return false
		}
		n = s.store.loseZone(lostZone)
		s.store.othersReadOnly(lostZone, false)
		return true
	})
	if n == 0 { // cut short by Ctrl-C
		n = s.store.loseZone(lostZone)
		s.store.othersReadOnly(lostZone, false)
	}
	sc.run(ctx, t.zone)
	sw := sc.sweep(ctx)
	p.sweep, p.sweepIDs = sw.lost, sw.lostIDs
	sc.unreadable = sw.unreadable
	r := sc.end(p)
	p.sla(reopened, "the admission level did not reopen within %v after the overload", t.settleMax)
	p.sla(r.acked > 0, "no write acknowledged with %s lost", lostZone)
	p.sla(r.success[0] >= 0.98 && r.success[1] >= 0.98, "sends %.1f%%, reads %.1f%% with a zone lost, want ≥ 98%%", 100*r.success[0], 100*r.success[1])
	p.expect(sw.lost == 0, "sweep: %d of %d acknowledged messages lost with %s down (%s)", sw.lost, sw.checked, lostZone, sw.example)
	p.sla(sw.unreadable == 0, "sweep: %d of %d acknowledged messages unreadable now with %s down (%s): not known to be lost; the recovery phase reads them again",
		sw.unreadable, sw.checked, lostZone, sw.example)
	p.note("level reopened %.1fs after the overload; the other zones read-only for %v (writes then fail: they need two zones), then %s crashed and wiped (%d replica); sweep of all %d acknowledged messages over the 2 zones left: %d lost, %d unreadable",
		settled.Seconds(), t.cut, lostZone, n, sw.checked, sw.lost, sw.unreadable)
	sc.report(p, r)
}

// 4. The preview service fails 40 % of calls: the error-ratio alert fires,
// the breaker opens on the next failure, the fallback answers; then the
// service heals and the breaker closes again.
func (sc *scenario) phaseDownstream(ctx context.Context) {
	s, t := sc.svc, sc.t
	p := sc.begin("downstream", normalLoad, "")
	// First the downstream degrades (one renderer left): its own
	// Controller sheds, its responses carry its level, and the Gate on the
	// call refuses the calls it would shed before they are sent.
	gated0, remote0 := s.prev.gated.Load(), s.prev.remoteShed.Load()
	s.down.degraded.Store(true)
	waitFor(ctx, t.downShedMax, func() bool { return s.prev.gated.Load()-gated0 >= 3 })
	s.down.degraded.Store(false)
	gated, remote := s.prev.gated.Load()-gated0, s.prev.remoteShed.Load()-remote0
	byAlert0 := s.alertTrip.Load()
	s.down.failPermille.Store(400)
	// Fail until the breaker has opened (or downFailMax), then a while
	// longer: the fallback answers and the breaker probes.
	waitFor(ctx, t.downFailMax, func() bool { return s.opened.Load() > p.opened0 })
	sc.run(ctx, t.downFail)
	openedWhileFailing := s.opened.Load() - p.opened0
	s.down.failPermille.Store(0)
	healed := time.Now()
	var closedAt time.Time
	closed := waitFor(ctx, t.healMax, func() bool {
		if s.prev.group.State(s.prev.host) != breaker.StateClosed {
			closedAt = time.Time{}
			return false
		}
		if closedAt.IsZero() {
			closedAt = time.Now()
		}
		p.stats.mu.Lock()
		fresh := p.stats.lastRealPreview.After(closedAt.Add(300 * time.Millisecond))
		p.stats.mu.Unlock()
		return fresh
	})
	r := sc.end(p)
	fallbacks := p.stats.fallback
	p.sla(remote > 0, "the degraded downstream shed no call within %v", t.downShedMax)
	p.sla(gated > 0, "the Gate refused no call locally while the downstream shed (%d shed by it within %v)", remote, t.downShedMax)
	p.sla(openedWhileFailing > 0, "the breaker never opened while the downstream failed (waited %v)", t.downFailMax)
	p.sla(fallbacks > 0, "no fallback served")
	p.sla(r.success[2] >= 0.98, "previews %.1f%% answered, want ≥ 98%% (fallback included)", 100*r.success[2])
	p.sla(closed, "the breaker did not close and serve real previews within %v of the downstream healing", t.healMax)
	p.note("degraded first: it shed %d calls, the Gate refused %d before sending; then failing: opened %d× (%d by the alert's rule); %d fallbacks; closed %.1fs after healing",
		remote, gated, openedWhileFailing, s.alertTrip.Load()-byAlert0, fallbacks, closedAt.Sub(healed).Seconds())
	sc.report(p, r)
}

// 5. A bad v2 build: a third of its requests fail. The canary alert fires
// and has the planner judge at once; its gate (over the same metrics) rolls
// the plan back to 0 %. The planner's own periodic judging is paused for
// the phase, so the rollback can only have come from the alert: without
// the alert's wiring the phase fails.
func (sc *scenario) phaseBadV2(ctx context.Context) {
	s, t := sc.svc, sc.t
	shareBefore := sc.planShare()
	p := sc.begin("bad v2", normalLoad, "")
	s.planPaused.Store(true)
	defer s.planPaused.Store(false)
	rb0, fired0, byAlert0 := s.rollbacks.Load(), s.canaryFired.Load(), s.alertRollbacks.Load()
	s.bug.Store(300)
	bugAt := time.Now()
	var rolledAt time.Time
	rolled := waitFor(ctx, t.badMax, func() bool {
		if rolledAt.IsZero() && s.rollbacks.Load() > rb0 {
			rolledAt = time.Now()
		}
		return !rolledAt.IsZero() && time.Since(rolledAt) > time.Second
	})
	r := sc.end(p)
	lateV2 := 0
	for _, at := range p.stats.v2Issued {
		if !rolledAt.IsZero() && at.After(rolledAt.Add(300*time.Millisecond)) {
			lateV2++
		}
	}
	byAlert := s.alertRollbacks.Load() - byAlert0
	p.sla(shareBefore > 0, "the plan had not ramped v2 before the bad build (share 0)")
	p.sla(s.canaryFired.Load() > fired0, "the canary error-ratio alert did not fire within %v", t.badMax)
	p.sla(rolled && byAlert > 0, "the canary alert did not roll the plan back within %v (rollbacks: %d, by the alert's Tick: %d)",
		t.badMax, s.rollbacks.Load()-rb0, byAlert)
	p.sla(sc.planShare() == 0, "plan share %d bp after the rollback, want 0", sc.planShare())
	p.sla(lateV2 == 0, "%d requests issued after the rollback were still served by v2", lateV2)
	when := "never rolled back"
	if rolled {
		when = fmt.Sprintf("the canary alert rolled the plan back %.1fs later", rolledAt.Sub(bugAt).Seconds())
	}
	p.note("v2 at %d%% failed 30%% of requests; %s (the planner's own tick paused in this phase); %d failed requests wrote their flight (debug lines)",
		shareBefore/100, when, r.log.flights)
	sc.report(p, r)
}

// 6. An operator dyes one user through the admin endpoint: that user's
// debug lines appear, no one else's.
func (sc *scenario) phaseDye(ctx context.Context) {
	p := sc.begin("dye", normalLoad, dyedUser)
	dyeErr := sc.admin(ctx, http.MethodPost, "key="+dyedUser+"&ttl=10m")
	listed := sc.dyeListed(ctx)
	dyed := dyedUser
	sc.gen.dyed.Store(&dyed)
	sc.run(ctx, sc.t.dye)
	sc.gen.dyed.Store(nil)
	undyeErr := sc.admin(ctx, http.MethodDelete, "key="+dyedUser)
	r := sc.end(p)
	p.expect(dyeErr == nil && undyeErr == nil, "dye admin: %v %v", dyeErr, undyeErr)
	p.expect(listed, "GET /debug/dyes did not list %s", dyedUser)
	p.sla(p.stats.dyedSent > 0, "no request of %s", dyedUser)
	p.expect(r.log.dyedDebug >= p.stats.dyedServed, "%d debug lines for %d handled requests of %s, want at least one each", r.log.dyedDebug, p.stats.dyedServed, dyedUser)
	p.note("%s dyed at runtime: %d requests, %d debug lines; other users' debug lines outside failed requests: %d", dyedUser, p.stats.dyedSent, r.log.dyedDebug, r.log.stray)
	sc.report(p, r)
}

// 7. Recovery: the zone comes back empty, v2 is fixed (the plan's epoch
// bumped restarts its ramp); everything served again, and every
// acknowledged message reads back, those unreadable earlier included.
func (sc *scenario) phaseRecovery(ctx context.Context) {
	s := sc.svc
	p := sc.begin("recovery", normalLoad, "")
	s.store.restoreZone(lostZone)
	s.bug.Store(0)
	repairs0 := s.tel.repairs.With(lostZone).Value()
	fixed, err := grayConfig(1)
	if err == nil {
		err = s.router.Update(fixed)
	}
	if err == nil {
		err = s.plan.Tick(ctx)
	}
	sc.run(ctx, sc.t.recovery)
	sw := sc.sweep(ctx)
	p.sweep, p.sweepIDs = sw.lost, sw.lostIDs
	r := sc.end(p)
	healthy(p, r, 0.98)
	p.expect(err == nil, "deploying the fixed v2: %v", err)
	p.sla(strings.HasPrefix(r.breaker, "closed"), "breaker %s, want closed", r.breaker)
	p.sla(s.ctrl.Level().IsOpen(), "admission level %v, want open", s.ctrl.Level())
	p.sla(p.stats.v2 > 0 && !s.plan.Status()[release].RolledBack, "the fixed v2 is not ramping again")
	p.expect(sw.lost == 0, "final sweep: %d of %d acknowledged messages lost (%s)", sw.lost, sw.checked, sw.example)
	p.sla(sw.unreadable == 0, "final sweep: %d of %d acknowledged messages unreadable (%s): not known to be lost", sw.unreadable, sw.checked, sw.example)
	again := ""
	if sc.unreadable > 0 {
		again = fmt.Sprintf(" (%d were unreadable with %s down)", sc.unreadable, lostZone)
	}
	p.note("%s back (empty): %d records repaired into its replica; fixed v2 ramping again (plan at %d%%); final sweep: %d acknowledged messages%s, %d lost, %d unreadable",
		lostZone, s.tel.repairs.With(lostZone).Value()-repairs0, sc.planShare()/100, sw.checked, again, sw.lost, sw.unreadable)
	sc.report(p, r)
}

// admin calls the dye admin endpoint as an operator would.
func (sc *scenario) admin(ctx context.Context, method, query string) error {
	req, err := http.NewRequestWithContext(ctx, method, sc.svc.URL()+"/debug/dyes?"+query, nil)
	if err != nil {
		return err
	}
	resp, err := sc.api.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("%s /debug/dyes?%s: %s", method, query, resp.Status)
	}
	return nil
}

func (sc *scenario) dyeListed(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, sc.svc.URL()+"/debug/dyes", nil)
	if err != nil {
		return false
	}
	resp, err := sc.api.http.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var dyes []struct{ Key string }
	if json.NewDecoder(resp.Body).Decode(&dyes) != nil {
		return false
	}
	for _, d := range dyes {
		if d.Key == dyedUser {
			return true
		}
	}
	return false
}
