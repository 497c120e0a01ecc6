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
// One mutex guards the state; it is held twice per call (admission and
// result), never across fn or a hook. A closed breaker reads the clock once
// per call (twice with SlowCall or Hooks.OnResult set).
type Breaker[T any] struct {
	s     *settings // shared by a Group's breakers
	name  string
	epoch time.Time
	gate  gate // a Group's open-fraction guard; nil for a lone breaker

	// The fields above are read without the lock on every call; keep the
	// lock's cache line, which every call writes, away from them.
	_ [64]byte

	mu       sync.Mutex
	state    State
	gen      uint64 // bumped on every state change: older results are stale
	win      window
	expiry   time.Time     // end of the open period
	openFor  time.Duration // length of the current (or last) open period
	reopens  uint8         // doublings of Timeout in openFor
	opened   bool          // has ever opened
	closedAt time.Time     // when it last became closed
	halfAt   time.Time     // when the current half-open generation began
	probes   uint32        // half-open admissions, less excluded results
	probeOK  uint32        // successful probes
	open     *RejectedError
	tooMany  *RejectedError
	rng      rand.PCG
	lastUse  time.Time // last admission, for a Group's eviction
	inflight int64     // admitted calls not yet finished, for a Group's eviction
	evicted  bool      // dropped by a Group: no longer counted by its gate
	gateHeld bool      // counted as open by the gate

	delivering bool
	events     []event
	spare      []event
}

// token identifies an admitted call.
type token struct {
	gen   uint64
	age   uint64
	start time.Time
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
	b.init(&s, s.name, nil)
	return b, nil
}

