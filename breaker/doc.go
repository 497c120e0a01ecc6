// Package breaker stops a service from hammering a dependency that is
// failing: circuit breakers (one per dependency, or one per key in a
// bounded Group) and Google SRE's client-side throttle.
//
//	b, err := breaker.New[*Order](breaker.Config{Name: "orders"})
//	if err != nil { ... }
//	// ctx carries the request's deadline: a call that runs into it counts
//	// as a failure of the dependency; a cancellation by the caller does not.
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
// successes close it; one failure or slow probe reopens it. Probes that
// have not all reported within an open period of the first one's admission
// are given up: a new half-open generation admits new probes.
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
// Outcomes: a nil error is a success. The caller's cancellation is
// excluded: once the context passed to Execute (or Allow) is cancelled, an
// error matching context.Canceled or the context's cause (which net/http
// returns and errgroup sets) is the caller's doing, not the dependency's.
// A context that ran out of its deadline is different: the deadline is the
// caller's bound on the dependency, and a dependency that did not answer
// within it failed. So a call that returns context.DeadlineExceeded (or the
// deadline's cause) after the caller's deadline passed is a failure, through
// every entry point (Execute, ExecuteFallback, Allow, the Group's, and
// RoundTripper): otherwise a hanging dependency, called the usual way with
// a request's deadline in ctx, would never open its breaker. To opt out,
// let IsExcluded match context.DeadlineExceeded. Any error IsExcluded
// accepts is excluded; IsSuccessful may turn an error into a success; the
// rest are failures, including a panic in fn (re-raised). With SlowCall
// set, every recorded call (success or failure, so a call that ran into
// its deadline too) that ran longer is also counted as slow (see
// SlowCallRate); excluded calls are not recorded, and so never slow, as in
// resilience4j. Reading a breaker (State, Counts) never changes what it
// does: an open period ends at its time whether or not anyone looks.
//
// A Group keeps one breaker per key (a host, a method), with the
// Breaker's calls per key: Execute, ExecuteFallback, Allow, State, Counts,
// Trip and Reset. Its table holds at
// most MaxKeys (default 10,000) and evicts, for a new key, a closed breaker
// with no call in flight, chosen by a second-chance (CLOCK) sweep that
// approximates least recently used (a key seen once goes first) and examines
// at most 96 breakers per new key. It never evicts an open or half-open
// breaker from the table, so a dead host stays cut off however many other
// keys pass through. When the sweep finds nothing to evict (only open,
// half-open, busy or recently used breakers), new keys get breakers in an
// overflow of ⌈MaxKeys/16⌉ more, so a new dead host is still cut off; only when the overflow is full too does it
// drop its least recent breaker, whatever its state. MaxOpenFraction caps
// the share of keys that may be open at once, as Envoy's
// max_ejection_percent does: at most max(1, ⌊fraction × Len⌋), given to
// keys in the order their trip rules fire; a refused key asks again at
// its next failure, so under a lasting fault the number open does not
// depend on the order keys arrived in (see GroupConfig). RoundTripper puts a Group in front of an
// http.RoundTripper, keyed by host.
//
// # Hooks
//
// Hooks (state changes, rejections, results) run outside every lock, one at
// a time and in order per breaker, and may call back into the breaker:
// gobreaker calls OnStateChange under its mutex, so a callback reading
// Counts deadlocks (gobreaker #37). Counts read in the hook are the new
// generation's (zero after a trip), so OnTransition receives a Transition
// with the Reason (trip rule, failed or slow probe, open period ended,
// manual Trip or Reset, eviction) and the Counts of the generation that
// ended, as they stood at the transition: what made it trip. In a Group
// the order holds per key across evictions: a key's new breaker reports
// after the events of its evicted predecessor, an evicted breaker reports
// nothing more, and a breaker the overflow drops while open reports a
// change to closed; so a
// consumer tracking each key's state from OnStateChange always ends with
// the state Group.State reports. A hook runs on the goroutine of some call
// of the breaker, possibly after the call its event describes has
// returned, so hooks must be fast. Events queue while a hook runs, at most
// MaxQueuedEvents per breaker: a blocked hook makes later results and
// rejections be dropped and state changes be merged (see Hooks). A
// panicking hook does not stop the others; its panic is re-raised once the
// queue is delivered.
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
// A successful call on a closed breaker takes no lock: it loads the state
// word, reads the clock once (twice with SlowCall set) and adds to two
// counters of the current bucket; nothing else is written. gobreaker takes
// its mutex twice and reads the clock twice. Failures, state changes,
// half-open probes, the first call of a new bucket and, when OnResult is
// set, every result take the breaker's mutex; refusals of an open breaker
// are lock-free unless OnReject is set. Counts and the trip rule's
// evaluation after a failure cost one step per bucket.
//
// OnTransition costs one more sum of the window per state change (under
// the lock, only when it is set), nothing per call.
//
// Execute allocates nothing; a breaker allocates a 64-byte slot for each
// bucket period in which it admits a call, a new window (128 bytes and
// 8 per bucket) at each state change, and the 48-byte error its
// rejections share at each opening. Group.Execute adds a hash-table lookup
// that takes no lock and writes nothing, and no allocation; adding a key
// examines at most 96 breakers. Throttle.Allow+Record is lock-free: two
// atomic adds and a few loads, with a clock read only every few calls
// under load (up to every 64th) and before any rejection. Allow (the
// two-step form) allocates its done func. Figures against gobreaker and
// failsafe-go are in BENCHMARKS.md (benchmarks/breaker).
//
// # What it does not do
//
// No distributed or shared state between processes, no retries (compose a
// retry loop around Execute), no bulkhead or concurrency limit (see package
// overload), no post-close ramp: a closed breaker admits full traffic at
// once. Group keys are not hierarchical. A Group forgets the least recent
// of its dead keys once it must remember more than MaxKeys + ⌈MaxKeys/16⌉
// of them. Hooks are not a lossless log: while a hook blocks, results and
// rejections beyond MaxQueuedEvents are dropped.
package breaker
