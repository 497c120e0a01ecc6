package quorum

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"golang.org/x/time/rate"
)

// Consistency is what a read promises about the writes before it. The zero
// Consistency means Linearizable in a Config and "the client's level" in a
// Call.
type Consistency uint8

const (
	// Linearizable is ABD: a read takes the newest record of R replicas and,
	// unless at least W of them already hold that version, writes it back to a
	// write quorum before returning. Every read sees every write that completed
	// before it started, and no read sees an older value than an earlier read.
	// Needs W+R > N. The default.
	Linearizable Consistency = iota + 1
	// Quorum reads R replicas and returns the newest record; stale replicas are
	// repaired per Config.Repair. Reads see every completed write (W+R > N), but
	// two reads racing a write may disagree (not linearizable).
	Quorum
	// Weak is Quorum without the W+R > N check: the only level that accepts
	// partial quorums such as W=R=1 over three replicas. Reads may miss
	// acknowledged writes until repair or later writes catch up.
	Weak
)

func (c Consistency) String() string {
	switch c {
	case Linearizable:
		return "linearizable"
	case Quorum:
		return "quorum"
	case Weak:
		return "weak"
	}
	return fmt.Sprintf("consistency(%d)", uint8(c))
}

// Tier selects how an operation uses the replicas. The zero Tier means
// QuorumTier in a Config and "the client's tier" in a Call.
type Tier uint8

const (
	// QuorumTier is WeChat's Simple Quorum: N replicas, W write and R read
	// acknowledgements, per-key versions. No acknowledged write is lost while
	// fewer than W replicas (and, with Config.MinWriteZones, fewer than
	// MinWriteZones zones) are lost.
	QuorumTier Tier = iota + 1
	// MasterSlave writes replicas[0] (the master) synchronously and
	// replicas[1] (the slave) asynchronously after the master acknowledged;
	// reads go to the master and fall back to the slave when it fails or has
	// no record of the key. A write's version read asks both (see the package
	// doc, Tiers). Loss window: writes acknowledged by the master whose slave
	// copy has not landed (in flight for at most Config.ReplicaTimeout, or
	// failed — failed or refused copies are reported to Hooks.AsyncWrite and
	// not retried) are lost with the master.
	MasterSlave
	// DualWrite writes replicas[0] (primary) and replicas[1] (secondary) at
	// once and succeeds per Config.DualWrite. Loss window: with DualBoth none
	// (every acknowledged write is on both); with DualPrimary, writes the
	// secondary missed are lost with the primary; with DualEither, a write
	// acknowledged by one replica only is lost with that replica.
	DualWrite
)

func (t Tier) String() string {
	switch t {
	case QuorumTier:
		return "quorum"
	case MasterSlave:
		return "master-slave"
	case DualWrite:
		return "dual-write"
	}
	return fmt.Sprintf("tier(%d)", uint8(t))
}

// ReadRepair says what a Quorum or Weak read does with replicas that answered
// with an older record than the newest. Linearizable reads always write back
// synchronously, whatever this says. The zero ReadRepair means RepairAsync.
type ReadRepair uint8

const (
	// RepairAsync sends the newest record to the stale replicas in the
	// background; Client.Close waits for these writes.
	RepairAsync ReadRepair = iota + 1
	// RepairBlocking sends it and waits (up to Config.ReplicaTimeout) before
	// the read returns, which gives monotonic reads between readers.
	RepairBlocking
	// RepairOff never repairs.
	RepairOff
)

func (r ReadRepair) String() string {
	switch r {
	case RepairAsync:
		return "async"
	case RepairBlocking:
		return "blocking"
	case RepairOff:
		return "off"
	}
	return fmt.Sprintf("repair(%d)", uint8(r))
}

// DualPolicy decides when a DualWrite write succeeds. The zero DualPolicy
// means DualBoth.
type DualPolicy uint8

