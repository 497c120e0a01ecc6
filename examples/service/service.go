package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/grayroute"
	"github.com/bulwark-go/bulwark/logging"
	"github.com/bulwark-go/bulwark/metrics"
	"github.com/bulwark-go/bulwark/overload"
)

// Config configures a Service. Zero fields take the defaults below.
type Config struct {
	Addr   string        // front listen address; default 127.0.0.1:0
	Redis  []string      // redis-server addresses for the replicas; nil: in memory
	Slots  int           // overload execution slots at the front; default 6
	Work   time.Duration // mean handler work; default 40 ms (6 slots: 150 req/s)
	Budget time.Duration // server-side time budget of a request, body upload included; default 1 s
	Grace  time.Duration // shutdown: how long requests in flight may take before they are cut off; default 3 s
	Log    io.Writer     // log output; nil discards
	Text   bool          // text log lines instead of JSON

	noCanaryAction bool   // tests: the canary alert fires but does not judge the plan
	wiring         wiring // tests: a broken wiring the scenario must catch
}

// wiring breaks one piece of the service's wiring on purpose: each is a
// mutant the scenario must fail on, naming the right phase (the tests run
// them). The zero wiring is the real service.
type wiring struct {
	weakQuorum bool    // the store acknowledges a write on one replica (W = 1, no zone rule, Weak reads)
	noGate     bool    // the call to the downstream skips the overload Gate
	slowdown   float64 // the handlers' work × this, as a slow dependency or a lock would make it (0: 1)
}

