package breaker

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// errPanicked is the failure booked for a call whose fn panicked (the panic
// is then re-raised).
var errPanicked = errors.New("breaker: call panicked")

// Breaker is a circuit breaker around calls returning T. It is safe for
// concurrent use; build it with New.
//
// A call on a closed breaker that succeeds takes no lock: it reads the
// state word and the clock once and adds to two counters of the current
// bucket. Failures, state changes, half-open probes and calls with
// Hooks.OnResult set take the breaker's mutex, never across fn or a hook.
type Breaker[T any] struct {
	// What a call on a closed breaker reads, in one cache line with a
	// Group entry's key: fast is the newest slot of the current window
	// while it is closed (nil otherwise, or before a call of the newest
	// bucket), fastAge its bucket. A call reads fastAge, then fast: the
	// writer clears fast before it moves fastAge or changes the window.
	s       *settings // shared by a Group's breakers
	fast    atomic.Pointer[slot]
	fastAge atomic.Uint64
	epoch   time.Time

	// w is the current generation: state, expiry and counts.
	w       atomic.Pointer[window]
	name    string
	gate    gate        // a Group's open-fraction guard; nil for a lone breaker
	q       *eventQueue // nil without hooks
	tooMany *RejectedError

	// Every call reads the fields above; keep them off the mutex's line.
	_ [64]byte

	mu       sync.Mutex
	openFor  time.Duration // length of the current (or last) open period
	reopens  uint8         // doublings of Timeout in openFor
	opened   bool          // has ever opened
	closedAt time.Time     // when it last became closed
	halfAt   time.Time     // admission of the first probe of this half-open generation
	probes   uint32        // half-open admissions, less excluded results
	probeOK  uint32        // successful probes
	rng      rand.PCG
	evicted  bool // dropped by a Group: reports no events, no longer counted by its gate
	gateHeld bool // counted as open by the gate
}

// token identifies an admitted call: the generation (window) and bucket
// (slot) it was admitted in.
type token struct {
	w      *window
	s      *slot
	start  time.Time
	closed bool // admitted while closed
}

// New returns a Breaker, or an error naming the field of cfg that is
// impossible (a negative duration, MaxTimeout below Timeout, too many
// buckets).
func New[T any](cfg Config) (*Breaker[T], error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	b := new(Breaker[T])
	b.init(&s, s.name, nil, nil)
	return b, nil
}

// init sets up a breaker; q is the event queue to use (a Group hands over
// the queue of the key's evicted breaker), nil for a new one.
func (b *Breaker[T]) init(s *settings, name string, g gate, q *eventQueue) {
	b.s, b.name, b.gate = s, name, g
	b.epoch = b.now()
	b.closedAt = b.epoch
	b.openFor = s.timeout
	// Jitter is seeded from the name and the start time: reproducible under
	// an injected clock, spread across breakers and processes otherwise.
	if s.clock != nil {
		b.rng.Seed(stableHash(name), uint64(b.epoch.UnixNano()))
	} else {
		b.rng.Seed(rand.Uint64(), rand.Uint64())
	}
	b.tooMany = &RejectedError{Name: name, State: StateHalfOpen}
	if q == nil && s.hooks.any() {
		q = newEventQueue(name, &s.hooks)
	}
	b.q = q
	b.w.Store(newWindow(0, StateClosed, s.buckets, 0))
}

// stableHash is FNV-1a, the same in every process.
func stableHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func (b *Breaker[T]) now() time.Time {
	if b.s.clock == nil {
		return time.Now()
	}
	return b.s.clock.Now()
}

// ageAt is the bucket of now, counted from the breaker's epoch.
func (b *Breaker[T]) ageAt(now time.Time) uint64 {
	d := now.Sub(b.epoch)
	if d <= 0 {
		return 0
	}
	return uint64(d / b.s.bucketPeriod)
}

// Name returns the breaker's name.
func (b *Breaker[T]) Name() string { return b.name }

// State returns the current state. An open breaker whose open period has
// ended is half-open (it turns so here, if no call did it first).
func (b *Breaker[T]) State() State {
	w := b.w.Load()
	var now time.Time
	if w.state == StateOpen {
		now = b.now()
	}
	if w.state != StateOpen || now.Before(w.expiry) {
		b.flush() // events a hook's exit left behind, if any
		return w.state
	}
	b.mu.Lock()
	st := b.refresh(now).state
	b.mu.Unlock()
	b.flush()
	return st
}

// Counts returns the counts of the rolling window as of now.
func (b *Breaker[T]) Counts() Counts {
	now := b.now()
	b.mu.Lock()
	c := b.refresh(now).counts()
	b.mu.Unlock()
	b.flush()
	return c
}