const (
	// DualBoth succeeds when both replicas stored the record. While either
	// is known to hang, writes fail at once (Error.Fast, ErrNotApplied)
	// and the replica is probed in the background (see the package doc).
	// Reads use the primary and fall back to the secondary when it fails
	// or has no record of the key.
	DualBoth DualPolicy = iota + 1
	// DualEither succeeds when either replica acknowledged. Reads ask both and
	// return the newer record.
	DualEither
	// DualPrimary succeeds when the primary acknowledged; the secondary
	// write continues in the background. Reads use the primary and fall back
	// to the secondary when it fails or has no record of the key.
	DualPrimary
)

func (p DualPolicy) String() string {
	switch p {
	case DualBoth:
		return "both"
	case DualEither:
		return "either"
	case DualPrimary:
		return "primary"
	}
	return fmt.Sprintf("dual(%d)", uint8(p))
}

// Hedge configures hedged reads (Dean & Barroso, "The Tail at Scale"): a read
// first asks the minimum set of replicas (R of them) and asks one more when
// an outstanding call is late for its own replica: outstanding longer than
// Factor times the Quantile of that replica's recent latency. The defaults
// hedge a call after three times its replica's median, so a replica whose
// calls cluster around a typical latency is hedged only on calls that are
// really late, whatever the shape or the size of its tail, and ordinary
// jitter does not spend the budget.
//
// What the defaults cost: at most Budget (10 %) extra replica requests over
// what the reads would make unhedged (R requests each), plus Burst. Hedges
// and the replacements of suspect calls are both paid from the bucket, so
// the bound covers every extra request except probes of demoted or suspect
// replicas (one Get per replica at most every 100 ms) and the replacements
// of calls that failed (TestExtraRequestsWithinBudget, random tail-heavy
// clusters: worst seed 8 % of the cap's 10 %). In practice fewer, since
// only calls past three medians are hedged: 3.9–6.0 % of the unhedged
// requests with one replica in every read's set that is slow on 10 % of
// its calls (BenchmarkHedgePinned, five seeds, two runs), about 8 % (measured
// 7.8–8.4 %) on a loaded machine over real Redis with four readers, where
// jitter makes more calls late. Hedges and replacements never go to a
// demoted or suspect replica. When the bucket is empty, a read whose call
// hangs waits for it up to ReplicaTimeout (the replica is suspect by then,
// so later reads avoid it).
type Hedge struct {
	// Disabled turns off every extra request a read makes: no hedges, and
	// no replacement for a call that is late (its replica suspect, see the
	// package doc) but has not failed — such a read waits for it up to
	// ReplicaTimeout. Failed and timed-out calls are still replaced (they
	// are over, so the replacement is not extra), and demoted or suspect
	// replicas are still probed (one background Get per replica at most
	// every 100 ms to 1 s).
	Disabled bool
	// Quantile of each replica's recent latency that, times Factor, is its
	// hedge delay. Zero means 0.5 (the median).
	Quantile float64
	// Factor multiplies the Quantile latency. Zero means 3 when Quantile is
	// zero too, and 1 when Quantile is set (hedge at that quantile, as
	// "The Tail at Scale" does with p95). At least 1.
	Factor float64
	// Budget caps hedges and suspect replacements as a fraction of the
	// replica requests that reads (and writes' version reads) make
	// unhedged: each QuorumTier operation credits Budget × R tokens (R =
	// Config.R) to a token bucket holding at most Burst, and every hedge or
	// replacement takes one. So they never exceed Budget of those requests
	// plus Burst. Zero means 0.1; at most 1.
	Budget float64
	// Burst is the bucket size in hedges. Zero means 10.
	Burst int
	// MinDelay is the shortest hedge delay. Zero means 100µs (at most half
	// of ReplicaTimeout), so in-memory jitter does not burn the budget. It
	// must be below ReplicaTimeout unless Disabled.
	MinDelay time.Duration
	// InitialDelay is used for a replica with too few latency samples (fewer
	// than 32). Zero means 5ms (at most half of ReplicaTimeout). It must be
	// below ReplicaTimeout unless Disabled.
	InitialDelay time.Duration
}