func (c *Config) defaults() {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.Slots <= 0 {
		c.Slots = 6
	}
	if c.Work <= 0 {
		c.Work = 40 * time.Millisecond
	}
	if c.Budget <= 0 {
		c.Budget = time.Second
	}
	if c.Grace <= 0 {
		c.Grace = 3 * time.Second
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
}

// Capacity is the front's nominal capacity in requests per second: its
// slots over the mean handler work.
func (c Config) Capacity() float64 { return float64(c.Slots) / c.Work.Seconds() }

// Service is the chat service and its downstream, wired from every Bulwark
// package. All wiring is here, through the packages' public APIs, hooks and
// funcs: the packages never import each other.
//
//	request ─► logging.Middleware (user key, flight recorder)
//	        ─► entry (request id, budget, HTTP metrics)
//	        ─► grayroute.Middleware (v1 or v2, decided once per request)
//	        ─► overload.Middleware (DAGOR admission: business class by API, user by hash)
//	        ─► v1 or v2 handlers ─► quorum.Client ─► 3 replicas in 3 zones
//	                             └► breaker.Group ─► overload Gate ─► grayroute RoundTripper ─► preview service
//	metrics alerts ─► the breaker's trip rule; ─► the gray planner (whose gate reads the metrics)
type Service struct {
	cfg    Config
	tel    *telemetry
	log    *slog.Logger
	logh   *logging.Handler
	store  *store
	ctrl   *overload.Controller
	gate   *overload.Gate
	router *grayroute.Router
	plan   *grayroute.Planner
	down   *previewService
	prev   *previewClient
	hold   holdMeter

	bug            atomic.Uint64 // permille of v2 requests failing (the bad release)
	downAlert      atomic.Bool   // the downstream error-ratio alert is firing
	opened         atomic.Int64  // breaker openings
	alertTrip      atomic.Int64  // of which while the downstream alert fired
	canaryFired    atomic.Int64  // canary alert firings
	alertRollbacks atomic.Int64  // rollbacks made by the Tick the canary alert ran
	rollbacks      atomic.Int64
	reqID          atomic.Uint64
	planPaused     atomic.Bool // the planner's own periodic Tick is skipped (the scenario's bad v2 phase)
	canaryFiring   atomic.Bool // the canary alert fires: the planner judges every alertEvery

	inflight atomic.Int64 // requests inside the front's handlers
	reqCtx   context.Context
	cutOff   context.CancelFunc // cancels every request's context: the grace is over

	frontLn, downLn net.Listener
	front, downSrv  *http.Server
	transport       *http.Transport
	base, downBase  string
}

// planEvery is how often the planner judges the plan on its own; the
// canary alert makes it judge at once.
const planEvery = 2 * time.Second

// New builds the service and binds its two listeners; Run serves.
func New(cfg Config) (_ *Service, err error) {
	cfg.defaults()
	s := &Service{cfg: cfg, down: &previewService{work: 3 * time.Millisecond}}
	var cleanup []func()
	defer func() {
		if err != nil {
			for i := len(cleanup) - 1; i >= 0; i-- {
				cleanup[i]()
			}
		}
	}()

	reg := metrics.NewRegistry()
	s.tel = newTelemetry(reg)
	s.log, s.logh = newLogger(cfg.Log, cfg.Text, s.tel)

	if s.store, err = newStore(cfg.Redis, s.tel, cfg.wiring.weakQuorum); err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { _ = s.store.close() })

	s.ctrl, err = overload.New(overload.Config{
		MaxConcurrency: cfg.Slots,
		Hooks: overload.Hooks{
			OnShed: func(_ overload.Priority, e *overload.ShedError) { s.tel.shed.With(reasonLabel(e.Reason)).Inc() },
			OnLevelChange: func(from, to overload.Level) {
				s.tel.levelB.Set(float64(to.Business))
				s.log.Info("admission level", "from", from.String(), "to", to.String())
			},
			OnWindow: func(w overload.WindowStats) { s.tel.capacity.Set(w.Capacity) },
		},
	})
	if err != nil {
		return nil, err
	}
	s.tel.levelB.Set(255)
	if s.gate, err = overload.NewGate(overload.GateConfig{}); err != nil {
		return nil, err
	}

	gcfg, err := grayConfig(0)
	if err != nil {
		return nil, err
	}
	if s.router, err = grayroute.New(gcfg); err != nil {
		return nil, err
	}
	syncShare := func() {
		if st, ok := s.plan.Status()[release]; ok {
			s.tel.grayShare.Set(float64(st.Share) / 100)
		}
	}
	s.plan, err = grayroute.NewPlanner(s.router, metricsHealth{reg}, grayroute.PlannerConfig{Hooks: grayroute.PlannerHooks{
		OnAdvance: func(rel string, from, to int) {
			s.tel.grayEvents.With("advance").Inc()
			syncShare()
			s.log.Info("gray plan advanced", "release", rel, "from_bp", from, "to_bp", to)
		},
		OnRollback: func(rel string, from int, why string) {
			s.rollbacks.Add(1)
			s.tel.grayEvents.With("rollback").Inc()
			syncShare()
			s.log.Warn("gray plan rolled back", "release", rel, "from_bp", from, "why", why)
		},
		OnHold:  func(string, string) { syncShare() },
		OnError: func(err error) { s.log.Warn("gray planner", "err", err) },
	}})
	if err != nil {
		return nil, err
	}

	// The downstream preview service, a second server on loopback.
	downCtrl, err := overload.New(overload.Config{MaxConcurrency: 16})
	if err != nil {
		return nil, err
	}
	downSmall, err := overload.New(overload.Config{MaxConcurrency: 1, MaxQueue: overload.NoQueue, Window: 200 * time.Millisecond}) // degraded: one renderer, no queue
	if err != nil {
		return nil, err
	}
	downRouter, err := grayroute.New(gcfg)
	if err != nil {
		return nil, err
	}
	if s.downLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { _ = s.downLn.Close() })
	s.downBase = "http://" + s.downLn.Addr().String()
	downMux := http.NewServeMux()
	downMux.Handle("/preview", s.down.handler(downCtrl, downSmall, downRouter))
	s.downSrv = &http.Server{Handler: downMux, ReadHeaderTimeout: 5 * time.Second}

	s.transport = &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	group, err := newPreviewBreakers(s.tel, s.log, &s.downAlert, &s.opened, &s.alertTrip)
	if err != nil {
		return nil, err
	}
	s.prev = &previewClient{
		base: s.downBase, host: s.downLn.Addr().String(), group: group, tel: s.tel, log: s.log,
		http: &http.Client{Transport: grayroute.RoundTripper(overload.RoundTripper(s.gate, s.transport))},
	}
	if cfg.wiring.noGate {
		s.prev.http = &http.Client{Transport: grayroute.RoundTripper(s.transport)}
	}

	preview := s.prev
	if err = s.addRules(); err != nil {
		return nil, err
	}

	work := cfg.Work
	if f := cfg.wiring.slowdown; f > 0 {
		work = time.Duration(float64(work) * f)
	}
	v1 := &chat{variant: "v1", store: s.store.client, preview: preview, log: s.log, work: work, bug: new(atomic.Uint64)}
	v2 := &chat{variant: "v2", store: s.store.client, preview: preview, log: s.log, work: work, bug: &s.bug}
	app := byVariant(v1.routes(), v2.routes(), s.tel, &s.hold)
	userKey := func(r *http.Request) string { return r.Header.Get(UserHeader) }
	grayReq := func(r *http.Request) grayroute.Request { return grayroute.Request{Key: r.Header.Get(UserHeader)} }
	api := logging.Middleware(s.logh, userKey)(
		s.entry(
			grayroute.Middleware(s.router, grayReq, nil)( // the edge: never trust a client's gray header
				overload.Middleware(s.ctrl, s.priority)(app))))

	mux := http.NewServeMux()
	mux.Handle("/api/", s.readBody(api))
	mux.Handle("/metrics", reg.Handler())
	mux.Handle("/debug/metrics", metrics.Dashboard(reg))
	mux.Handle("/debug/dyes", s.logh.DyeAdmin())
	mux.Handle("/debug/log", s.logh.Ring())
	mux.HandleFunc("/debug/gray", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.plan.Status())
	})
	mux.HandleFunc("/{$}", s.index)
	if s.frontLn, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, err
	}
	s.base = "http://" + s.frontLn.Addr().String()
	// Every request's context ends when the shutdown grace is over. The
	// timeouts are backstops: an /api/ request's body gets its own deadline
	// from the budget (readBody).
	s.reqCtx, s.cutOff = context.WithCancel(context.Background())
	base := func(net.Listener) context.Context { return s.reqCtx }
	s.front = &http.Server{Handler: s.track(mux), BaseContext: base,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second}
	s.downSrv.BaseContext = base
	return s, nil
}

