package overload

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config's zero fields.
const (
	DefaultMaxConcurrency = 64
	DefaultQueueFactor    = 4 // MaxQueue defaults to 4 × MaxConcurrency
	DefaultWindow         = time.Second
	DefaultWindowRequests = 2000
	DefaultQueueThreshold = 20 * time.Millisecond

	maxSlots          = 1 << 30
	minHoldSamples    = 16 // hold-time samples for a window to set the capacity alone
	maxWindowRequests = 1 << 30
	waitSmoothing     = 4 // ObserveQueueTime's wait estimate moves 1/4 of the way per report
	// maxWait caps one recorded wait (2^32 ns ≈ 4.3 s, above 4 × the largest
	// QueueThreshold) so a window's wait sum cannot overflow at
	// maxWindowRequests starts.
	maxWait = 1 << 32
)

// Bounds on Config's durations: values outside them are refused by New.
const (
	MinWindow         = time.Millisecond
	MaxWindow         = time.Minute
	MaxQueueThreshold = time.Second
)

// NoQueue as Config.MaxQueue means no waiting at all: when every slot is
// busy, Acquire refuses at once (ReasonQueueFull, or displaces nothing).
const NoQueue = -1

// Config configures a Controller. Zero fields take the documented defaults.
type Config struct {
	// MaxConcurrency is the number of execution slots (default 64).
	MaxConcurrency int
	// MaxQueue bounds the requests waiting for a slot. Zero means the
	// default, 4 × MaxConcurrency, so a wait is at most about four service
	// times: past that, failing fast beats queuing. NoQueue (-1) means no
	// queue: a request that finds every slot busy is refused at once. Other
	// negative values are an error. The queue should allow waits well
	// beyond QueueThreshold, or overload shows only as queue-full refusals
	// (with NoQueue the level still engages, on the refusals).
	MaxQueue int
	// Window is the longest adaptation window (default 1 s, DAGOR's value;
	// allowed MinWindow 1 ms to MaxWindow 1 min).
	Window time.Duration
	// WindowRequests ends a window early after this many arrivals (default
	// 2,000, DAGOR's value).
	WindowRequests int
	// QueueThreshold is the mean queuing time above which a window counts as
	// overloaded (default 20 ms, DAGOR's value; at most MaxQueueThreshold,
	// 1 s, and at most Window).
	QueueThreshold time.Duration
	// DryRun decides and reports as usual but never refuses a request for
	// its level or its deadline: such requests are reported to Hooks.OnShed
	// with ShedError.DryRun set and then wait for a slot like any other.
	// The slots and the queue bound still apply: they are capacity, not
	// policy.
	DryRun bool
	// Clock is the time source; nil means time.Now.
	Clock Clock
	// Hooks receive metrics events.
	Hooks Hooks
}

// Hooks are optional callbacks for metrics. They run synchronously on the
// request's goroutine, never under a lock of the Controller, so they must be
// fast and may call back into it.
type Hooks struct {
	// OnAdmit is called when a request gets a slot, with its queuing time
	// (zero when a slot was free).
	OnAdmit func(p Priority, queued time.Duration)
	// OnShed is called for every refusal, and in dry-run mode for every
	// refusal that would have happened.
	OnShed func(p Priority, err *ShedError)
	// OnWindow is called at the end of every adaptation window.
	OnWindow func(WindowStats)
	// OnLevelChange is called when the admission level changes.
	OnLevelChange func(from, to Level)
}

// WindowStats summarises one adaptation window.
type WindowStats struct {
	Arrivals   int64         // requests that asked for admission
	Passed     int64         // arrivals at or above the level in force
	Started    int64         // requests that got a slot (or were reported by ObserveQueueTime)
	Refused    int64         // queue-full, displaced and deadline refusals
	MeanQueue  time.Duration // mean queuing time of the started requests
	Overloaded bool          // MeanQueue > QueueThreshold, or Refused > Passed/20
	Idle       bool          // the fast reopen applies (or the traffic had gone: full reopen)
	Duration   time.Duration
	// Capacity is the estimated rate, in requests per second, at which the
	// slots can run requests (0 while unknown).
	Capacity float64
	// Backlog is the queue beyond what QueueThreshold allows, at the end of
	// an overloaded window.
	Backlog int64
	// Gated is the number of arrivals that came through an upstream Gate
	// enforcing a closed level, and Held the requests such Gates reported
	// holding back (both from ObserveGate).
	Gated, Held int64
	From, To    Level
}