// Config configures a Client. The zero Config over three replicas is usable:
// W = R = 2, Linearizable, QuorumTier, hedged reads, 1 s replica timeout and a
// random client id.
type Config struct {
	// W is the number of replicas that must acknowledge a write. Zero means
	// a majority of N (N/2 + 1).
	W int
	// R is the number of replicas a read waits for. Zero means a majority.
	R int
	// Consistency is the default level; zero means Linearizable.
	Consistency Consistency
	// Tier is the default tier; zero means QuorumTier.
	Tier Tier
	// DualWrite is the success policy of the DualWrite tier; zero means DualBoth.
	DualWrite DualPolicy
	// Repair is the read repair of Quorum and Weak reads; zero means RepairAsync.
	Repair ReadRepair
	// RepairRate limits read repairs (records sent to stale replicas) per
	// second, with RepairBurst. Zero means 1000 per second; negative means
	// unlimited. Repairs over the limit are skipped, not queued.
	RepairRate float64
	// RepairBurst is the limiter's burst; zero means 100.
	RepairBurst int
	// ClientID is the Writer of every version this client writes. It must be
	// unique among all Client instances that write the same replicas, ever:
	// two instances sharing an id (two processes, or one process restarted)
	// can write different values under the same version, and replicas then
	// disagree forever. Zero — the safe choice — means a random non-zero id
	// from crypto/rand, drawn once in New (a collision among a million
	// clients has odds of about 3e-8).
	ClientID uint64
	// ReplicaTimeout bounds each replica call: a replica that has not answered
	// within it counts as failed and the operation moves on. Zero means 1 s;
	// at least 1 ms, at most 24 h.
	ReplicaTimeout time.Duration
	// MinWriteZones is the number of distinct zones (see Zoned) whose replicas
	// must be among a write's acknowledgements, so that losing a whole zone
	// loses no acknowledged write when it is 2. Zero or one means no zone
	// rule. Replicas without a zone share the zone "". The rule applies to
	// the QuorumTier only: New refuses it with Tier MasterSlave or DualWrite.
	// A Linearizable read's
	// write-back needs W copies only (see the package doc, Zones).
	MinWriteZones int
	// LocalZone makes reads ask replicas of this zone first; it must be the
	// zone of at least one replica.
	LocalZone string
	// MaxInFlight bounds concurrent calls per replica (each runs on a worker
	// goroutine the client owns); a call over the bound fails at once with
	// ErrReplicaBusy. Zero means 1024; at most 1<<20.
	MaxInFlight int
	// InlineBelow lets fast replicas skip the hand-off to a worker: a
	// replica whose last 128 calls each took less than InlineBelow is called
	// on the operation's own goroutine, after the phase's other calls were
	// handed to workers (a read phase inlines at most the calls it needs, a
	// write phase every fast target). Such a call cannot be timed out or
	// hedged by the client, only cancelled through its context, and does not
	// count against MaxInFlight. One call that turns out slow ends inlining
	// for the replica until it has been fast 128 times in a row again, and
	// sends the phase's remaining inline calls to workers. Zero means 5µs
	// (in-process replicas qualify; networked ones never do); negative
	// disables it; at most ReplicaTimeout.
	InlineBelow time.Duration
	// Hedge configures hedged reads of the QuorumTier.
	Hedge Hedge
	// Hooks receive metrics; nil funcs are skipped.
	Hooks Hooks
}

// Op names what a Client or a replica call does, for Hooks.
type Op uint8

const (
	OpGet    Op = iota + 1 // a Client Get, or a replica Get/Version call
	OpPut                  // a Client Put, or a replica Put call
	OpDelete               // a Client Delete
)

