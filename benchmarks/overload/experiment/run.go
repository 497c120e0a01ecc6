// Package experiment is the load experiment of issue 4: Bulwark's DAGOR
// admission control against no control, a fixed x/time/rate limit and
// platinummonkey/go-concurrency-limits, on 8 workers with lognormal service
// time (mean 10 ms, capacity ≈ 800 req/s), 500 ms deadlines, Poisson
// arrivals, 4 business classes (10/20/30/40 %) and Zipf users over 10^5 ids;
// plus DAGOR's two-call task form M² at 2× and a 1× → 4× → 1× step.
//
// The same code runs in real time (cmd/experiment: workers sleep, so timing
// depends on the machine's scheduler) and in virtual time (the
// TestExperiment test runs it inside a testing/synctest bubble, where sleeps
// and timers are exact and results are independent of machine load).
package experiment

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bulwark-go/bulwark/overload"
)

const (
	slots       = 8
	meanService = 10 * time.Millisecond
	capacity    = float64(slots) * float64(time.Second) / float64(meanService) // 800 req/s
	deadline    = 500 * time.Millisecond
	users       = 100_000
)

var classShare = [4]float64{0.10, 0.20, 0.30, 0.40}

// workload draws the seeded sequence of requests.
type workload struct {
	rng       *rand.Rand
	zipf      *rand.Zipf
	ids       []string
	mu, sigma float64
}

func newWorkload(seed uint64) *workload {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ids := make([]string, users)
	for i := range ids {
		ids[i] = "user-" + strconv.Itoa(i)
	}
	// Lognormal with mean 10 ms and coefficient of variation 1.
	sigma := math.Sqrt(math.Log(2))
	mu := math.Log(float64(meanService)) - sigma*sigma/2
	return &workload{rng: rng, zipf: rand.NewZipf(rng, 1.1, 1, users-1), ids: ids, mu: mu, sigma: sigma}
}

type request struct {
	gap     time.Duration // since the previous arrival
	class   int
	user    string
	service time.Duration
}

func (w *workload) next(ratePerSec float64) request {
	r := request{gap: time.Duration(w.rng.ExpFloat64() / ratePerSec * float64(time.Second))}
	x := w.rng.Float64()
	for r.class = 0; r.class < 3 && x >= classShare[r.class]; r.class++ {
		x -= classShare[r.class]
	}
	r.user = w.ids[w.zipf.Uint64()]
	r.service = time.Duration(math.Exp(w.mu + w.sigma*w.rng.NormFloat64()))
	return r
}

// outcome of one request (or one task in the M² run).
type outcome struct {
	at       time.Duration // arrival, since the run's start
	class    int
	admitted bool // got a worker (for tasks: every call did)
	ok       bool // completed within its deadline
	latency  time.Duration
}

type segment struct {
	mult float64
	dur  time.Duration
}