// admission is the immutable admission state that one atomic load fetches:
// the level and the errors to return, so a shed allocates nothing.
type admission struct {
	key       uint16
	level     Level
	shed      *ShedError
	queueFull *ShedError
	displaced *ShedError
	dryShed   *ShedError
	dryFull   *ShedError
}

// Controller is DAGOR-style admission control for one service. It owns
// MaxConcurrency execution slots and a bounded wait queue, measures each
// request's queuing time, and adapts an admission level every window. It
// starts no goroutine and needs no Close. It is safe for concurrent use.
// Build it with New; the zero Controller refuses everything with
// ErrNotInitialized.
type Controller struct {
	// Read on every call.
	state   atomic.Pointer[admission]
	inUse   atomic.Int64
	waiting atomic.Int64 // length of q, readable without mu

	// Window counters, written on every call.
	arrivals     atomic.Int64
	started      atomic.Int64
	queuedStarts atomic.Int64
	waitSum      atomic.Int64 // ns
	winStart     atomic.Int64 // controller nanotime
	rolling      atomic.Bool
	forceRoll    atomic.Bool  // end the window at the next roll whatever its length
	calm         atomic.Bool  // the last window was not overloaded: an onset may end the next early
	nsPerStart   atomic.Int64 // drain interval measured in saturated windows; 0 = unknown
	holdSum      atomic.Int64 // ns slots were held, sampled permits only
	holdN        atomic.Int64
	meanHold     atomic.Int64             // smoothed mean slot hold time; 0 = unknown
	refused      atomic.Int64             // queue-full, displaced and deadline refusals in the window
	lastWait     atomic.Int64             // ns, the recent waits reported by ObserveQueueTime, smoothed
	lastStart    atomic.Int64             // controller time of the latest ObserveQueueTime (the clock Admit read)
	latestWait   atomic.Int64             // ns, the latest wait ObserveQueueTime reported, unsmoothed
	highRun      atomic.Int64             // consecutive reported waits above the early-end height (ownqueue.go)
	lastNow      atomic.Int64             // the latest clock read of Admit
	pend         [pendSlots]atomic.Uint64 // own-queue admissions not reported started (ownqueue.go)
	tier         [256]atomic.Uint32       // per business class: share of passed traffic more important (ownqueue.go)
	gated        atomic.Int64             // arrivals through an upstream Gate enforcing a closed level
	hidden       atomic.Int64             // requests upstream Gates reported holding back
	gateMin      atomic.Uint32            // lowest such Gate level key in the window; keyOpen if none

	hist []atomic.Uint32 // arrivals per priority key, 1<<16 cells

	mu sync.Mutex
	q  waitList

	rollBuf        []bucket // owned by the goroutine holding rolling
	lastOverloaded bool     // the last window was overloaded; owned like rollBuf

	slots       int64
	maxQueue    int
	window      int64 // ns
	winRequests int64
	threshold   int64 // ns
	dryRun      bool
	clk         clockSource
	hooks       Hooks
}