func (o Op) String() string {
	switch o {
	case OpGet:
		return "get"
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Hooks are callbacks for metrics. They run on the client's goroutines or
// the caller's (after an inline replica call), possibly concurrently, and must be fast and safe for concurrent use. The
// replica argument is the index in the slice given to New.
type Hooks struct {
	// ReplicaLatency reports every finished replica call (OpGet or OpPut); d
	// runs from when the client handed the call to the replica's worker, so
	// it includes the hand-off (for a call made inline, see
	// Config.InlineBelow, d is the call alone).
	ReplicaLatency func(replica int, op Op, d time.Duration, err error)
	// QuorumReached reports how long a successful operation took to gather
	// its quorum (for a Linearizable read with write-back, both phases).
	QuorumReached func(op Op, d time.Duration)
	// HedgeFired reports a hedged read sent to replica.
	HedgeFired func(replica int)
	// HedgeWon reports a hedged read whose answer was part of the quorum.
	HedgeWon func(replica int)
	// Repair reports a record written to a stale replica by read repair or
	// write-back, with the replica's error (nil on success).
	Repair func(replica int, err error)
	// StaleRead reports a replica that answered a read with an older version
	// than the newest seen.
	StaleRead func(replica int, have, newest Version)
	// AsyncWrite reports the outcome of a MasterSlave slave write: nil when
	// the slave stored the record, an error matching ErrSuperseded when it
	// refused it for holding a newer version, an error matching ErrNotStored
	// when the copy was not sent (the slave is unhealthy or hangs: see the
	// package doc), or the call's error.
	AsyncWrite func(replica int, err error)
}

// settings is a validated Config with defaults applied.
type settings struct {
	n, w, r       int
	consistency   Consistency
	tier          Tier
	dual          DualPolicy
	repair        ReadRepair
	id            uint64
	timeout       time.Duration
	minZones      int
	localZone     string
	maxInFlight   int
	inlineBelow   time.Duration // 0: never inline
	hedge         Hedge
	hedgeFactor   float64
	hooks         Hooks
	repairLimiter *rate.Limiter
}

// Defaults of the zero Config, and limits.
const (
	// DefaultReplicaTimeout bounds each replica call.
	DefaultReplicaTimeout = time.Second
	// DefaultInlineBelow is about the cost of handing a call to a worker
	// goroutine and waking the caller again on a busy machine: a
	// NonBlocking replica faster than that is cheaper to call inline.
	DefaultInlineBelow = 5 * time.Microsecond
	// DefaultMaxInFlight bounds concurrent calls per replica.
	DefaultMaxInFlight = 1024
	// DefaultRepairRate and DefaultRepairBurst limit read repairs.
	DefaultRepairRate  = 1000
	DefaultRepairBurst = 100
	// Hedging defaults: hedge after DefaultHedgeFactor × the
	// DefaultHedgeQuantile of the replica's latency, at most
	// DefaultHedgeBudget extra requests plus DefaultHedgeBurst.
	DefaultHedgeQuantile     = 0.5
	DefaultHedgeFactor       = 3.0
	DefaultHedgeBudget       = 0.1
	DefaultHedgeBurst        = 10
	DefaultHedgeMinDelay     = 100 * time.Microsecond
	DefaultHedgeInitialDelay = 5 * time.Millisecond

	maxReplicas = 64
	maxTimeout  = 24 * time.Hour
	minTimeout  = time.Millisecond // below it every networked call would time out
	maxBound    = 1 << 20          // MaxInFlight, Hedge.Burst, RepairBurst
)

// settings validates cfg for n replicas in zones, one concern at a time.
func (cfg Config) settings(n int, zones []string) (settings, error) {
	s := settings{
		n: n, id: cfg.ClientID, localZone: cfg.LocalZone, hooks: cfg.Hooks,
	}
	for _, step := range []func(*settings, Config, []string) error{
		(*settings).quorumSizes,
		(*settings).levels,
		(*settings).timing,
		(*settings).zoneRule,
		(*settings).hedging,
		(*settings).repairs,
	} {
		if err := step(&s, cfg, zones); err != nil {
			return s, err
		}
	}
	return s, nil
}

// quorumSizes: N, W and R.
func (s *settings) quorumSizes(cfg Config, _ []string) error {
	n := s.n
	if n == 0 {
		return fmt.Errorf("%w: no replicas", ErrConfig)
	}
	if n > maxReplicas {
		return fmt.Errorf("%w: %d replicas, at most %d", ErrConfig, n, maxReplicas)
	}
	majority := n/2 + 1
	s.w, s.r = cmp.Or(cfg.W, majority), cmp.Or(cfg.R, majority)
	if s.w < 0 || s.w > n {
		return fmt.Errorf("%w: W=%d outside 1..N=%d", ErrConfig, s.w, n)
	}
	if s.r < 0 || s.r > n {
		return fmt.Errorf("%w: R=%d outside 1..N=%d", ErrConfig, s.r, n)
	}
	return nil
}

// levels: consistency, tier, dual-write policy and read repair.
func (s *settings) levels(cfg Config, _ []string) error {
	s.consistency = cmp.Or(cfg.Consistency, Linearizable)
	if s.consistency > Weak {
		return fmt.Errorf("%w: unknown consistency %d", ErrConfig, s.consistency)
	}
	if s.consistency != Weak && s.w+s.r <= s.n {
		return fmt.Errorf("%w: W+R=%d must exceed N=%d for %v (choose Weak explicitly for partial quorums)",
			ErrConfig, s.w+s.r, s.n, s.consistency)
	}
	s.tier = cmp.Or(cfg.Tier, QuorumTier)
	if s.tier > DualWrite {
		return fmt.Errorf("%w: unknown tier %d", ErrConfig, s.tier)
	}
	if s.tier != QuorumTier && s.n < 2 {
		return fmt.Errorf("%w: tier %v needs two replicas", ErrConfig, s.tier)
	}
	s.dual = cmp.Or(cfg.DualWrite, DualBoth)
	if s.dual > DualPrimary {
		return fmt.Errorf("%w: unknown dual-write policy %d", ErrConfig, s.dual)
	}
	s.repair = cmp.Or(cfg.Repair, RepairAsync)
	if s.repair > RepairOff {
		return fmt.Errorf("%w: unknown read repair %d", ErrConfig, s.repair)
	}
	return nil
}

// timing: ReplicaTimeout, InlineBelow and MaxInFlight.
func (s *settings) timing(cfg Config, _ []string) error {
	s.timeout = cmp.Or(cfg.ReplicaTimeout, DefaultReplicaTimeout)
	if s.timeout < minTimeout || s.timeout > maxTimeout {
		return fmt.Errorf("%w: ReplicaTimeout %v outside %v..%v", ErrConfig, s.timeout, minTimeout, maxTimeout)
	}
	switch b := cfg.InlineBelow; {
	case b == 0:
		s.inlineBelow = min(DefaultInlineBelow, s.timeout)
	case b < 0:
		s.inlineBelow = 0
	case b > s.timeout:
		return fmt.Errorf("%w: InlineBelow %v exceeds ReplicaTimeout %v", ErrConfig, b, s.timeout)
	default:
		s.inlineBelow = b
	}
	s.maxInFlight = cmp.Or(cfg.MaxInFlight, DefaultMaxInFlight)
	if s.maxInFlight < 0 || s.maxInFlight > maxBound {
		return fmt.Errorf("%w: MaxInFlight %d outside 0..%d", ErrConfig, s.maxInFlight, maxBound)
	}
	return nil
}

// zoneRule: MinWriteZones and LocalZone.
func (s *settings) zoneRule(cfg Config, zones []string) error {
	s.minZones = cfg.MinWriteZones
	if s.minZones < 0 {
		return fmt.Errorf("%w: negative MinWriteZones", ErrConfig)
	}
	if s.minZones > 1 && s.tier != QuorumTier {
		return fmt.Errorf("%w: MinWriteZones=%d applies to the QuorumTier only, not to the default tier %v", ErrConfig, s.minZones, s.tier)
	}
	if s.minZones > 1 {
		distinct := map[string]bool{}
		for _, z := range zones {
			distinct[z] = true
		}
		if len(distinct) < s.minZones {
			return fmt.Errorf("%w: MinWriteZones=%d but replicas span %d zones", ErrConfig, s.minZones, len(distinct))
		}
		if s.w < s.minZones {
			return fmt.Errorf("%w: MinWriteZones=%d needs W >= %d, have W=%d", ErrConfig, s.minZones, s.minZones, s.w)
		}
	}
	if s.localZone != "" && !slices.Contains(zones, s.localZone) {
		return fmt.Errorf("%w: LocalZone %q matches no replica's zone", ErrConfig, s.localZone)
	}
	return nil
}

// hedging: the Hedge fields.
func (s *settings) hedging(cfg Config, _ []string) error {
	h := cfg.Hedge
	s.hedgeFactor = h.Factor
	if s.hedgeFactor == 0 {
		s.hedgeFactor = 1
		if h.Quantile == 0 {
			s.hedgeFactor = DefaultHedgeFactor
		}
	}
	if !(s.hedgeFactor >= 1 && s.hedgeFactor <= 1000) {
		return fmt.Errorf("%w: hedge factor %v outside [1, 1000]", ErrConfig, h.Factor)
	}
	h.Quantile = cmp.Or(h.Quantile, DefaultHedgeQuantile)
	if !(h.Quantile > 0 && h.Quantile < 1) {
		return fmt.Errorf("%w: hedge quantile %v outside (0, 1)", ErrConfig, h.Quantile)
	}
	h.Budget = cmp.Or(h.Budget, DefaultHedgeBudget)
	if !(h.Budget > 0 && h.Budget <= 1) {
		return fmt.Errorf("%w: hedge budget %v outside (0, 1]", ErrConfig, h.Budget)
	}
	h.Burst = cmp.Or(h.Burst, DefaultHedgeBurst)
	if h.Burst < 0 || h.Burst > maxBound {
		return fmt.Errorf("%w: hedge burst %d outside 0..%d", ErrConfig, h.Burst, maxBound)
	}
	if h.MinDelay < 0 || h.InitialDelay < 0 {
		return fmt.Errorf("%w: negative hedge delay", ErrConfig)
	}
	// A hedge delay of ReplicaTimeout or more never fires: refuse it when
	// set, and keep the defaults under a short ReplicaTimeout.
	if !h.Disabled {
		if h.MinDelay >= s.timeout {
			return fmt.Errorf("%w: Hedge.MinDelay %v is not below ReplicaTimeout %v (no hedge could fire; set Hedge.Disabled instead)", ErrConfig, h.MinDelay, s.timeout)
		}
		if h.InitialDelay >= s.timeout {
			return fmt.Errorf("%w: Hedge.InitialDelay %v is not below ReplicaTimeout %v (no hedge could fire; set Hedge.Disabled instead)", ErrConfig, h.InitialDelay, s.timeout)
		}
	}
	h.MinDelay = cmp.Or(h.MinDelay, min(DefaultHedgeMinDelay, s.timeout/2))
	h.InitialDelay = cmp.Or(h.InitialDelay, min(DefaultHedgeInitialDelay, s.timeout/2))
	s.hedge = h
	return nil
}

// repairs: RepairRate and RepairBurst.
func (s *settings) repairs(cfg Config, _ []string) error {
	rr := cmp.Or(cfg.RepairRate, DefaultRepairRate)
	rb := cmp.Or(cfg.RepairBurst, DefaultRepairBurst)
	if rb < 0 || rb > maxBound {
		return fmt.Errorf("%w: RepairBurst %d outside 0..%d", ErrConfig, rb, maxBound)
	}
	if rr != rr { // NaN
		return fmt.Errorf("%w: RepairRate is NaN", ErrConfig)
	}
	if rr < 0 {
		s.repairLimiter = rate.NewLimiter(rate.Inf, rb)
	} else {
		s.repairLimiter = rate.NewLimiter(rate.Limit(rr), rb)
	}
	return nil
}
