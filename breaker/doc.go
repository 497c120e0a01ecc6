// Package breaker stops a service from hammering a dependency that is
// failing: circuit breakers (one per dependency, or one per key in a
// bounded Group) and Google SRE's client-side throttle.
//
//	b, err := breaker.New[*Order](breaker.Config{Name: "orders"})
//	if err != nil { ... }
//	order, err := b.Execute(ctx, func(ctx context.Context) (*Order, error) {
//		return client.GetOrder(ctx, id)
//	})
//	if errors.Is(err, breaker.ErrOpen) {
//		// the dependency is cut off for now: serve a fallback
//	}
//
// # Breaker or throttle?
//
// Use a Breaker for failure isolation: a dependency that is broken (errors,
// timeouts, a dead host) is cut off entirely for an open period, then
// probed, so callers fail fast instead of queuing behind it. Use a Throttle
// for a backend that is overloaded, not broken: it keeps sending the share
// of requests the backend still accepts and drops the excess locally, with
// probability max(0, (requests − K·accepts)/(requests + 1)). A throttle
// passes most calls of a backend that fails half of them at random (K = 2
// tolerates up to half refused), so it is no substitute for a breaker; a
// breaker cuts off a backend that could still serve most calls, so it is no
// substitute for a throttle. Many clients want both: a Group keyed by host
// for isolation, and a Throttle per backend service for overload.
//
// # Model
//
// A Breaker is closed, open or half-open. While closed it counts outcomes
// over a rolling window (Interval, default 60 s, in 10 buckets; a result is
// booked into the bucket of its call's admission) and after every failed or
// slow call asks its TripRule, by default Any(ConsecutiveFailures(5),
// FailureRate(0.5, 20)). An open breaker refuses calls with a
// *RejectedError matching ErrOpen for its open period, then turns half-open
// and admits MaxRequests probes (default 1): that many consecutive
// successes close it; one failure or slow probe reopens it. A probe that
// has not reported within an open period loses its slot.
//
// Every state change starts a new generation: results of calls admitted
// before it are ignored, so a slow success from before a trip cannot close
// a breaker while its probe runs (failsafe-go v0.9.8 lacks this guard).
//
// The open period starts at Timeout (default 5 s) and doubles at each reopen
// that follows a trip without a stable closed Interval in between (a failed
// probe, or a trip soon after closing), up to MaxTimeout (default 2 min),
// with ±10 % jitter that never exceeds MaxTimeout, so breakers opened
// together do not probe in lockstep. After one Interval closed, the next
// trip starts again at Timeout.
//
// Outcomes: a nil error is a success; an error matching ctx.Err() of the
// caller's context (the caller gave up) is excluded, as is any error
// IsExcluded accepts; IsSuccessful may turn an error into a success; the
// rest are failures, including a panic in fn (re-raised). With SlowCall set,
// calls running longer are also counted as slow (see SlowCallRate).
//
// A Group keeps one breaker per key (a host, a method), at most MaxKeys
// (default 10,000), evicting the least recently used closed breaker with no
// call in flight; it never evicts an open or half-open one, so a dead host
// stays cut off however many other keys pass through. MaxOpenFraction caps
// the share of keys that may be open at once, as Envoy's
// max_ejection_percent does. RoundTripper puts a Group in front of an
// http.RoundTripper, keyed by host.
//
// # Hooks
//
// Hooks (state changes, rejections, results) run outside every lock, one at
// a time and in order per breaker, and may call back into the breaker:
// gobreaker calls OnStateChange under its mutex, so a callback reading
// Counts deadlocks (gobreaker #37). Events queue while a hook runs; a hook
// runs on the goroutine of some call of the breaker, possibly after the
// call its event describes has returned, so hooks must be fast.
//
// # Relation to gobreaker
//
// The state machine follows github.com/sony/gobreaker/v2 v2.4.0: the same
// Config fields and meanings (MaxRequests, Interval, BucketPeriod, Timeout,
// IsSuccessful, IsExcluded), generations, rolling buckets, and errors that
// match gobreaker.ErrOpenState and gobreaker.ErrTooManyRequests. It is not
// a wrapper around gobreaker's CircuitBreaker, because that type reads
// time.Now itself (no injectable clock, so no deterministic tests), has a
// fixed Timeout (no growing open period), no manual Trip or Reset, no slow
// or rejected counts, and runs OnStateChange under its lock.
//
// # Performance
//
// Execute on a closed breaker takes the breaker's mutex twice and reads the
// clock once (twice with SlowCall or OnResult set); it does not allocate.
// gobreaker reads the clock twice. Group.Execute adds a sharded read-locked
// map lookup and no allocation. Throttle.Allow+Record is lock-free: two atomic
// adds and a few loads, with a clock read only every few calls under load
// (up to every 64th) and before any rejection. Allow (the two-step form) allocates its done func. Figures against
// gobreaker and failsafe-go are in BENCHMARKS.md (benchmarks/breaker).
//
// # What it does not do
//
// No distributed or shared state between processes, no retries (compose a
// retry loop around Execute), no bulkhead or concurrency limit (see package
// overload), no post-close ramp: a closed breaker admits full traffic at
// once. Group keys are not hierarchical. Hooks queue without bound while a
// hook blocks.
package breaker
