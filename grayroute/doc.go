// Package grayroute decides, per request, which variant of a gray release
// serves it: staff first, then a uid tail or segment, a platform and client
// version, a share of users by stable hash; it ramps the share in staged
// steps gated on canary-versus-control health, rolls the canary's share
// back to 0 in one step at the first Planner tick whose numbers show it
// worse than the control (before min_samples only when a sequential test
// valid at every tick says so), keeps judging it after the last step, and
// carries the decision to every downstream hop.
//
// # Quick start
//
//	cfg, err := grayroute.ParseConfig([]byte(`{"releases": {"chat-v2": {
//	    "variants": ["stable", "canary"],
//	    "rules": [
//	      {"name": "staff", "keys": ["10001"], "variant": "canary"},
//	      {"name": "ios", "when": [{"attr": "platform", "op": "in", "values": ["ios"]},
//	                               {"attr": "version", "op": "version_gte", "value": "8.0.49"}],
//	       "split": {"canary": 1000, "stable": 9000}}]}}}`))
//	if err != nil { ... }                 // errors name the path: releases.chat-v2.rules[1].when[1].value
//	r, err := grayroute.New(cfg)
//	d := r.Route("chat-v2", grayroute.Request{Key: uid, Attrs: attrs})
//	if d.Variant == "canary" { ... }
//
// Put Middleware in front of a handler to decide every release once per
// request (read with FromContext) and wrap outgoing clients with
// RoundTripper so the next service keeps the request in the same lane.
//
// # Model
//
// A release has variants, a default, and rules tried in order. A rule
// matches when the request key is in its keys whitelist (if any) and all of
// its conditions hold; it then names a variant or splits by bucket. A
// bucket is 0..9,999 from the versioned hash of the release salt and the
// key (Bucket; v1 is FNV-1a 64 over salt, NUL, key, then MurmurHash3's
// fmix64, then a multiply-shift onto 10,000; vectors in testdata). A split
// lays out its weights (basis points) in the release's variant order, so
// with two variants raising one share never moves a key out of it, and
// releases with different salts bucket independently.
//
// Operators: eq, neq, in, not_in, prefix, suffix, contains (string; a
// missing attribute is ""), num_lt/lte/gt/gte (decimal numbers compared
// exactly, every digit, not as float64; JSON
// numbers or strings), version_lt/lte/gt/gte/eq, key_tail (the key's last
// digits) and key_range (the key as an unsigned integer, inclusive). A
// missing or unparsable number or version fails the condition, whatever the
// direction. Versions are [v]N[.N[.N[.N]]][-pre][+build]: WeChat's
// four-part 8.0.49.2400, a v prefix, and semver with pre-release order
// (1.0.0-rc.1 < 1.0.0); missing parts are 0, so 8.0 equals 8.0.0; each
// part has at most nine digits; build metadata is ignored.
//
// A split without a key (Request.Key "") does not hash "": it gives the
// plan's control (or the release default) with ReasonDefault.
//
// # Validation and reload
//
// New compiles everything once: versions and numbers parsed, whitelists as
// sets, attributes as slots fetched once per Route. Every mistake is a
// *ConfigError matching ErrInvalidConfig with the path of the field, with
// indexes (releases.x.plan.steps[0].dwell); ParseConfig's errors also give
// the byte offset, line and column in the text, syntax errors included.
// ParseConfig is strict: unknown fields, field names in another case, a key
// repeated in one object, and a top-level null or non-object are errors
// (encoding/json would accept them, the last key winning). Config.Attrs,
// when set, rejects unknown attribute names. Update validates and swaps atomically (Route
// never blocks and never sees half a config); it refuses, with ErrReshuffle,
// a change of an existing release's salt, hash version or variant order,
// which would move users; ForceUpdate applies it. Impact reports who would
// move before you apply. WatchFile polls a file on your goroutine: it
// applies a changed config, reports an error once per change of state (a
// missing file once, not at every poll), and fires OnReload only when the
// config changed. A config may drop releases ({} is the empty config, and
// is accepted: removing a release is a legitimate change); a dropped
// release's plan progress, rollback included, is kept (by the Router and
// the Planner, for ForgetAbsentAfter, 7 days) and resumes if the release
// comes back with the same plan.
//
// # Plans
//
// A release's plan lists steps (share, dwell, min_samples) between a
// canary and a control variant. The Router applies the plan's current share
// as the canary weight of every split naming the canary (the control takes
// the rest), starting at step 0. A Planner (NewPlanner, then Tick or Run)
// asks a HealthSource for both variants since the step began. Once the
// canary has min_samples requests, a failed gate (error rate increase above
// max_error_rate_increase, default 0.01, or p99 ratio above max_p99_ratio,
// default 1.2) rolls the share back to 0 in one step, at that Tick. A
// passing gate advances once the dwell has elapsed. After the last step
// the plan is complete: it keeps its share and is still judged at every
// Tick (on the traffic since that step began), so a canary that turns bad
// later still rolls back; it stays so until the config promotes the canary
// (makes it the default, removes the plan). A ramp takes buckets only from
// the control: other arms keep theirs (Impact's RampFrom shows what a plan
// will move). A verdict reached while the config changed is dropped.
//
// A rolled-back plan holds at 0 until the plan is restarted, which only a
// change of what defines the ramp does: its steps, canary, control or
// "epoch" (bump the epoch to say "try again"). Editing the gate or
// rollback_all applies to the plan in progress and keeps its step or its
// rollback. So a rollback comes at the first Tick after the canary turned
// bad whose evidence suffices (the early abort below, or min_samples and
// the gate); between Ticks, and while the evidence is short of both, the
// canary keeps its share.
//
// Comparisons at min_samples are exact: the counts as fractions, the
// thresholds as the decimals written (ParseConfig refuses a threshold of
// more than 15 significant digits, which float64 could not keep; a Gate
// built in Go is read as the shortest decimal of its float64), so a value
// at a threshold passes and only one above it rolls back.
//
// Before min_samples the early abort rolls back a canary whose errors
// show, with a test valid however many Ticks look, that its error rate
// exceeds the control's by more than the allowed increase: the control's
// rate is bounded above, and the canary's error count tested against that
// bound plus the increase, each with a Chernoff (binomial KL) bound
// spending 1e-4/(n(n+1)) at n requests, so each errs with probability at
// most 1e-4 over the whole step (requests taken as independent trials).
// Measured (TestEarlyAbortHealthyUnderRepeatedLooks: a look after each of
// the first 200 canary requests, then at random gaps to 5,000; a one-off
// run of 400,000 random plans): none of the 299,857 whose canary was as
// healthy as the control rolled back, and 2 of the 100,143 whose canary
// was worse by exactly the allowed increase. A catastrophic canary still
// goes fast: against a control at 1 % errors, at 100 % errors it rolls
// back at its 4th request, at 50 % after 11 (median; 99th percentile 28).
// The price is patience with a moderately bad canary, which waits for
// min_samples. p99 is judged only at min_samples.
//
// The state persists to StateFile (temp file plus rename, a sequence
// number raised at every write) and is restored, rollbacks included, by
// NewPlanner after a restart. A failed write is retried at every Tick
// until one succeeds (a rollback applies in memory at once; an advance
// waits for its write). A step start later than the clock (a state written
// by a host whose clock ran ahead) is clamped to now and reported to
// PlannerHooks.OnError.
//
// A rollback sets the canary's share of the plan's splits to 0; rules that
// name the canary explicitly (a staff whitelist, a key_tail segment) keep
// sending their requests to it, on purpose: staff keep testing the broken
// build while users are out of it. Set "rollback_all": true in the plan to
// switch those rules off as well (and a canary default gives way to the
// control), and Middleware then ignores a trusted incoming header naming
// the canary (the release is decided locally), so that no request reaches
// the canary after a rollback.
//
// # Running a fleet
//
// A plan's state lives in the Planner's process. Run one Planner (on one
// replica, or a small controller) with a StateFile, and have every replica
// follow it: WatchFile on the shared config and WatchState on the state
// file (a shared volume, or copied beside the config by your config
// system). A follower applies each saved share, rollbacks included, at its
// next poll; while its config lags the Planner's (a different plan) it
// keeps its own share until the configs agree. It ignores (and reports) a
// file older than one it applied (by seq, within a lineage: a Planner that
// starts without a state file begins a new lineage, followed from its
// first write), and never undoes a rollback with a saved state of the same
// plan, so an out-of-order copy or a restored backup cannot reopen the
// canary. Without WatchState every
// replica routes its own plan's step 0 and never rolls back. Do not run a
// second Planner on the same state file, nor a Planner on a follower.
//
// # Once in, stay in
//
// With "sticky": N, up to N keys (an LRU) that a split sent to the canary
// stay there when a config change shrinks the share (ReasonSticky), also
// when other variants are added or removed (entries hold the variant's
// name). Entries are keyed by the key's salted 64-bit hash (about 120 bytes
// each, whatever the key's length). A rollback forgets them all. Without a plan, every variant but the default
// counts as canary.
//
// # Full-link gray
//
// Middleware stores every release's decision in the request context;
// RoundTripper sends them in the Bulwark-Gray header ("chat-v2=canary,...").
// An incoming header is honoured only when the trust func returns true: nil
// trust means never, the right default at the edge, where clients could
// forge it. Trust internal hops (by mTLS identity or network), not clients.
// The header is read strictly (ParseHeader): one malformed pair and the
// whole value is ignored. RoundTripper sends every release's decision to
// every host it is used for, skipping any decision whose names could inject
// pairs, and merges with a header the caller set (the caller's pairs win);
// wrap only clients to your own services, or use ScopedRoundTripper to
// choose which releases go to which host. ParseHeader and FormatHeader
// carry decisions over other transports (gRPC metadata, queue headers).
//
// # Performance
//
// Route does not allocate and takes no lock (a sticky release takes its
// LRU's lock on split decisions, and allocates once per new canary key). On
// the workload (20 rules × 5 conditions, the request failing one
// condition of each of the first 19 rules) Route took 0.45–0.84 µs in
// runs on a loaded 2-core machine, 11–17× faster than the fastest peer
// measured in the same run (LaunchDarkly's evaluator), and a single split
// 60–140 ns (median 93 ns in the latest full run); see benchmarks/grayroute
// for the side-by-side with LaunchDarkly, Unleash and GrowthBook. The first
// 32 distinct attributes of a release are fetched
// once per call and the first 8 version (and 8 number) attributes parsed
// once; more still work, parsed at each use.
//
// # What it does not do
//
// It does not collect metrics (bring a HealthSource, e.g. over the metrics
// package), test p99 or small error increases sequentially (only the early
// abort is a sequential test; the gate is a threshold on the counts since
// the step began: set min_samples high enough), persist
// sticky keys across restarts, or make experiments mutually exclusive. With
// three or more variants, changing weights moves keys between them (Impact
// shows how many). A Planner drives one Router; other replicas follow it
// with WatchState (see Running a fleet).
package grayroute