// Trip opens the breaker now, as a failure would: the open period follows
// the growth rule of Config.MaxTimeout. Tripping an open breaker does
// nothing; one whose open period has ended is half-open, and reopens.
func (b *Breaker[T]) Trip() {
	now := b.now()
	b.mu.Lock()
	if b.refresh(now).state != StateOpen {
		if b.gate != nil && !b.evicted && !b.gateHeld {
			b.gate.force()
			b.gateHeld = true
		}
		b.setState(StateOpen, now, ReasonTrip)
	}
	b.mu.Unlock()
	b.flush()
}

// Reset closes the breaker now, clears its counts and returns its open
// period to Timeout.
func (b *Breaker[T]) Reset() {
	now := b.now()
	b.mu.Lock()
	w := b.refresh(now)
	b.reopens = 0
	b.opened = false
	b.openFor = b.s.timeout
	if w.state == StateClosed {
		b.fast.Store(nil)
		b.w.Store(newWindow(w.gen+1, StateClosed, b.s.buckets, w.age))
	} else {
		b.setState(StateClosed, now, ReasonReset)
	}
	b.mu.Unlock()
	b.flush()
}

// Execute runs fn if the breaker admits the call and books its outcome. A
// refused call returns a *RejectedError matching ErrOpen or
// ErrTooManyRequests without running fn; a call whose ctx is already done
// returns ctx.Err() without running fn or being counted. A panic in fn
// counts as a failure and is re-raised.
func (b *Breaker[T]) Execute(ctx context.Context, fn func(context.Context) (T, error)) (T, error) {
	v, _, err := b.execute(ctx, fn)
	return v, err
}

// ExecuteFallback is Execute, except that when the call is refused or fn
// fails (an error that is neither excluded nor counted as a success),
// fallback runs with that error and its result is returned.
func (b *Breaker[T]) ExecuteFallback(ctx context.Context, fn func(context.Context) (T, error), fallback func(ctx context.Context, err error) (T, error)) (T, error) {
	v, out, err := b.execute(ctx, fn)
	if err != nil && (out == outRejected || out == outFailure) {
		return fallback(ctx, err)
	}
	return v, err
}

const (
	// outRejected marks a refused call in execute's result.
	outRejected outcome = 255
	// outAborted finishes an admitted call that never ran because a hook
	// delivered before it panicked: booked as excluded, and not reported
	// to OnResult (which hears of calls that ran).
	outAborted outcome = 254
)

func (b *Breaker[T]) execute(ctx context.Context, fn func(context.Context) (T, error)) (v T, out outcome, err error) {
	if err = ctx.Err(); err != nil {
		return v, outExcluded, err
	}
	t, err := b.admit()
	if err != nil {
		b.flush()
		return v, outRejected, err
	}
	// From here the call is admitted and must be finished exactly once,
	// even if a hook delivered below panics (before fn ran: excluded) or fn
	// panics (a failure).
	ran, finished := false, false
	defer func() {
		if !finished {
			if ran {
				b.finish(t, outFailure, errPanicked)
			} else {
				b.finish(t, outAborted, nil)
			}
		}
	}()
	b.flush()
	ran = true
	v, err = fn(ctx)
	finished = true
	out = b.s.classify(ctx, err)
	b.finish(t, out, err)
	return v, out, err
}

// Allow is the two-step form of Execute for callers that cannot wrap a
// function: when it returns a nil error, the caller makes the call and then
// calls done exactly once with the call's error (later calls of done are
// ignored). ctx is the caller's context: once it is cancelled, an error
// matching context.Canceled or its cause is excluded; once its deadline
// has passed, an error is a failure as in Execute. Unlike Execute, Allow
// allocates (the done func).
func (b *Breaker[T]) Allow(ctx context.Context) (done func(err error), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, err := b.admit()
	if err != nil {
		b.flush()
		return nil, err
	}
	p := &pendingCall[T]{b: b, ctx: ctx, t: t}
	handed := false
	defer func() {
		if !handed { // a hook panicked: the caller never gets done
			p.once.Store(true)
			b.finish(t, outAborted, nil)
		}
	}()
	b.flush()
	handed = true
	return p.done, nil
}

type pendingCall[T any] struct {
	b    *Breaker[T]
	ctx  context.Context
	t    token
	once atomic.Bool
}

func (p *pendingCall[T]) done(err error) {
	if p.once.Swap(true) {
		return
	}
	p.b.finish(p.t, p.b.s.classify(p.ctx, err), err)
}