// addRules installs the alert rules. Two of them act: the downstream's
// error ratio feeds the breaker's trip rule, and the canary's error ratio
// makes the gray planner judge its plan at once and every 500 ms while it
// fires (its gate, over the same metrics, then rolls the plan back). The
// others are for the dashboard.
func (s *Service) addRules() error {
	rules := []metrics.Rule{
		{Name: "downstream-error-ratio", Metric: "downstream_calls_total", Labels: []string{"error"},
			Kind: metrics.Ratio, Denominator: "downstream_calls_total", Above: true, Threshold: 0.2,
			Window: 3 * time.Second, MinCount: 10,
			OnFire: func(a metrics.Alert) {
				s.downAlert.Store(true)
				s.log.Warn("alert firing: the breaker now opens on the next failure", "rule", a.Rule, "value", a.Value)
			},
			OnResolve: func(a metrics.Alert) { s.downAlert.Store(false); s.log.Info("alert resolved", "rule", a.Rule) }},
		{Name: "canary-error-ratio", Metric: "gray_canary_errors_total", Kind: metrics.Ratio,
			Denominator: "gray_canary_requests_total", Above: true, Threshold: 0.05,
			Window: 5 * time.Second, MinCount: 20,
			OnFire: func(a metrics.Alert) {
				s.canaryFired.Add(1)
				if s.cfg.noCanaryAction {
					return
				}
				s.log.Warn("alert firing: judging the gray plan now and every 500ms while it fires", "rule", a.Rule, "value", a.Value)
				s.canaryFiring.Store(true)
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				s.tick(ctx, true)
			},
			OnResolve: func(a metrics.Alert) { s.canaryFiring.Store(false); s.log.Info("alert resolved", "rule", a.Rule) }},
		// Clients that gate by the level the front reports shed most of an
		// overload themselves: the front sees a trickle of sheds.
		{Name: "front-shedding", Metric: "overload_shed_total", Kind: metrics.Threshold,
			Above: true, Threshold: 1, Window: 5 * time.Second},
		{Name: "replica-errors", Metric: "quorum_replica_errors_total", Kind: metrics.Threshold,
			Above: true, Threshold: 1, Window: 5 * time.Second},
		{Name: "breaker-not-closed", Metric: "downstream_breaker_open", Kind: metrics.Threshold,
			Above: true, Threshold: 0, Window: 2 * time.Second},
	}
	for _, r := range rules {
		if err := s.tel.reg.AddRule(r); err != nil {
			return err
		}
	}
	return nil
}