// drive generates Poisson arrivals for the segments and calls handle for each
// on its own goroutine. It returns when the last request has finished or been
// abandoned at stopAfter past the end.
func drive(w *workload, segs []segment, handle func(ctx context.Context, arrival time.Time, r request) outcome) []outcome {
	var (
		mu  sync.Mutex
		out []outcome
		wg  sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	next := start
	var segEnd time.Time = start
	for _, s := range segs {
		segEnd = segEnd.Add(s.dur)
		rps := s.mult * capacity
		for {
			r := w.next(rps)
			next = next.Add(r.gap)
			if !next.Before(segEnd) {
				next = segEnd
				break
			}
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
			arrival := next
			wg.Add(1)
			go func() {
				defer wg.Done()
				rctx, rcancel := context.WithDeadline(ctx, arrival.Add(deadline))
				o := handle(rctx, arrival, r)
				rcancel()
				o.at, o.class = arrival.Sub(start), r.class
				mu.Lock()
				out = append(out, o)
				mu.Unlock()
			}()
		}
	}
	// Everything still waiting a deadline after the last arrival has failed;
	// abandon it rather than wait for a collapsed queue to drain.
	time.Sleep(time.Until(segEnd.Add(deadline + 10*time.Millisecond)))
	cancel()
	wg.Wait()
	return out
}

// call runs one request against srv: admission, then the service time.
func call(ctx context.Context, srv server, arrival time.Time, r request) outcome {
	return callSlowed(ctx, srv, arrival, r, nil)
}

// callSlowed is call with the service time multiplied by slow() when the
// request starts (nil: 1), to simulate a machine that stalls.
func callSlowed(ctx context.Context, srv server, arrival time.Time, r request, slow func() float64) outcome {
	p := overload.UserPriority(r.user, arrival)
	release, ok := srv.admit(ctx, r.class, p)
	if !ok {
		return outcome{}
	}
	svc := r.service
	if slow != nil {
		svc = time.Duration(float64(svc) * slow())
	}
	serve(svc)
	end := time.Now()
	release()
	lat := end.Sub(arrival)
	return outcome{admitted: true, ok: lat <= deadline, latency: lat}
}

// sleepOvershoot is the median lateness of time.Sleep on this machine,
// measured at start; serve subtracts it so the mean service time stays 10 ms
// (otherwise the real capacity would be a few percent below 800 req/s).
var sleepOvershoot time.Duration

// Calibrate measures time.Sleep's lateness on this machine, for real-time
// runs; in a synctest bubble it measures zero.
func Calibrate() {
	var ds []time.Duration
	for range 60 {
		t := time.Now()
		time.Sleep(2 * time.Millisecond)
		ds = append(ds, time.Since(t)-2*time.Millisecond)
	}
	slices.Sort(ds)
	sleepOvershoot = max(ds[len(ds)/2], 0)
}

func serve(d time.Duration) { time.Sleep(max(d-sleepOvershoot, 0)) }

// stats summarises outcomes that arrived in [from, to).
type stats struct {
	offered, ok    int
	perClass       [4][2]int // arrivals, ok
	p50, p99       time.Duration
	goodput        float64
	admittedLatLen int
}

func summarise(out []outcome, from, to time.Duration, mult float64) stats {
	var s stats
	var lats []time.Duration
	for _, o := range out {
		if o.at < from || o.at >= to {
			continue
		}
		s.offered++
		s.perClass[o.class][0]++
		if o.ok {
			s.ok++
			s.perClass[o.class][1]++
		}
		if o.admitted {
			lats = append(lats, o.latency)
		}
	}
	secs := (to - from).Seconds()
	denom := math.Min(float64(s.offered), capacity*secs)
	if denom > 0 {
		s.goodput = float64(s.ok) / denom
	}
	slices.Sort(lats)
	s.admittedLatLen = len(lats)
	if n := len(lats); n > 0 {
		s.p50 = lats[n/2]
		s.p99 = lats[min(n-1, n*99/100)]
	}
	return s
}

func (s stats) classSuccess(c int) float64 {
	if s.perClass[c][0] == 0 {
		return math.NaN()
	}
	return float64(s.perClass[c][1]) / float64(s.perClass[c][0])
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) }

// Options selects what Run does. Zero fields mean the full run.
type Options struct {
	Quick    bool      // short phases (CI)
	Seed     uint64    // workload seed (0 means 1)
	Parts    []string  // "table", "m2", "step"; nil means all
	Loads    []float64 // load multiples for the table; nil means 0.5, 1, 2, 4
	Policies []string  // policies for the table; nil means all (Quick: without bulwark-q64)
	Mode     string    // printed in the header, e.g. "real time"
}

type runner struct{ w io.Writer }