// admit decides whether a call may run. A closed breaker admits without
// the lock, as does an open one refusing (unless OnReject is set, whose
// events must queue in order with state changes).
func (b *Breaker[T]) admit() (token, error) {
	now := b.now()
	age := b.ageAt(now)
	if b.fastAge.Load() == age {
		if s := b.fast.Load(); s != nil {
			s.requests.Add(1)
			return token{w: s.w, s: s, start: now, closed: true}, nil
		}
	}
	w := b.w.Load()
	if w.state == StateOpen {
		if b.s.hooks.OnReject == nil && now.Before(w.expiry) {
			if s := w.current(age); s != nil {
				s.rejected.Add(1)
				return token{}, w.open
			}
		}
	}
	return b.admitLocked(now)
}

// admitLocked is admit under the lock: a new bucket, an open period ending,
// half-open probes, and refusals with OnReject set.
func (b *Breaker[T]) admitLocked(now time.Time) (token, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.refresh(now)
	switch w.state {
	case StateOpen:
		return token{}, b.reject(w, w.open)
	case StateHalfOpen:
		if b.probes >= b.s.maxRequests {
			// Probes that have not all reported within an open period of
			// the first have probably hung: start a new half-open
			// generation so they cannot wedge the breaker (their results
			// will be stale).
			if now.Sub(b.halfAt) < b.openFor {
				return token{}, b.reject(w, b.tooMany)
			}
			w = newWindow(w.gen+1, StateHalfOpen, b.s.buckets, w.age)
			b.w.Store(w) // (fast is nil: the window is not closed)
			b.probes, b.probeOK = 0, 0
		}
		if b.probes == 0 {
			b.halfAt = now
		}
		b.probes++
	}
	s := w.newest()
	s.requests.Add(1)
	closed := w.state == StateClosed
	if closed && b.fast.Load() != s {
		b.fastAge.Store(s.age)
		b.fast.Store(s)
	}
	return token{w: w, s: s, start: now, closed: closed}, nil
}

// reject books a refusal; b.mu is held.
func (b *Breaker[T]) reject(w *window, err *RejectedError) error {
	w.newest().rejected.Add(1)
	b.push(event{kind: evReject, err: err})
	return err
}

// finish books the outcome of an admitted call. A success (not slow) or an
// excluded outcome of a call admitted while closed is booked without the
// lock unless OnResult is set.
func (b *Breaker[T]) finish(t token, out outcome, err error) {
	report := out != outAborted
	if !report {
		out = outExcluded
	}
	var end time.Time
	var d time.Duration
	slow := false
	if b.s.slowCall > 0 || b.s.hooks.OnResult != nil {
		end = b.now()
		d = end.Sub(t.start)
		slow = b.s.slowCall > 0 && d > b.s.slowCall && out != outExcluded
	}
	if t.closed && (b.s.hooks.OnResult == nil || !report) {
		switch {
		case out == outSuccess && !slow:
			t.s.successes.Add(1)
			if t.s.failing.Load() {
				b.settle(t)
			}
			return
		case out == outExcluded:
			t.s.excluded.Add(1)
			return
		}
	}
	b.finishLocked(t, out, slow, report, err, d, end)
}

// settle ends the failure run after a success booked without the lock, if
// that success (or another) followed the latest failure.
func (b *Breaker[T]) settle(t token) {
	now := b.now()
	b.mu.Lock()
	if w := b.refresh(now); w == t.w && w.live(t.s) {
		w.counts()
	}
	b.mu.Unlock()
	b.flush()
}

func (b *Breaker[T]) finishLocked(t token, out outcome, slow, report bool, err error, d time.Duration, now time.Time) {
	if now.IsZero() {
		now = b.now()
	}
	var tripPanic any
	b.mu.Lock()
	w := b.refresh(now) // an open period that ended before this result did comes first
	if report {
		b.push(event{kind: evResult, err: err, d: d})
	}
	if w != t.w { // admitted before a state change: stale
		b.mu.Unlock()
		b.flush()
		return
	}
	switch w.state {
	case StateClosed:
		switch out {
		case outSuccess:
			w.success(t.s, slow)
			if slow {
				tripPanic = b.evaluate(w, now)
			}
		case outFailure:
			w.failure(t.s, slow)
			tripPanic = b.evaluate(w, now)
		default:
			w.excluded(t.s)
		}
	case StateHalfOpen:
		switch out {
		case outSuccess:
			w.success(t.s, slow)
			if slow {
				b.setState(StateOpen, now, ReasonProbeSlow)
				break
			}
			b.probeOK++
			if b.probeOK >= b.s.maxRequests {
				b.setState(StateClosed, now, ReasonProbesSucceeded)
			}
		case outFailure:
			w.failure(t.s, slow)
			b.setState(StateOpen, now, ReasonProbeFailed)
		default:
			w.excluded(t.s)
			b.probes-- // the slot is free again, as in gobreaker
		}
	}
	b.mu.Unlock()
	b.flush()
	if tripPanic != nil {
		panic(tripPanic)
	}
}

