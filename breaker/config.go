package breaker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Defaults of Config, chosen after the anchors in doc.go.
const (
	// DefaultInterval is the rolling window when Config.Interval is zero.
	DefaultInterval = 60 * time.Second
	// DefaultBuckets is the number of buckets of the window when
	// Config.BucketPeriod is zero.
	DefaultBuckets = 10
	// DefaultTimeout is the first open period when Config.Timeout is zero.
	DefaultTimeout = 5 * time.Second
	// DefaultMaxTimeout caps the growing open period when Config.MaxTimeout
	// is zero (or Timeout, if that is longer).
	DefaultMaxTimeout = 2 * time.Minute
	// MaxBuckets bounds Interval/BucketPeriod: a window costs 40 bytes per
	// bucket and rolling it costs up to one step per bucket.
	MaxBuckets = 4096
)

// Clock is the time source of a Breaker, Group or Throttle. Tests inject a
// fake one; nil means time.Now.
type Clock interface {
	Now() time.Time
}

// Config configures a Breaker. The zero value is a working breaker: it opens
// after 5 consecutive failures or when at least half of 20 or more calls in
// the last 60 s failed, stays open 5 s (doubling on each reopen up to 2 min),
// and closes after one successful probe.
type Config struct {
	// Name is reported to the hooks and in errors. In a Group the key is the
	// name.
	Name string
	// MaxRequests is how many probe calls half-open admits, and how many
	// consecutive successful probes close the breaker. Zero means 1, as in
	// gobreaker.
	MaxRequests uint32
	// Interval is the rolling window over which Counts are kept while
	// closed. Zero means 60 s. Unlike gobreaker, counts always roll: there
	// is no "never clear", but any Interval up to the largest Duration
	// (about 292 years) works.
	Interval time.Duration
	// BucketPeriod is the granularity of the window; Interval is rounded up
	// to a multiple of it. Zero means Interval/10, rounded up. At most
	// MaxBuckets buckets.
	BucketPeriod time.Duration
	// Timeout is the open period after the first trip. Zero means 5 s.
	Timeout time.Duration
	// MaxTimeout caps the open period, which doubles on each reopen that
	// follows a trip without a stable closed Interval in between. Zero means
	// 2 min (or Timeout when that is longer); equal to Timeout disables the
	// growth. Less than Timeout is an error.
	MaxTimeout time.Duration
	// SlowCall marks calls that run longer than it as slow (Counts.Slow):
	// every recorded call, success or failure (a call that ran into the
	// caller's deadline included); excluded calls are not recorded, so
	// they are never slow, as in resilience4j. A slow probe reopens a
	// half-open breaker. Zero turns slow-call detection off (and saves a
	// clock read per call).
	SlowCall time.Duration
	// Trip decides, after each failed or slow call while closed, whether to
	// open. Nil means Any(ConsecutiveFailures(5), FailureRate(0.5, 20)).
	Trip TripRule
	// IsSuccessful reports whether a non-nil error still counts as a
	// success (a "not found", say). Nil means no error is a success. A nil
	// error is always a success.
	IsSuccessful func(err error) bool
	// IsExcluded reports whether a non-nil error is neither a success nor
	// a failure. The caller's own cancellation is always excluded: once the
	// context passed to Execute is cancelled, an error matching
	// context.Canceled or the context's cause (as net/http and errgroup
	// return) is the caller's. A context that ran out of its deadline is
	// not: the call failed, unless IsExcluded says otherwise (match
	// context.DeadlineExceeded, and the cause if you set one, to keep
	// deadlines out of the counts).
	IsExcluded func(err error) bool
	// Clock is the time source; nil means time.Now.
	Clock Clock
	// Hooks receive events; nil funcs cost nothing.
	Hooks Hooks
}

// Hooks are optional callbacks. They are called outside every lock of the
// breaker, one at a time and in the order the events happened per breaker
// (per key in a Group, across evictions: see Group), on the goroutine of
// one of the calls that produced them (not necessarily the call the event is
// about, and possibly after that call returned). A hook may call back into
// the breaker (Counts, State, Execute, Trip, Reset).
//
// Events wait in a queue while a hook runs. The queue holds at most
// MaxQueuedEvents (256) events per breaker: past that, while a hook is
// blocked, OnResult and OnReject events are dropped and each state change is
// merged into the last one queued (a→b then b→c is reported as a→c, with
// the Reason, time and Counts of b→c; a→b then b→a is not reported), so
// OnStateChange and OnTransition still see an unbroken chain of transitions
// that ends in the current state.
//
// A hook that panics does not stop the others: the events queued behind it
// are still delivered, then the panic is re-raised on the goroutine that
// delivered them (after the call that goroutine was making has been booked;
// an admitted call whose fn had not run yet is booked as excluded). A hook
// that exits its goroutine (runtime.Goexit) leaves the events after it to
// the next call of the breaker.
type Hooks struct {
	// OnStateChange is called for every state transition.
	OnStateChange func(name string, from, to State)
	// OnReject is called for every call refused without running, with
	// an error matching ErrOpen or ErrTooManyRequests. Setting it makes
	// refusals take the breaker's lock.
	OnReject func(name string, err error)
	// OnResult is called for every call that ran, with its error and
	// duration. Setting it costs a clock read per call and makes every
	// result take the breaker's lock.
	OnResult func(name string, err error, d time.Duration)
	// OnTransition is called for every state transition too, right after
	// OnStateChange, with why it happened and the Counts of the generation
	// that ended as they stood at the transition (Counts, read in the
	// hook, already shows the new generation's). Setting it makes each
	// transition sum the window once more, under the lock; calls that
	// change no state cost nothing more.
	OnTransition func(name string, t Transition)
}