// New returns a Controller, or an error for impossible values.
func New(cfg Config) (*Controller, error) {
	switch {
	case cfg.MaxConcurrency < 0 || cfg.MaxConcurrency > maxSlots:
		return nil, fmt.Errorf("overload: MaxConcurrency %d out of range [0, %d]", cfg.MaxConcurrency, maxSlots)
	case cfg.MaxQueue < NoQueue || cfg.MaxQueue > maxSlots:
		return nil, fmt.Errorf("overload: MaxQueue %d out of range [0, %d] (or NoQueue)", cfg.MaxQueue, maxSlots)
	case cfg.Window != 0 && (cfg.Window < MinWindow || cfg.Window > MaxWindow):
		return nil, fmt.Errorf("overload: Window %v out of range [%v, %v]", cfg.Window, MinWindow, MaxWindow)
	case cfg.WindowRequests < 0 || cfg.WindowRequests > maxWindowRequests:
		return nil, fmt.Errorf("overload: WindowRequests %d out of range [0, %d]", cfg.WindowRequests, maxWindowRequests)
	case cfg.QueueThreshold < 0 || cfg.QueueThreshold > MaxQueueThreshold:
		return nil, fmt.Errorf("overload: QueueThreshold %v out of range [0, %v]", cfg.QueueThreshold, MaxQueueThreshold)
	}
	if cfg.MaxConcurrency == 0 {
		cfg.MaxConcurrency = DefaultMaxConcurrency
	}
	switch cfg.MaxQueue {
	case 0:
		cfg.MaxQueue = min(DefaultQueueFactor*cfg.MaxConcurrency, maxSlots)
	case NoQueue:
		cfg.MaxQueue = 0
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.WindowRequests == 0 {
		cfg.WindowRequests = DefaultWindowRequests
	}
	thresholdSet := cfg.QueueThreshold != 0
	if !thresholdSet {
		cfg.QueueThreshold = DefaultQueueThreshold
	}
	if cfg.QueueThreshold > cfg.Window {
		if !thresholdSet {
			return nil, fmt.Errorf("overload: Window %v shorter than the default QueueThreshold %v: set QueueThreshold too (at most Window)", cfg.Window, cfg.QueueThreshold)
		}
		return nil, fmt.Errorf("overload: QueueThreshold %v longer than Window %v", cfg.QueueThreshold, cfg.Window)
	}
	c := &Controller{
		hist:        make([]atomic.Uint32, 1<<16),
		slots:       int64(cfg.MaxConcurrency),
		maxQueue:    cfg.MaxQueue,
		window:      int64(cfg.Window),
		winRequests: int64(cfg.WindowRequests),
		threshold:   int64(cfg.QueueThreshold),
		dryRun:      cfg.DryRun,
		clk:         newClockSource(cfg.Clock),
		hooks:       cfg.Hooks,
	}
	c.setLevel(keyOpen)
	c.calm.Store(true)
	c.gateMin.Store(keyOpen)
	return c, nil
}

// nanotime is the controller's monotonic time in ns since New.
func (c *Controller) nanotime() int64 { return c.clk.nanotime() }

func (c *Controller) setLevel(key uint16) {
	l := levelFromKey(key)
	retry := time.Duration(c.window)
	c.state.Store(&admission{
		key:       key,
		level:     l,
		shed:      &ShedError{Reason: ReasonLevel, Level: l, RetryAfter: retry},
		queueFull: &ShedError{Reason: ReasonQueueFull, Level: l, RetryAfter: retry},
		displaced: &ShedError{Reason: ReasonDisplaced, Level: l, RetryAfter: retry},
		dryShed:   &ShedError{Reason: ReasonLevel, Level: l, RetryAfter: retry, DryRun: true},
		dryFull:   &ShedError{Reason: ReasonQueueFull, Level: l, RetryAfter: retry, DryRun: true},
	})
}

// ErrNotInitialized is returned by a Controller, Gate or KeyedLimiter that
// was not built by its constructor (a zero value or nil pointer).
var ErrNotInitialized = errors.New("overload: not initialized; use the constructor")

func (c *Controller) ready() bool { return c != nil && c.hist != nil }

// Level returns the current admission level (LevelOpen for a Controller not
// built by New).
func (c *Controller) Level() Level {
	if !c.ready() {
		return LevelOpen
	}
	return c.state.Load().level
}

// InUse returns the number of slots held.
func (c *Controller) InUse() int {
	if c == nil {
		return 0
	}
	return int(c.inUse.Load())
}

// Waiting returns the number of requests queued for a slot.
func (c *Controller) Waiting() int {
	if c == nil {
		return 0
	}
	return int(c.waiting.Load())
}

// Permit is a held execution slot. Release it exactly once when the work is
// done; releasing the zero Permit does nothing.
type Permit struct {
	c     *Controller
	start int64 // controller nanotime when the slot was taken; 0 = not sampled
}

// Release gives the slot back, handing it straight to the first waiter if
// there is one.
func (p Permit) Release() {
	c := p.c
	if c == nil {
		return
	}
	if p.start > 0 {
		// About one permit in four carries its start time: the mean hold
		// time gives the slots' capacity without a clock read per call.
		c.holdSum.Add(c.nanotime() - p.start)
		c.holdN.Add(1)
	}
	if c.inUse.Add(-1) < 0 {
		c.inUse.Add(1) // a double Release; do not invent a slot
		return
	}
	if c.waiting.Load() > 0 {
		c.mu.Lock()
		c.dispatchLocked()
		c.mu.Unlock()
	}
}

// Admit is the admission check alone, for services that keep their own queue:
// it counts the request in the window's histogram and returns a *ShedError if
// its priority is below the level (ReasonLevel), or if the service's queue,
// as Admit and ObserveQueueTime count it, would make the request wait past
// its bound (ReasonQueueFull; see "Services with their own queue" in the
// package documentation). Such services then report every admitted
// request's queuing time with ObserveQueueTime when it starts.
func (c *Controller) Admit(p Priority) error {
	if !c.ready() {
		return ErrNotInitialized
	}
	key := p.key()
	st, now := c.arrive(key)
	if now > 0 {
		c.lastNow.Store(now) // the own-queue count's buckets (ownqueue.go)
	}
	if key > st.key {
		return c.shed(p, st)
	}
	if c.ownQueueFull(p.Business, st.key == keyOpen) {
		c.refused.Add(1)
		if c.dryRun {
			if c.hooks.OnShed != nil {
				c.hooks.OnShed(p, st.dryFull)
			}
		} else {
			if c.hooks.OnShed != nil {
				c.hooks.OnShed(p, st.queueFull)
			}
			return st.queueFull
		}
	}
	c.pendAdmit()
	return nil
}

// ObserveQueueTime reports that a request admitted with Admit started after
// waiting d in the service's own queue. It feeds the same overload signal
// as the waits Acquire measures.
func (c *Controller) ObserveQueueTime(d time.Duration) {
	if c == nil {
		return
	}
	d = min(max(d, 0), maxWait)
	// The backlog estimate smooths the reported waits over the last
	// several starts: one wait carries the noise of the service times
	// ahead of it. Concurrent reports may lose an update to each other;
	// the estimate stays a mean of recent waits.
	old := c.lastWait.Load()
	c.lastWait.Store(old + (int64(d)-old)/waitSmoothing)
	c.lastStart.Store(c.lastNow.Load())
	c.latestWait.Store(int64(d))
	if int64(d) > c.earlyHeight() {
		c.highRun.Add(1)
	} else if c.highRun.Load() != 0 {
		c.highRun.Store(0)
	}
	// Every start takes one admission off the own-queue count, whatever
	// it waited: a short wait says the queue was empty only for a FIFO
	// (see ownqueue.go).
	c.pendStart()
	// A start the service reports as having waited a trifle found its
	// queue empty: a hand-off through a channel or a clock read takes
	// microseconds, and time.Since(enqueued) is never zero; in a FIFO, a
	// wait shorter than one drain interval had nobody ahead. It counts in
	// the mean but not as queued, so a window of such starts can be idle
	// (after a slow spell the estimate is low and the interval long, so a
	// recovered service's hand-offs of a few ms count as none).
	if floor := max(c.threshold/ownQueueIdleWait, c.drainInterval()); int64(d) < floor {
		c.recordStart(0)
		c.waitSum.Add(int64(d))
	} else {
		c.recordStart(int64(d))
	}
	c.checkOnset()
}

// Onset: a service with its own queue has no queue bound, so at the onset
// of heavy overload a whole window (1 s, or 2,000 arrivals) of excess work
// would be admitted before the level moves, a backlog that slow handlers
// take seconds to drain. After a calm window, once onsetStarts requests
// have started with a mean wait above onsetFactor × QueueThreshold, the
// window ends at once.
const (
	onsetStarts = 32
	onsetFactor = 6
)

func (c *Controller) checkOnset() {
	if !c.calm.Load() {
		return
	}
	n := c.started.Load()
	if n < onsetStarts || c.waitSum.Load() <= onsetFactor*c.threshold*n {
		return
	}
	if c.calm.CompareAndSwap(true, false) {
		c.forceRoll.Store(true)
		c.maybeRoll(c.nanotime())
	}
}

// arrive counts one arrival and ends the window when due. The clock is read
// on every fourth arrival only: a window's end may be late by three
// arrivals, which keeps the clock off most calls. It returns the time read,
// or 0.
func (c *Controller) arrive(key uint16) (*admission, int64) {
	c.hist[key].Add(1)
	n := c.arrivals.Add(1)
	var now int64
	if n&3 == 0 {
		now = c.nanotime()
		if n+c.hidden.Load() >= c.winRequests || now-c.winStart.Load() >= c.window {
			c.maybeRoll(now)
		}
	} else if n >= c.winRequests {
		c.maybeRoll(c.nanotime())
	}
	return c.state.Load(), now
}

func (c *Controller) shed(p Priority, st *admission) error {
	if c.dryRun {
		if c.hooks.OnShed != nil {
			c.hooks.OnShed(p, st.dryShed)
		}
		return nil
	}
	if c.hooks.OnShed != nil {
		c.hooks.OnShed(p, st.shed)
	}
	return st.shed
}

// Acquire waits for an execution slot for a request of priority p.
//
// A request below the admission level fails at once with a *ShedError
// (ReasonLevel), never queued. If no slot is free the request queues; it
// fails at once if its context's remaining time is shorter than the expected
// wait (ReasonDeadline), or if the queue is full of requests at least as
// important (ReasonQueueFull). A more important arrival displaces the least
// important waiter of a full queue (ReasonDisplaced). A waiter whose context
// ends leaves the queue at once and gets the context's error.
//
// All refusals match ErrShed. A nil ctx means context.Background().
func (c *Controller) Acquire(ctx context.Context, p Priority) (Permit, error) {
	if !c.ready() {
		return Permit{}, ErrNotInitialized
	}
	key := p.key()
	st, now := c.arrive(key)
	if key > st.key {
		if err := c.shed(p, st); err != nil {
			return Permit{}, err
		}
	}
	if c.waiting.Load() == 0 && c.trySlot() {
		c.recordStart(0)
		if c.hooks.OnAdmit != nil {
			c.hooks.OnAdmit(p, 0)
		}
		return Permit{c: c, start: now}, nil
	}
	return c.acquireSlow(ctx, p, key, st)
}

func (c *Controller) trySlot() bool {
	for {
		u := c.inUse.Load()
		if u >= c.slots {
			return false
		}
		if c.inUse.CompareAndSwap(u, u+1) {
			return true
		}
	}
}

func (c *Controller) recordStart(waitNs int64) {
	c.started.Add(1)
	waitNs = min(waitNs, maxWait)
	if waitNs > 0 {
		c.waitSum.Add(waitNs)
		c.queuedStarts.Add(1)
	}
}

// goneError wraps the context error of a waiter whose caller left.
type goneError struct{ err error }

func (e *goneError) Error() string { return "overload: gave up waiting for a slot: " + e.err.Error() }
func (e *goneError) Unwrap() error { return e.err }

// slowOutcome is what acquireSlow decided under the lock.
type slowOutcome uint8

const (
	slowGranted slowOutcome = iota // a slot was free after all
	slowRefused                    // refused; the error says why
	slowQueued                     // queued as w
)

// acquireSlow handles a request that found no free slot. It decides under
// c.mu (take a slot, refuse, or queue, possibly displacing a waiter) and
// acts on the decision after the one unlock: hooks, wake-ups and the wait
// all run outside the lock.
func (c *Controller) acquireSlow(ctx context.Context, p Priority, key uint16, st *admission) (Permit, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return Permit{}, &goneError{err}
	}
	var (
		out     slowOutcome
		refusal *ShedError // slowRefused: the error
		dryErr  *ShedError // a deadline refusal that dry-run mode only reports
		evicted *waiter
		w       *waiter
	)
	c.mu.Lock()
	// Announce the wait before the last try for a slot: a Release that
	// misses this increment has already freed its slot, which the try sees.
	c.waiting.Add(1)
	switch {
	case c.trySlot():
		out = slowGranted
	default:
		if dl, ok := ctx.Deadline(); ok {
			if err := c.deadlineRefusalLocked(dl, st); err != nil {
				if c.dryRun {
					dryErr = err
				} else {
					out, refusal = slowRefused, err
				}
			}
		}
		if refusal == nil && c.q.n >= c.maxQueue {
			if worst := c.q.leastImportant(); worst == nil || worst.key <= key {
				out, refusal = slowRefused, st.queueFull
			} else {
				c.q.remove(worst)
				c.waiting.Add(-1)
				worst.state = displaced
				evicted = worst
			}
		}
		if refusal == nil {
			out = slowQueued
			w = &waiter{key: key, enqueued: c.nanotime(), ch: make(chan struct{}, 1)}
			c.q.pushBack(w)
		}
	}
	if out != slowQueued {
		c.waiting.Add(-1)
	}
	c.mu.Unlock()

	switch out {
	case slowGranted:
		c.recordStart(0)
		if c.hooks.OnAdmit != nil {
			c.hooks.OnAdmit(p, 0)
		}
		return Permit{c: c}, nil
	case slowRefused:
		c.refused.Add(1)
		if c.hooks.OnShed != nil {
			c.hooks.OnShed(p, refusal)
		}
		return Permit{}, refusal
	}
	if evicted != nil {
		c.refused.Add(1)
		evicted.ch <- struct{}{}
	}
	if dryErr != nil && c.hooks.OnShed != nil {
		c.hooks.OnShed(p, dryErr)
	}
	return c.wait(ctx, p, w, st)
}