// Run runs the experiment, writes markdown tables to w and reports whether
// Bulwark met every target it measured.
func Run(o Options, w io.Writer) bool {
	rn := &runner{w: w}
	if o.Seed == 0 {
		o.Seed = 1
	}
	loads := o.Loads
	if loads == nil {
		loads = []float64{0.5, 1, 2, 4}
	}
	tablePolicies := o.Policies
	if tablePolicies == nil {
		tablePolicies = policies
		if o.Quick {
			tablePolicies = []string{"bulwark", "bulwark-own", "none", "rate", "gcl"} // keep CI under a minute
		}
	}
	warm, measure := 3*time.Second, 7*time.Second
	m2Policies := []string{"bulwark", "bulwark-nogate", "none", "rate", "gcl"}
	stepPolicies := []string{"bulwark", "rate", "gcl"}
	stepSegs := []segment{{1, 5 * time.Second}, {4, 10 * time.Second}, {1, 10 * time.Second}}
	if o.Quick {
		warm, measure = 700*time.Millisecond, 1000*time.Millisecond
		m2Policies = []string{"bulwark", "rate"}
		stepPolicies = []string{"bulwark"}
		stepSegs = []segment{{1, 1 * time.Second}, {4, 3 * time.Second}, {1, 5 * time.Second}}
	}
	parts := map[string]bool{"table": true, "steady": true, "gate": true, "m2": true, "step": true, "stall": true}
	if o.Parts != nil {
		parts = map[string]bool{}
		for _, p := range o.Parts {
			parts[p] = true
		}
	}
	fmt.Fprintf(w, "# overload experiment (%s): %d workers, lognormal service mean %v (CV 1), capacity %.0f req/s, deadline %v, seed %d, warm-up %v, measured %v, sleep overshoot %v subtracted\n\n",
		o.Mode, slots, meanService, capacity, deadline, o.Seed, warm, measure, sleepOvershoot)

	ok := true
	if parts["table"] {
		ok = rn.runTable(o.Seed, warm, measure, loads, tablePolicies) && ok
	}
	if parts["steady"] {
		ok = rn.runSteady(warm, measure) && ok
	}
	if parts["gate"] {
		rn.runGate(warm, measure)
	}
	if parts["m2"] {
		ok = rn.runM2(o.Seed, warm, measure, m2Policies) && ok
	}
	if parts["step"] {
		ok = rn.runStep(o.Seed, stepSegs, stepPolicies) && ok
	}
	if parts["stall"] && !(o.Quick && o.Parts == nil) { // informational; keeps -quick under a minute
		rn.runStall(o.Seed, o.Quick, stepPolicies)
	}
	if ok {
		fmt.Fprintln(w, "\nRESULT: all Bulwark targets met")
	} else {
		fmt.Fprintln(w, "\nRESULT: some Bulwark targets missed (see above)")
	}
	return ok
}

func (rn *runner) runTable(seed uint64, warm, measure time.Duration, loads []float64, pols []string) bool {
	fmt.Fprintln(rn.w, "## Single tier: goodput, success per business class, latency of admitted requests")
	fmt.Fprintln(rn.w)
	fmt.Fprintln(rn.w, "| load | policy | goodput | class 0 | class 1 | class 2 | class 3 | p50 ms | p99 ms | served/s |")
	fmt.Fprintln(rn.w, "|---|---|---|---|---|---|---|---|---|---|")
	met := true
	for _, mult := range loads {
		for _, pol := range pols {
			stop := make(chan struct{})
			srv := newServer(pol, stop)
			w := newWorkload(seed)
			out := drive(w, []segment{{mult, warm + measure}}, func(ctx context.Context, at time.Time, r request) outcome {
				o := call(ctx, srv, at, r)
				return o
			})
			close(stop)
			s := summarise(out, warm, warm+measure, mult)
			fmt.Fprintf(rn.w, "| %g× | %s | %.3f | %.3f | %.3f | %.3f | %.3f | %s | %s | %.0f |\n", mult, policyNames[pol], s.goodput,
				s.classSuccess(0), s.classSuccess(1), s.classSuccess(2), s.classSuccess(3), ms(s.p50), ms(s.p99),
				float64(s.admittedLatLen)/measure.Seconds())
			if pol == "bulwark" && mult == 4 {
				if s.goodput < 0.9 || s.classSuccess(0) < 0.99 || s.p99 > 100*time.Millisecond {
					met = false
				}
			}
		}
	}
	fmt.Fprintln(rn.w)
	fmt.Fprintln(rn.w, "served/s: admitted requests per second, whether or not in time; the machine's real capacity shows in the saturated rows.")
	fmt.Fprintln(rn.w)
	fmt.Fprintln(rn.w, "Targets at 4× for Bulwark (default config): goodput ≥ 0.9, class 0 ≥ 0.99, p99 ≤ 100 ms:", verdict(met))
	fmt.Fprintln(rn.w)
	return met
}

// steadySeeds are the workload seeds of the steady-1× table.
var steadySeeds = []uint64{1, 2, 3, 4}

