package quorum

import (
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
	// reads go to the master and fall back to the slave when it fails. Loss
	// window: writes acknowledged by the master whose slave copy has not landed
	// (in flight for at most Config.ReplicaTimeout, or failed — failed copies
	// are reported to Hooks.AsyncWrite and not retried) are lost with the master.
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
	// DualBoth succeeds when both replicas acknowledged. Reads use the primary
	// and fall back to the secondary.
	DualBoth DualPolicy = iota + 1
	// DualEither succeeds when either replica acknowledged. Reads ask both and
	// return the newer record.
	DualEither
	// DualPrimary succeeds when the primary acknowledged; the secondary
	// write continues in the background. Reads use the primary and fall back
	// to the secondary.
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
// first asks the minimum set of replicas and asks one more when an outstanding
// replica is slower than its own recent latency quantile.
type Hedge struct {
	// Disabled turns hedging off.
	Disabled bool
	// Quantile of each replica's recent latency after which a read hedges.
	// Zero means 0.9.
	Quantile float64
	// Budget caps hedges as a share of reads, a token bucket refilled by
	// every read. Zero means 0.1 (at most 10 % extra requests, plus Burst).
	Budget float64
	// Burst is the bucket size in hedges. Zero means 10.
	Burst int
	// MinDelay is the shortest hedge delay. Zero means 100µs, so in-memory
	// jitter does not burn the budget.
	MinDelay time.Duration
	// InitialDelay is used for a replica with too few latency samples (fewer
	// than 32). Zero means 5ms.
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
	// at most 24 h.
	ReplicaTimeout time.Duration
	// MinWriteZones is the number of distinct zones (see Zoned) whose replicas
	// must be among a write's acknowledgements, so that losing a whole zone
	// loses no acknowledged write when it is 2. Zero or one means no zone
	// rule. Replicas without a zone share the zone "". A Linearizable read's
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
	// AsyncWrite reports the outcome of a MasterSlave slave write.
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
	hooks         Hooks
	repairLimiter *rate.Limiter
}

const (
	// defaultInlineBelow is about the cost of handing a call to a worker
	// goroutine and waking the caller again on a busy machine: a replica
	// faster than that is cheaper to call inline.
	defaultInlineBelow = 5 * time.Microsecond
	maxReplicas        = 64
	maxTimeout         = 24 * time.Hour
	maxBound           = 1 << 20 // MaxInFlight, Hedge.Burst, RepairBurst
)

func (cfg Config) settings(n int, zones []string) (settings, error) {
	s := settings{
		n: n, w: cfg.W, r: cfg.R,
		consistency: cfg.Consistency, tier: cfg.Tier, dual: cfg.DualWrite, repair: cfg.Repair,
		id: cfg.ClientID, timeout: cfg.ReplicaTimeout, minZones: cfg.MinWriteZones,
		localZone: cfg.LocalZone, maxInFlight: cfg.MaxInFlight, inlineBelow: cfg.InlineBelow,
		hedge: cfg.Hedge, hooks: cfg.Hooks,
	}
	if n == 0 {
		return s, fmt.Errorf("%w: no replicas", ErrConfig)
	}
	if n > maxReplicas {
		return s, fmt.Errorf("%w: %d replicas, at most %d", ErrConfig, n, maxReplicas)
	}
	majority := n/2 + 1
	if s.w == 0 {
		s.w = majority
	}
	if s.r == 0 {
		s.r = majority
	}
	if s.w < 0 || s.w > n {
		return s, fmt.Errorf("%w: W=%d outside 1..N=%d", ErrConfig, s.w, n)
	}
	if s.r < 0 || s.r > n {
		return s, fmt.Errorf("%w: R=%d outside 1..N=%d", ErrConfig, s.r, n)
	}
	if s.consistency == 0 {
		s.consistency = Linearizable
	}
	if s.consistency > Weak {
		return s, fmt.Errorf("%w: unknown consistency %d", ErrConfig, s.consistency)
	}
	if s.consistency != Weak && s.w+s.r <= n {
		return s, fmt.Errorf("%w: W+R=%d must exceed N=%d for %v (choose Weak explicitly for partial quorums)",
			ErrConfig, s.w+s.r, n, s.consistency)
	}
	if s.tier == 0 {
		s.tier = QuorumTier
	}
	if s.tier > DualWrite {
		return s, fmt.Errorf("%w: unknown tier %d", ErrConfig, s.tier)
	}
	if s.tier != QuorumTier && n < 2 {
		return s, fmt.Errorf("%w: tier %v needs two replicas", ErrConfig, s.tier)
	}
	if s.dual == 0 {
		s.dual = DualBoth
	}
	if s.dual > DualPrimary {
		return s, fmt.Errorf("%w: unknown dual-write policy %d", ErrConfig, s.dual)
	}
	if s.repair == 0 {
		s.repair = RepairAsync
	}
	if s.repair > RepairOff {
		return s, fmt.Errorf("%w: unknown read repair %d", ErrConfig, s.repair)
	}
	if s.timeout == 0 {
		s.timeout = time.Second
	}
	if s.timeout < 0 || s.timeout > maxTimeout {
		return s, fmt.Errorf("%w: ReplicaTimeout %v outside 0..%v", ErrConfig, s.timeout, maxTimeout)
	}
	switch {
	case s.inlineBelow == 0:
		s.inlineBelow = min(defaultInlineBelow, s.timeout)
	case s.inlineBelow < 0:
		s.inlineBelow = 0
	case s.inlineBelow > s.timeout:
		return s, fmt.Errorf("%w: InlineBelow %v exceeds ReplicaTimeout %v", ErrConfig, s.inlineBelow, s.timeout)
	}
	if s.minZones < 0 {
		return s, fmt.Errorf("%w: negative MinWriteZones", ErrConfig)
	}
	if s.minZones > 1 {
		distinct := map[string]bool{}
		for _, z := range zones {
			distinct[z] = true
		}
		if len(distinct) < s.minZones {
			return s, fmt.Errorf("%w: MinWriteZones=%d but replicas span %d zones", ErrConfig, s.minZones, len(distinct))
		}
		if s.w < s.minZones {
			return s, fmt.Errorf("%w: MinWriteZones=%d needs W >= %d, have W=%d", ErrConfig, s.minZones, s.minZones, s.w)
		}
	}
	if s.localZone != "" && !slices.Contains(zones, s.localZone) {
		return s, fmt.Errorf("%w: LocalZone %q matches no replica's zone", ErrConfig, s.localZone)
	}
	if s.maxInFlight == 0 {
		s.maxInFlight = 1024
	}
	if s.maxInFlight < 0 || s.maxInFlight > maxBound {
		return s, fmt.Errorf("%w: MaxInFlight %d outside 0..%d", ErrConfig, s.maxInFlight, maxBound)
	}
	h := &s.hedge
	if h.Quantile == 0 {
		h.Quantile = 0.9
	}
	if !(h.Quantile > 0 && h.Quantile < 1) {
		return s, fmt.Errorf("%w: hedge quantile %v outside (0, 1)", ErrConfig, h.Quantile)
	}
	if h.Budget == 0 {
		h.Budget = 0.1
	}
	if !(h.Budget > 0 && h.Budget <= 1) {
		return s, fmt.Errorf("%w: hedge budget %v outside (0, 1]", ErrConfig, h.Budget)
	}
	if h.Burst == 0 {
		h.Burst = 10
	}
	if h.Burst < 0 || h.Burst > maxBound {
		return s, fmt.Errorf("%w: hedge burst %d outside 0..%d", ErrConfig, h.Burst, maxBound)
	}
	if h.MinDelay == 0 {
		h.MinDelay = 100 * time.Microsecond
	}
	if h.InitialDelay == 0 {
		h.InitialDelay = 5 * time.Millisecond
	}
	if h.MinDelay < 0 || h.InitialDelay < 0 {
		return s, fmt.Errorf("%w: negative hedge delay", ErrConfig)
	}
	rr, rb := cfg.RepairRate, cfg.RepairBurst
	if rr == 0 {
		rr = 1000
	}
	if rb == 0 {
		rb = 100
	}
	if rb < 0 || rb > maxBound {
		return s, fmt.Errorf("%w: RepairBurst %d outside 0..%d", ErrConfig, rb, maxBound)
	}
	if rr != rr { // NaN
		return s, fmt.Errorf("%w: RepairRate is NaN", ErrConfig)
	}
	if rr < 0 {
		s.repairLimiter = rate.NewLimiter(rate.Inf, rb)
	} else {
		s.repairLimiter = rate.NewLimiter(rate.Limit(rr), rb)
	}
	return s, nil
}