// priority is the entry tier's DAGOR priority: the business class from the
// API, the user level from a keyed hash of the user id and the hour.
func (s *Service) priority(r *http.Request) overload.Priority {
	b, ok := routeClass[r.URL.Path]
	if !ok {
		b = 3
	}
	return overload.Priority{Business: b, User: overload.UserPriority(r.Header.Get(UserHeader), time.Now())}
}

// readBody runs before everything else on /api/: it refuses a request
// without a user (400) and reads the body, at most maxBody bytes (413),
// under a read deadline of the request's budget (408). A client trickling
// its body in therefore never holds an overload slot: admission happens
// once the whole request is in memory.
func (s *Service) readBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refuse := func(code int, msg string) {
			s.tel.httpReqs.With(routeName(r.URL.Path), codeLabel(code)).Inc()
			if code != http.StatusBadRequest {
				w.Header().Set("Connection", "close")
			}
			http.Error(w, msg, code)
		}
		if u := r.Header.Get(UserHeader); u == "" || len(u) > maxUserLen {
			refuse(http.StatusBadRequest, fmt.Sprintf("header %s must name the user (1 to %d bytes)", UserHeader, maxUserLen))
			return
		}
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Now().Add(s.cfg.Budget))
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		// No deadline once the body is in: the server's background read of
		// the connection must not time out while the handler runs.
		_ = rc.SetReadDeadline(time.Time{})
		var tooBig *http.MaxBytesError
		var nerr net.Error
		switch {
		case errors.As(err, &tooBig):
			refuse(http.StatusRequestEntityTooLarge, fmt.Sprintf("body: more than %d bytes", maxBody))
			return
		case errors.As(err, &nerr) && nerr.Timeout():
			refuse(http.StatusRequestTimeout, fmt.Sprintf("body: not received within the %v budget", s.cfg.Budget))
			return
		case err != nil:
			refuse(http.StatusBadRequest, "body: "+err.Error())
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

// entry gives the request an id and a time budget, tags its log records
// with user and id, and counts its response, sheds included.
func (s *Service) entry(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := logging.With(r.Context(), slog.String("user", r.Header.Get(UserHeader)), slog.Uint64("req", s.reqID.Add(1)))
		ctx, cancel := context.WithTimeout(ctx, s.cfg.Budget)
		defer cancel()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(ctx))
		route := routeName(r.URL.Path)
		s.tel.httpReqs.With(route, codeLabel(rec.code)).Inc()
		s.tel.httpLat.With(route).Observe(time.Since(start).Seconds())
		if rec.code == http.StatusServiceUnavailable && rec.Header().Get(VariantHeader) == "" {
			s.log.WarnContext(ctx, "request shed", "route", route, "level", rec.Header().Get(overload.LevelHeader))
		}
	})
}

func reasonLabel(r overload.Reason) string {
	switch r {
	case overload.ReasonLevel:
		return "level"
	case overload.ReasonQueueFull:
		return "queue_full"
	case overload.ReasonDisplaced:
		return "displaced"
	case overload.ReasonDeadline:
		return "deadline"
	}
	return "other"
}

func codeLabel(code int) string {
	switch code {
	case 200, 204, 400, 404, 408, 413, 500, 503:
		return fmt.Sprint(code)
	}
	return "other"
}