// runSteady: Poisson arrivals at ρ = 0.95 and ρ = 1.0 of the nominal
// capacity, both Bulwark modes, seeds 1–4; refusals by reason. The target
// ("at steady 1× nothing is shed", issue 16.3) is no level refusal at
// ρ = 0.95; ρ = 1.0 is reported as measured.
func (rn *runner) runSteady(warm, measure time.Duration) bool {
	fmt.Fprintln(rn.w, "## Steady load: Poisson at ρ = 0.95 and 1.0, refusals by reason over the whole run")
	fmt.Fprintln(rn.w)
	fmt.Fprintln(rn.w, "| ρ | policy | seed | goodput | class 3 | level refusals | queue full/displaced | deadline | gave up waiting | windows closed |")
	fmt.Fprintln(rn.w, "|---|---|---|---|---|---|---|---|---|---|")
	met := true
	for _, mult := range []float64{0.95, 1} {
		for _, pol := range []string{"bulwark", "bulwark-own"} {
			for _, seed := range steadySeeds {
				stop := make(chan struct{})
				srv := newServer(pol, stop)
				var n *refusals
				switch x := srv.(type) {
				case *bulwarkServer:
					n = x.n
				case *ownQueueServer:
					n = x.n
				}
				out := drive(newWorkload(seed), []segment{{mult, warm + measure}}, func(ctx context.Context, at time.Time, r request) outcome {
					return call(ctx, srv, at, r)
				})
				close(stop)
				s := summarise(out, warm, warm+measure, mult)
				fmt.Fprintf(rn.w, "| %g | %s | %d | %.3f | %.3f | %d | %d | %d | %d | %d of %d |\n", mult, policyNames[pol], seed, s.goodput,
					s.classSuccess(3), n.level.Load(), n.queue.Load(), n.deadline.Load(), n.gone.Load(), n.closedWindows.Load(), n.windows.Load())
				if mult < 1 && n.level.Load() > 0 {
					met = false
				}
			}
		}
	}
	fmt.Fprintln(rn.w)
	fmt.Fprintln(rn.w, "Target for Bulwark (both modes, seeds 1–4): no level refusal at ρ = 0.95:", verdict(met))
	fmt.Fprintln(rn.w)
	return met
}