// settings is a validated Config with defaults filled in.
type settings struct {
	name         string
	maxRequests  uint32
	interval     time.Duration
	bucketPeriod time.Duration
	buckets      int
	timeout      time.Duration
	maxTimeout   time.Duration
	slowCall     time.Duration
	trip         TripRule
	isSuccessful func(error) bool
	isExcluded   func(error) bool
	clock        Clock
	hooks        Hooks
}

func (cfg *Config) settings() (settings, error) {
	switch {
	case cfg.Interval < 0:
		return settings{}, fmt.Errorf("breaker: negative Interval %v", cfg.Interval)
	case cfg.BucketPeriod < 0:
		return settings{}, fmt.Errorf("breaker: negative BucketPeriod %v", cfg.BucketPeriod)
	case cfg.Timeout < 0:
		return settings{}, fmt.Errorf("breaker: negative Timeout %v", cfg.Timeout)
	case cfg.MaxTimeout < 0:
		return settings{}, fmt.Errorf("breaker: negative MaxTimeout %v", cfg.MaxTimeout)
	case cfg.SlowCall < 0:
		return settings{}, fmt.Errorf("breaker: negative SlowCall %v", cfg.SlowCall)
	}
	s := settings{
		name:         cfg.Name,
		maxRequests:  cfg.MaxRequests,
		interval:     cfg.Interval,
		bucketPeriod: cfg.BucketPeriod,
		timeout:      cfg.Timeout,
		maxTimeout:   cfg.MaxTimeout,
		slowCall:     cfg.SlowCall,
		trip:         cfg.Trip,
		isSuccessful: cfg.IsSuccessful,
		isExcluded:   cfg.IsExcluded,
		clock:        cfg.Clock,
		hooks:        cfg.Hooks,
	}
	if s.maxRequests == 0 {
		s.maxRequests = 1
	}
	if s.interval == 0 {
		s.interval = DefaultInterval
	}
	if s.bucketPeriod == 0 {
		// Interval/10 rounded up, so that the window has exactly
		// DefaultBuckets buckets (and no overflow for a huge Interval).
		s.bucketPeriod = s.interval / DefaultBuckets
		if s.interval%DefaultBuckets != 0 {
			s.bucketPeriod++
		}
	}
	if s.bucketPeriod > s.interval {
		return settings{}, fmt.Errorf("breaker: BucketPeriod %v longer than Interval %v", s.bucketPeriod, s.interval)
	}
	// The number of buckets, ceil(Interval/BucketPeriod), computed without
	// overflow: Interval may be as large as a Duration goes.
	n := s.interval / s.bucketPeriod
	if s.interval%s.bucketPeriod != 0 {
		n++
	}
	if n > MaxBuckets {
		return settings{}, fmt.Errorf("breaker: Interval %v / BucketPeriod %v makes %d buckets, more than %d", s.interval, s.bucketPeriod, n, MaxBuckets)
	}
	s.buckets = int(n)
	// Interval is rounded up to whole buckets; past the largest Duration
	// (about 292 years) it saturates, which only ever matters as "never".
	if s.bucketPeriod > math.MaxInt64/n {
		s.interval = math.MaxInt64
	} else {
		s.interval = n * s.bucketPeriod
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	if s.maxTimeout == 0 {
		s.maxTimeout = max(DefaultMaxTimeout, s.timeout)
	}
	if s.maxTimeout < s.timeout {
		return settings{}, fmt.Errorf("breaker: MaxTimeout %v shorter than Timeout %v", s.maxTimeout, s.timeout)
	}
	if s.trip == nil {
		s.trip = defaultTrip
	}
	return s, nil
}

// outcome is how a finished call is booked.
type outcome uint8

const (
	outSuccess outcome = iota
	outFailure
	outExcluded
)

// classify books err. A nil error is a success; the caller's own
// cancellation is excluded before IsExcluded and IsSuccessful are asked.
func (s *settings) classify(ctx context.Context, err error) outcome {
	if err == nil {
		return outSuccess
	}
	if callerGaveUp(ctx, err) {
		return outExcluded
	}
	if s.isExcluded != nil && s.isExcluded(err) {
		return outExcluded
	}
	if s.isSuccessful != nil && s.isSuccessful(err) {
		return outSuccess
	}
	return outFailure
}

// callerGaveUp reports whether err is the caller's own cancellation: ctx
// was cancelled (not timed out) and err matches context.Canceled or the
// context's cause. net/http (since Go 1.23) and errgroup return or cancel
// with the cause, so a check against ctx.Err() alone would book a caller's
// cancellation with a cause as a failure.
//
// A context that ran out of its deadline is not the caller giving up: the
// deadline is the caller's bound on the dependency, and a dependency that
// did not answer within it failed (see "Outcomes" in the package doc).
func callerGaveUp(ctx context.Context, err error) bool {
	ce := ctx.Err()
	if ce != context.Canceled {
		return false
	}
	if err == ce || errors.Is(err, ce) {
		return true
	}
	cause := context.Cause(ctx)
	return cause != nil && cause != ce && errors.Is(err, cause)
}