func (s *Service) index(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, `Bulwark chat service

API (tlv bodies; header %[2]s: <user id> required, else 400):
  POST %[1]s/api/send                  a MessageV1 or MessageV2 (ids are per sender)
  GET  %[1]s/api/message?id=ID&from=U  U's message ID (from: default the caller)
  GET  %[1]s/api/preview?url=U         via the preview service, breaker and fallback
  POST %[1]s/api/typing?room=R
From a shell (curl cannot build tlv):
  go run ./examples/service -addr %[3]s -send hello -as alice [-v1]
  go run ./examples/service -addr %[3]s -read ID -as bob -from alice [-v1]
Operations:
  %[1]s/debug/metrics   dashboard
  %[1]s/metrics         Prometheus exposition
  %[1]s/debug/dyes      dye admin: POST ?key=USER&ttl=10m, GET, DELETE ?key=USER
  %[1]s/debug/log       the last log records
  %[1]s/debug/gray      the gray plan
`, s.base, UserHeader, s.frontLn.Addr())
}

// runPlanner judges the gray plan every planEvery, as Planner.Run does,
// except while planPaused is set; and, while the canary alert fires, every
// alertEvery on the alert's behalf: the plan's gate weighs the canary's
// health since its step began, so the first judgment the alert asks for
// may come before the bad build's errors outweigh the good ones before it.
func (s *Service) runPlanner(ctx context.Context) {
	t := time.NewTicker(alertEvery)
	defer t.Stop()
	var last time.Time
	for {
		switch {
		case !s.planPaused.Load() && time.Since(last) >= planEvery-alertEvery/2:
			last = time.Now()
			s.tick(ctx, false)
		case s.canaryFiring.Load():
			s.tick(ctx, true)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// alertEvery is how often the planner judges while the canary alert fires.
const alertEvery = 500 * time.Millisecond

// tick judges the plan once; byAlert counts a rollback it made as the
// canary alert's.
func (s *Service) tick(ctx context.Context, byAlert bool) {
	before := s.rollbacks.Load()
	if err := s.plan.Tick(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("gray planner", "err", err)
	}
	if byAlert && s.rollbacks.Load() > before {
		s.alertRollbacks.Add(1)
	}
}

// track counts the requests inside the front's handlers, so Run can wait
// for the last one after it closed the connections.
func (s *Service) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.inflight.Add(1)
		defer s.inflight.Add(-1)
		next.ServeHTTP(w, r)
	})
}

func ignoreClosed(err error) error {
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// URL returns the front's base URL.
func (s *Service) URL() string { return s.base }

// Run serves until ctx ends, then shuts down: the listeners close, requests
// in flight finish (within 10 s), the downstream stops after its last
// caller, the metrics and planner loops end, the quorum client closes, and
// idle connections are dropped. Every goroutine the service started has
// ended when Run returns.
func (s *Service) Run(ctx context.Context) error {
	bg, stopBg := context.WithCancel(context.Background())
	defer stopBg()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	serve := func(srv *http.Server, ln net.Listener) {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}
	wg.Go(func() { serve(s.front, s.frontLn) })
	wg.Go(func() { serve(s.downSrv, s.downLn) })
	wg.Go(func() { _ = s.tel.reg.Run(bg) })
	wg.Go(func() { s.runPlanner(bg) })

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	// Requests in flight get the grace to finish (their budget is shorter);
	// then every request's context ends and the connections still open (a
	// client trickling its headers, one that stopped reading) are closed.
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.Grace)
	defer cancel()
	if e := s.front.Shutdown(sctx); e != nil {
		s.cutOff()
		s.log.Warn("shutdown: connections still open after the grace are closed", "grace", s.cfg.Grace, "err", e)
		err = errors.Join(err, ignoreClosed(s.front.Close()))
	}
	// After Close no handler starts; those running see their context end.
	for end := time.Now().Add(s.cfg.Budget + time.Second); s.inflight.Load() > 0 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	// The downstream's only caller (the front's handlers) has stopped.
	if e := s.downSrv.Shutdown(sctx); e != nil {
		s.cutOff()
		err = errors.Join(err, ignoreClosed(s.downSrv.Close()))
	}
	s.cutOff()
	stopBg()
	wg.Wait()
	s.transport.CloseIdleConnections()
	err = errors.Join(err, s.store.close())
	s.log.Info("shut down")
	return err
}