// runGate: one tier at 2× and 4× with and without a shedding Gate in front
// (the client drops what the cached level refuses, the level piggybacked on
// every reply), seeds 1–4. It reports goodput, class 0 and the level trace:
// how many windows ended open while the load was 2× or 4× and how many
// times the level changed. Informational: issue 16 sets no target.
func (rn *runner) runGate(warm, measure time.Duration) {
	fmt.Fprintln(rn.w, "## Shedding Gate in front: level cycling (slot mode)")
	fmt.Fprintln(rn.w)
	fmt.Fprintln(rn.w, "| load | seed | goodput without / with Gate | class 0 without / with | windows ended open without / with | level changes without / with | level trace with Gate (business.user per window) |")
	fmt.Fprintln(rn.w, "|---|---|---|---|---|---|---|")
	for _, mult := range []float64{2, 4} {
		for _, seed := range steadySeeds {
			var good, c0 [2]float64
			var open, changes [2]int
			var trace []string
			for g := range 2 {
				stop := make(chan struct{})
				srv := newServer("bulwark", stop).(*bulwarkServer)
				var gate *overload.Gate
				if g == 1 {
					var err error
					if gate, err = overload.NewGate(overload.GateConfig{}); err != nil {
						panic(err)
					}
				}
				out := drive(newWorkload(seed), []segment{{mult, warm + measure}}, func(ctx context.Context, at time.Time, r request) outcome {
					if gate != nil {
						p := overload.Priority{Business: uint8(r.class), User: overload.UserPriority(r.user, at)}
						if gate.Allow("svc", p) != nil {
							return outcome{}
						}
						// What RoundTripper sends in the GateLevelHeader and
						// GateHeldHeader, and Middleware passes on.
						if l, held, ok := gate.Enforced("svc"); ok {
							srv.c.ObserveGate(l, held)
						}
						defer gate.Observe("svc", srv.level())
					}
					return call(ctx, srv, at, r)
				})
				close(stop)
				s := summarise(out, warm, warm+measure, mult)
				good[g], c0[g] = s.goodput, s.classSuccess(0)
				srv.n.mu.Lock()
				prev := overload.LevelOpen
				for _, l := range srv.n.trace {
					if l.IsOpen() {
						open[g]++
					}
					if l != prev {
						changes[g]++
					}
					prev = l
					if g == 1 {
						trace = append(trace, l.String())
					}
				}
				srv.n.mu.Unlock()
			}
			fmt.Fprintf(rn.w, "| %g× | %d | %.3f / %.3f | %.3f / %.3f | %d / %d | %d / %d | %s |\n", mult, seed, good[0], good[1], c0[0], c0[1],
				open[0], open[1], changes[0], changes[1], strings.Join(trace, " "))
		}
	}
	fmt.Fprintln(rn.w)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// runM2: each task makes two sequential calls to the same saturated service
// (DAGOR's M²); tasks arrive at capacity/2 per second, so calls arrive at 2×
// capacity if both are sent, and the best possible task success is 0.5.
func (rn *runner) runM2(seed uint64, warm, measure time.Duration, pols []string) bool {
	fmt.Fprintln(rn.w, "## Two calls per task (M²) at 2×: task success vs the optimum f_sat/f = 0.5")
	fmt.Fprintln(rn.w)
	fmt.Fprintln(rn.w, "| policy | task success | ÷ optimum | class 0 | class 3 |")
	fmt.Fprintln(rn.w, "|---|---|---|---|---|")
	met := true
	for _, pol := range pols {
		stop := make(chan struct{})
		base := pol
		useGate := pol == "bulwark"
		if pol == "bulwark-nogate" {
			base = "bulwark"
		}
		srv := newServer(base, stop)
		var gate *overload.Gate
		if useGate {
			var err error
			gate, err = overload.NewGate(overload.GateConfig{})
			if err != nil {
				panic(err)
			}
		}
		w := newWorkload(seed)
		var svcMu sync.Mutex
		out := drive(w, []segment{{1, warm + measure}}, func(ctx context.Context, at time.Time, r request) outcome {
			// The second call's service time comes from the same seeded stream.
			svcMu.Lock()
			second := time.Duration(math.Exp(w.mu + w.sigma*w.rng.NormFloat64()))
			svcMu.Unlock()
			prio := overload.Priority{Business: uint8(r.class), User: overload.UserPriority(r.user, at)}
			for i, svc := range []time.Duration{r.service, second} {
				if gate != nil {
					if err := gate.Allow("M", prio); err != nil {
						return outcome{}
					}
					if l, held, ok := gate.Enforced("M"); ok {
						srv.(*bulwarkServer).c.ObserveGate(l, held)
					}
				}
				release, ok := srv.admit(ctx, r.class, prio.User)
				if gate != nil {
					gate.Observe("M", srv.level()) // the level piggybacked on the reply
				}
				if !ok {
					return outcome{}
				}
				serve(svc)
				release()
				if i == 1 {
					lat := time.Since(at)
					return outcome{admitted: true, ok: lat <= deadline, latency: lat}
				}
			}
			return outcome{}
		})
		close(stop)
		s := summarise(out, warm, warm+measure, 1)
		succ := float64(s.ok) / float64(max(s.offered, 1))
		name := policyNames[base]
		if pol == "bulwark" {
			name += " + Gate"
		}
		fmt.Fprintf(rn.w, "| %s | %.3f | %.2f | %.3f | %.3f |\n", name, succ, succ/0.5, s.classSuccess(0), s.classSuccess(3))
		if pol == "bulwark" && succ < 0.45 {
			met = false
		}
	}
	fmt.Fprintln(rn.w)
	fmt.Fprintln(rn.w, "Target for Bulwark: task success ≥ 0.45 (0.9 × optimum):", verdict(met))
	fmt.Fprintln(rn.w)
	return met
}

// runStep: 1× → 4× → 1×, goodput per 500 ms bucket; recovery is the time
// from the drop until the end of the first bucket with goodput ≥ 0.95.
func (rn *runner) runStep(seed uint64, segs []segment, pols []string) bool {
	fmt.Fprintf(rn.w, "## Step %g× (%v) → %g× (%v) → %g× (%v): goodput per 500 ms, recovery after the drop\n\n",
		segs[0].mult, segs[0].dur, segs[1].mult, segs[1].dur, segs[2].mult, segs[2].dur)
	const bucket = 500 * time.Millisecond
	dropAt := segs[0].dur + segs[1].dur
	total := dropAt + segs[2].dur
	met := true
	var lines []string
	var recov []string
	for _, pol := range pols {
		stop := make(chan struct{})
		srv := newServer(pol, stop)
		w := newWorkload(seed)
		out := drive(w, segs, func(ctx context.Context, at time.Time, r request) outcome {
			return call(ctx, srv, at, r)
		})
		close(stop)
		var row []string
		recovery := time.Duration(-1)
		for from := time.Duration(0); from < total; from += bucket {
			mult := segs[0].mult
			switch {
			case from >= dropAt:
				mult = segs[2].mult
			case from >= segs[0].dur:
				mult = segs[1].mult
			}
			s := summarise(out, from, from+bucket, mult)
			row = append(row, strconv.FormatFloat(s.goodput, 'f', 2, 64))
			if from >= dropAt && recovery < 0 && s.goodput >= 0.95 {
				recovery = from + bucket - dropAt
			}
		}
		lines = append(lines, fmt.Sprintf("| %s | %s |", policyNames[pol], strings.Join(row, " ")))
		rs := "never"
		if recovery >= 0 {
			rs = recovery.String()
		}
		recov = append(recov, fmt.Sprintf("| %s | %s |", policyNames[pol], rs))
		if pol == "bulwark" && (recovery < 0 || recovery > 5*time.Second) {
			met = false
		}
	}
	fmt.Fprintln(rn.w, "| policy | goodput per 500 ms bucket |")
	fmt.Fprintln(rn.w, "|---|---|")
	for _, l := range lines {
		fmt.Fprintln(rn.w, l)
	}
	fmt.Fprintln(rn.w)
	fmt.Fprintln(rn.w, "| policy | recovery to ≥ 0.95 goodput after the drop |")
	fmt.Fprintln(rn.w, "|---|---|")
	for _, l := range recov {
		fmt.Fprintln(rn.w, l)
	}
	fmt.Fprintln(rn.w)
	fmt.Fprintln(rn.w, "Target for Bulwark: recovery ≤ 5 s:", verdict(met))
	return met
}

// runStall: 1× load, and for 2 s every request that starts takes 20 times
// as long (the machine stalls: a long GC pause, a noisy neighbour, a slow
// disk). It reports how long after the stall ends goodput is back to
// ≥ 0.9 per 500 ms bucket. Informational: the issue sets no target.
func (rn *runner) runStall(seed uint64, quick bool, pols []string) {
	before, stall, after := 5*time.Second, 2*time.Second, 10*time.Second
	if quick {
		before, after = 2*time.Second, 5*time.Second
	}
	const bucket = 500 * time.Millisecond
	fmt.Fprintf(rn.w, "\n## Stall: 1× load, service 20× slower for %v after %v: goodput per 500 ms, recovery after the stall\n\n", stall, before)
	fmt.Fprintln(rn.w, "| policy | goodput per 500 ms bucket | back to ≥ 0.9 after the stall |")
	fmt.Fprintln(rn.w, "|---|---|---|")
	total := before + stall + after
	for _, pol := range pols {
		stop := make(chan struct{})
		srv := newServer(pol, stop)
		w := newWorkload(seed)
		t0 := time.Now()
		slow := func() float64 {
			if el := time.Since(t0); el >= before && el < before+stall {
				return 20
			}
			return 1
		}
		out := drive(w, []segment{{1, total}}, func(ctx context.Context, at time.Time, r request) outcome {
			return callSlowed(ctx, srv, at, r, slow)
		})
		close(stop)
		var row []string
		recovery := time.Duration(-1)
		for from := time.Duration(0); from < total; from += bucket {
			s := summarise(out, from, from+bucket, 1)
			row = append(row, strconv.FormatFloat(s.goodput, 'f', 2, 64))
			if from >= before+stall && recovery < 0 && s.goodput >= 0.9 {
				recovery = from + bucket - before - stall
			}
		}
		rs := "never"
		if recovery >= 0 {
			rs = recovery.String()
		}
		fmt.Fprintf(rn.w, "| %s | %s | %s |\n", policyNames[pol], strings.Join(row, " "), rs)
	}
}