func (b *Breaker[T]) init(s *settings, name string, g gate) {
	b.s, b.name, b.gate, b.win = s, name, g, newWindow(s.buckets)
	b.epoch = b.now()
	b.closedAt = b.epoch
	b.lastUse = b.epoch
	b.openFor = s.timeout
	// Jitter is seeded from the name and the start time: reproducible under
	// an injected clock, spread across breakers and processes otherwise.
	if s.clock != nil {
		b.rng.Seed(stableHash(name), uint64(b.epoch.UnixNano()))
	} else {
		b.rng.Seed(rand.Uint64(), rand.Uint64())
	}
	b.tooMany = &RejectedError{Name: name, State: StateHalfOpen}
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
// ended turns half-open here.
func (b *Breaker[T]) State() State {
	now := b.now()
	b.mu.Lock()
	b.refresh(now)
	st := b.state
	b.unlock()
	return st
}

// Counts returns the counts of the rolling window as of now.
func (b *Breaker[T]) Counts() Counts {
	now := b.now()
	b.mu.Lock()
	b.refresh(now)
	c := b.win.total
	b.unlock()
	return c
}

// Trip opens the breaker now, as a failure would: the open period follows
// the growth rule of Config.MaxTimeout. Tripping an open breaker does
// nothing.
func (b *Breaker[T]) Trip() {
	now := b.now()
	b.mu.Lock()
	b.win.advance(b.ageAt(now))
	if b.state != StateOpen {
		if b.gate != nil && !b.evicted && !b.gateHeld {
			b.gate.force()
			b.gateHeld = true
		}
		b.setState(StateOpen, now)
	}
	b.unlock()
}

// Reset closes the breaker now, clears its counts and returns its open
// period to Timeout.
func (b *Breaker[T]) Reset() {
	now := b.now()
	b.mu.Lock()
	b.win.advance(b.ageAt(now))
	b.reopens = 0
	b.opened = false
	b.openFor = b.s.timeout
	if b.state == StateClosed {
		b.gen++
		b.win.clear()
	} else {
		b.setState(StateClosed, now)
	}
	b.unlock()
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

// outRejected marks a refused call in execute's result.
const outRejected outcome = 255

func (b *Breaker[T]) execute(ctx context.Context, fn func(context.Context) (T, error)) (v T, out outcome, err error) {
	if err = ctx.Err(); err != nil {
		return v, outExcluded, err
	}
	t, err := b.admit()
	if err != nil {
		return v, outRejected, err
	}
	finished := false
	defer func() {
		if !finished {
			b.finish(t, outFailure, errPanicked)
		}
	}()
	v, err = fn(ctx)
	finished = true
	out = b.s.classify(ctx, err)
	b.finish(t, out, err)
	return v, out, err
}

// Allow is the two-step form of Execute for callers that cannot wrap a
// function: when it returns a nil error, the caller makes the call and then
// calls done exactly once with the call's error (later calls of done are
// ignored). ctx is the caller's context: an error matching its ctx.Err() is
// excluded. Unlike Execute, Allow allocates (the done func).
func (b *Breaker[T]) Allow(ctx context.Context) (done func(err error), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, err := b.admit()
	if err != nil {
		return nil, err
	}
	p := &pendingCall[T]{b: b, ctx: ctx, t: t}
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

// admit decides whether a call may run.
func (b *Breaker[T]) admit() (token, error) {
	now := b.now()
	b.mu.Lock()
	b.win.advance(b.ageAt(now))
	b.lastUse = now
	switch b.state {
	case StateOpen:
		if now.Before(b.expiry) {
			return token{}, b.reject(b.open)
		}
		b.setState(StateHalfOpen, now)
		fallthrough
	case StateHalfOpen:
		if b.probes >= b.s.maxRequests {
			// A probe that has not reported within an open period has
			// probably hung: start a new half-open generation so it cannot
			// wedge the breaker (its result will be stale).
			if now.Sub(b.halfAt) < b.openFor {
				return token{}, b.reject(b.tooMany)
			}
			b.gen++
			b.win.clear()
			b.newHalfOpen(now)
		}
		b.probes++
	}
	b.win.request()
	b.inflight++
	t := token{gen: b.gen, age: b.win.age, start: now}
	b.unlock()
	return t, nil
}

// reject books a refusal and unlocks.
func (b *Breaker[T]) reject(err *RejectedError) error {
	b.win.reject()
	if b.s.hooks.OnReject != nil {
		b.events = append(b.events, event{kind: evReject, err: err})
	}
	b.unlock()
	return err
}

// finish books the outcome of an admitted call.
func (b *Breaker[T]) finish(t token, out outcome, err error) {
	var d time.Duration
	slow := false
	if b.s.slowCall > 0 || b.s.hooks.OnResult != nil {
		d = b.now().Sub(t.start)
		slow = b.s.slowCall > 0 && d > b.s.slowCall && out != outExcluded
	}
	b.mu.Lock()
	b.inflight--
	if b.s.hooks.OnResult != nil {
		b.events = append(b.events, event{kind: evResult, err: err, d: d})
	}
	if t.gen != b.gen { // admitted before a state change: stale
		b.unlock()
		return
	}
	switch b.state {
	case StateClosed:
		switch out {
		case outSuccess:
			b.win.success(t.age, slow)
			if slow {
				b.evaluate()
			}
		case outFailure:
			b.win.failure(t.age, slow)
			b.evaluate()
		default:
			b.win.excluded(t.age)
		}
	case StateHalfOpen:
		switch out {
		case outSuccess:
			b.win.success(t.age, slow)
			if slow {
				b.setState(StateOpen, b.now())
				break
			}
			b.probeOK++
			if b.probeOK >= b.s.maxRequests {
				b.setState(StateClosed, b.now())
			}
		case outFailure:
			b.win.failure(t.age, slow)
			b.setState(StateOpen, b.now())
		default:
			b.win.excluded(t.age)
			b.probes-- // the slot is free again, as in gobreaker
		}
	}
	b.unlock()
}

// evaluate asks the trip rule after a failed or slow call while closed.
func (b *Breaker[T]) evaluate() {
	now := b.now()
	b.win.advance(b.ageAt(now))
	if !b.s.trip(b.win.total) {
		return
	}
	if b.gate != nil && !b.evicted {
		if !b.gate.acquire() {
			return // too many keys of the Group are open already
		}
		b.gateHeld = true
	}
	b.setState(StateOpen, now)
}

// refresh turns an expired open period half-open.
func (b *Breaker[T]) refresh(now time.Time) {
	b.win.advance(b.ageAt(now))
	if b.state == StateOpen && !now.Before(b.expiry) {
		b.setState(StateHalfOpen, now)
	}
}

// setState moves to a new state and generation.
func (b *Breaker[T]) setState(to State, now time.Time) {
	from := b.state
	if from == to {
		return
	}
	b.state = to
	b.gen++
	b.win.clear()
	switch to {
	case StateOpen:
		b.startOpen(from, now)
	case StateHalfOpen:
		b.newHalfOpen(now)
	case StateClosed:
		b.closedAt = now
		if b.gateHeld {
			b.gateHeld = false
			if !b.evicted {
				b.gate.release()
			}
		}
	}
	if b.s.hooks.OnStateChange != nil {
		b.events = append(b.events, event{kind: evState, from: from, to: to})
	}
}

func (b *Breaker[T]) newHalfOpen(now time.Time) {
	b.halfAt = now
	b.probes = 0
	b.probeOK = 0
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
	b.expiry = now.Add(b.openFor)
	b.open = &RejectedError{Name: b.name, State: StateOpen, RetryAt: b.expiry}
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