// deadlineRefusalLocked returns the refusal of a request whose deadline dl
// comes before the expected wait for a slot, or nil. c.mu is held.
func (c *Controller) deadlineRefusalLocked(dl time.Time, st *admission) *ShedError {
	per := c.drainInterval()
	if per <= 0 {
		return nil
	}
	expected := time.Duration(int64(c.q.n+1) * per)
	if dl.Sub(c.clk.now()) >= expected {
		return nil
	}
	return &ShedError{Reason: ReasonDeadline, Level: st.level, RetryAfter: expected, DryRun: c.dryRun}
}

// wait blocks until the queued waiter w gets a slot, is displaced, or its
// caller leaves.
func (c *Controller) wait(ctx context.Context, p Priority, w *waiter, st *admission) (Permit, error) {
	select {
	case <-w.ch:
	case <-ctx.Done():
		if c.leave(w) {
			return Permit{}, &goneError{ctx.Err()}
		}
		if w.state == granted { // written under mu, read after leave locked it
			// The slot arrived as the caller left: pass it on.
			Permit{c: c}.Release()
			return Permit{}, &goneError{ctx.Err()}
		}
	}
	if w.state == displaced { // written before the send we received, or under mu
		if c.hooks.OnShed != nil {
			c.hooks.OnShed(p, st.displaced)
		}
		return Permit{}, st.displaced
	}
	now := c.nanotime()
	wait := max(now-w.enqueued, 1) // it did queue; count it as a queued start
	c.recordStart(wait)
	if c.hooks.OnAdmit != nil {
		c.hooks.OnAdmit(p, time.Duration(wait))
	}
	return Permit{c: c, start: now}, nil
}

// leave takes w out of the queue if it is still waiting and reports whether
// it did; otherwise w was granted or displaced, and its state says which.
func (c *Controller) leave(w *waiter) bool {
	c.mu.Lock()
	still := w.state == waiting
	if still {
		c.q.remove(w)
		c.waiting.Add(-1)
	}
	c.mu.Unlock()
	return still
}

// dispatchLocked hands free slots to waiters in FIFO order. c.mu is held.
func (c *Controller) dispatchLocked() {
	for c.q.n > 0 && c.trySlot() {
		w := c.q.popFront()
		c.waiting.Add(-1)
		w.state = granted
		w.ch <- struct{}{} // buffered, never blocks
	}
}

func perSecond(interval int64) float64 {
	if interval <= 0 {
		return 0
	}
	return float64(time.Second) / float64(interval)
}

// drainInterval is the mean time between slot releases when all slots are
// busy: the mean hold time over the slots, or else the interval measured in
// saturated windows; 0 when unknown.
func (c *Controller) drainInterval() int64 {
	if h := c.meanHold.Load(); h > 0 {
		return max(h/c.slots, 1)
	}
	return c.nsPerStart.Load()
}