// evaluate asks the trip rule after a failed or slow call while closed. A
// panic in the rule is returned, to be re-raised once the lock is released.
func (b *Breaker[T]) evaluate(w *window, now time.Time) (panicked any) {
	if !b.askTrip(w.counts(), &panicked) {
		return panicked
	}
	if b.gate != nil && !b.evicted {
		if !b.gate.acquire() {
			return nil // too many keys of the Group are open already
		}
		b.gateHeld = true
	}
	b.setState(StateOpen, now, ReasonTripRule)
	return nil
}

func (b *Breaker[T]) askTrip(c Counts, panicked *any) (trip bool) {
	ok := false
	defer func() {
		if !ok {
			*panicked = recover()
		}
	}()
	trip = b.s.trip(c)
	ok = true
	return trip
}

// refresh moves the window to now and turns an ended open period
// half-open; b.mu is held. It returns the current window.
func (b *Breaker[T]) refresh(now time.Time) *window {
	w := b.w.Load()
	if age := b.ageAt(now); age > w.age {
		b.fast.Store(nil) // a new bucket: its first call comes under the lock
		w.advance(age)
	}
	if w.state == StateOpen && !now.Before(w.expiry) {
		w = b.setState(StateHalfOpen, now, ReasonOpenPeriodEnded)
	}
	return w
}

// setState moves to a new state in a new generation; b.mu is held.
func (b *Breaker[T]) setState(to State, now time.Time, why Reason) *window {
	old := b.w.Load()
	from := old.state
	ev := event{kind: evState, from: from, to: to, why: why, at: now}
	if b.q != nil && b.s.hooks.OnTransition != nil && !b.evicted {
		ev.counts = old.counts() // the ending generation's, before they are gone
	}
	w := newWindow(old.gen+1, to, b.s.buckets, old.age)
	switch to {
	case StateOpen:
		b.startOpen(from, now)
		w.expiry = now.Add(b.openFor)
		w.open = &RejectedError{Name: b.name, State: StateOpen, RetryAt: w.expiry}
	case StateHalfOpen:
		b.probes, b.probeOK = 0, 0
	case StateClosed:
		b.closedAt = now
		if b.gateHeld {
			b.gateHeld = false
			if !b.evicted {
				b.gate.release()
			}
		}
	}
	b.fast.Store(nil)
	b.w.Store(w)
	if to == StateOpen {
		ev.retryAt = w.expiry
	}
	b.push(ev)
	return w
}

// push queues an event for the hooks; b.mu is held. An evicted breaker
// reports nothing: its key may have a new breaker whose events the hooks
// are seeing.
func (b *Breaker[T]) push(e event) {
	if b.q != nil && !b.evicted {
		b.q.push(e)
	}
}

// flush delivers queued events, if any, outside every lock.
func (b *Breaker[T]) flush() {
	if b.q != nil {
		b.q.deliver()
	}
}

// startOpen sets the open period: Timeout after a stable closed Interval,
// otherwise twice the last one up to MaxTimeout, with ±10 % jitter that never
// exceeds MaxTimeout.
func (b *Breaker[T]) startOpen(from State, now time.Time) {
	switch {
	case from == StateHalfOpen:
		b.reopens = min(b.reopens+1, 62)
	case b.opened && now.Sub(b.closedAt) < b.s.interval:
		b.reopens = min(b.reopens+1, 62)
	default:
		b.reopens = 0
	}
	b.opened = true
	base := b.s.timeout
	for range b.reopens {
		if base >= b.s.maxTimeout/2 {
			base = b.s.maxTimeout
			break
		}
		base *= 2
	}
	base = min(base, b.s.maxTimeout)
	b.openFor = jitter(base, b.s.maxTimeout, b.rng.Uint64())
}

// jitter returns base ±10 %, reflected below limit (base <= limit).
func jitter(base, limit time.Duration, r uint64) time.Duration {
	u := float64(r>>11) / (1 << 53)                     // [0, 1)
	delta := time.Duration(float64(base/5)*u) - base/10 // [-base/10, base/10)
	if delta > 0 && delta > limit-base {
		return limit - (delta - (limit - base))
	}
	return base + delta
}
