// Package quorum is a client-side replicated register: WeChat's "Simple
// Quorum" (QuorumKV: N replicas, W write and R read acknowledgements,
// per-key versions) as a library, with linearizable reads (ABD), WeChat's
// master-slave and dual-write tiers for data that tolerates minor loss,
// zone-aware writes, and hedged reads.
//
// # Quick start
//
// Three replicas in three zones; every write is acknowledged by two of them
// in two zones, so losing any one zone loses no acknowledged write and
// stops neither reads nor writes (examples/quorum shows it):
//
//	ctx := context.Background()
//	reps := []quorum.Replica{ // one replica per zone (IDC); Redis: see quorum/redisreplica
//		memreplica.New(memreplica.Options{Zone: "idc-a"}),
//		memreplica.New(memreplica.Options{Zone: "idc-b"}),
//		memreplica.New(memreplica.Options{Zone: "idc-c"}),
//	}
//	c, err := quorum.New(reps, quorum.Config{MinWriteZones: 2}) // N=3, W=R=2, Linearizable
//	if err != nil {
//		panic(err)
//	}
//	defer c.Close()
//	if err := c.Put(ctx, "user:42", []byte("hello")); err != nil {
//		panic(err) // errors.Is tells ErrNotApplied (safe to retry) from ErrIndeterminate
//	}
//	v, err := c.Get(ctx, "user:42")
//	fmt.Println(string(v), err)
//	fast := c.With(quorum.Call{Consistency: quorum.Quorum}) // one call at the Quorum level
//	v, err = fast.Get(ctx, "user:42")
//	fmt.Println(string(v), err)
//
// # Problem
//
// A value kept on several independent stores (Redis instances, processes,
// data centres) must survive the loss of some of them without losing
// acknowledged writes, without resurrecting deleted keys, and without reads
// going back in time. A plain fan-out that waits for W answers does none of
// this: last-write-wins on wall clocks loses writes under skew, W+R > N alone
// is not linearizable, deletes come back through repair, and a write that
// failed may still have landed.
//
// # Model
//
// A [Replica] stores one [Record] per key — a value, a [Version] and a
// tombstone flag — and keeps it only if the new version is newer (atomic
// set-if-newer). Versions are (Counter, Writer) pairs: a write first reads the
// versions of N-W+1 replicas (enough to meet every earlier write quorum),
// then writes Counter = highest + 1 with Writer = the client's id. No wall
// clock is involved. So that two writes of one client never share a version
// (concurrent writes of one key, or a retry after an indeterminate write the
// version read missed), the counter is also above every counter the client
// issued before for keys of the same stripe (4096 stripes per client); a
// counter may therefore skip values. A counter of 2^63 or more (only ever
// set from outside) is tracked per key instead, so it never moves the
// counters of the other keys of its stripe: only that key can reach
// [ErrVersionOverflow] (at most 4096 such keys are tracked; beyond that a
// random one is forgotten and the other high keys of its stripe that are
// not tracked then start above its counter). Deletes write versioned tombstones, which are never
// collected, so repair can never bring a deleted value back.
//
// [New] validates a [Config] against N = len(replicas). Defaults (the zero
// Config): W = R = N/2+1, [Linearizable], [QuorumTier], a 1 s
// ReplicaTimeout, hedged reads (after 3 × a replica's median latency, ≤ 10 %
// extra replica requests plus a burst of 10, probes apart), asynchronous
// read repair at ≤ 1000 records/s, at most 1024 calls in flight per replica,
// and a random 64-bit client id (a ClientID must be unique per Client
// instance, ever: two instances sharing one can write different values under
// one version). N is at most 64. W+R > N is required unless the [Weak] level is chosen explicitly.
//
// Consistency levels ([Consistency], per client and per call with
// [Client.With]):
//
//   - [Linearizable] (ABD): a read gathers R answers and, unless W of them
//     already hold the newest version, writes that record back to a write
//     quorum before returning. Two round trips on a disagreement, one when
//     replicas agree.
//   - [Quorum]: R answers, newest wins; stale replicas are repaired
//     asynchronously (default), blockingly, or not at all ([ReadRepair]),
//     rate-limited with golang.org/x/time/rate.
//   - [Weak]: Quorum without the W+R > N check.
//
// Tiers ([Tier], per client and per call), using replicas[0] and replicas[1]:
//
//   - [QuorumTier]: the N/W/R quorum. Loss window: none while at most W-1
//     replicas are lost (every acknowledged write is on W), and, with
//     MinWriteZones = 2, none when a whole zone is lost.
//   - [MasterSlave]: write the master synchronously and the slave
//     asynchronously once the master acknowledged; read the master, fall back
//     to the slave (also when the master has no record of the key). Loss
//     window: losing the master loses the acknowledged writes whose slave
//     copy is still in flight (at most ReplicaTimeout old) or failed
//     (reported to Hooks.AsyncWrite, never retried — including a copy the
//     slave refused as older, [ErrSuperseded], and a copy not sent to a
//     slave that hangs or is unhealthy, matching [ErrNotStored]).
//   - [DualWrite]: write both at once; [DualBoth] (default) succeeds when
//     both stored the record — no loss window for one lost replica;
//     [DualPrimary] when the primary did — losing the primary loses what
//     the secondary missed; [DualEither] when either did — losing a replica
//     loses the writes only it stored. DualEither reads ask both and take
//     the newer record; the others read the primary and fall back to the
//     secondary when it fails or has no record of the key (so a primary
//     restarted empty loses nothing under DualBoth; a key never written
//     costs those reads a second call).
//
// A tier write's version read asks replicas[0] and [1] and enough others
// for N-W+1 answers, so its version is above every version on the pair (a
// master restarted empty does not make a write go below the slave's copy)
// and above every acknowledged QuorumTier write. Under MasterSlave,
// DualPrimary and DualEither a replica of the pair that is demoted, or
// hangs (suspect or finishing nothing, with 4 or more calls in flight),
// is asked only as a substitute for a missing answer; a MasterSlave write
// therefore waits for the slave's version (one slave round trip, in
// parallel with the master's), which keeps a writer to the pace of a
// slave that is merely slow (suspect with fewer calls in flight), so its
// copies do not pile up (TestMasterSlaveLossWindow); a hanging slave costs each
// write that meets it before it hangs by this rule its suspect delay, or
// ReplicaTimeout when nothing stands in (N = 2, or the hedge bucket is
// empty): one write per writer, measured. (A hanging slave used to be
// asked until demoted: with N = 3 a stand-in answered after its suspect
// delay, so writes went on and the slave collected 13 version reads from
// 3 writers in the 200 ms before one ran out ReplicaTimeout.) A
// DualBoth write needs both: a replica of the pair demoted for errors is
// still asked (its answer comes at once).
//
// Hanging replicas of the pair, every tier: while a replica is known to
// hang (congested or suspect, see Failing replicas below, or demoted by a
// call that ran out ReplicaTimeout), a write that cannot be acknowledged
// without it — the master under MasterSlave, the primary under
// DualPrimary, either under DualBoth, both under DualEither — fails at
// once, sending nothing, with an [*Error] whose Fast is set, matching
// [ErrNoQuorum] and [ErrNotApplied], whose [Error.Hanging] names the replicas it
// needs that hang ("replica 0 (primary) hangs and the write needs it";
// TestTierHangErrorAgreesWithRule), and probes it in the background
// (every 100 ms doubling to 1 s, as reads do); its first answer within
// ReplicaTimeout ends this. A write that can do without it (DualEither
// with the other replica answering, DualPrimary with a hanging secondary)
// leaves it out — no version read, no record — and succeeds on the other,
// as its contract allows. A replica whose Puts time out while its reads
// (and so its probes) answer gets one write at a time as a trial, the
// first after 100 ms and then at most every 100 ms doubling to 1 s, until
// a Put succeeds; other writes leave it out, or fail at once if they need
// it. A trial is claimed only when every other replica the write needs may
// be sent the record; each failing trial a write waits for costs it
// ReplicaTimeout. Measured with the needed replica hanging, N = 2 and 3, 8
// writers for 10 s (fake time, TestTierHangingReplicaFailsFast, every
// tier): 8 writes (one per writer) waited for it, every later one failed
// at once; the hanging replica held at most 17 calls before the hang was
// known (bounded by 2 per writer + 1) and 1 (a probe) after, 3 with only
// its Puts hanging (trials; bounded by 4 + 1 per writer); writes
// succeeded again within 0.62 s of the hang ending (bounded by
// ReplicaTimeout + 2 s). With only its Puts hanging, the trials waited
// too: at most 12 slow writes for 7 writers over a 3 s hang (bounded by
// one per writer + 2 + 5 + one a second). Under DualEither, and
// DualPrimary with the secondary hanging, no write failed and at most one
// per writer waited (its version read, before the replica was known to
// hang). A replica the writes can do without does not slow them, so
// what it holds depends on how soon its hang is known, not on writers
// waiting for it: hanging whole, it holds per concurrent write at most
// its version read (which waits for it until it is suspect) and the
// record of the write before, plus a probe, and a MasterSlave slave also
// gets copies (and, until demoted, version reads) while it holds fewer
// than 4 calls (see Failing replicas);
// with only its Puts hanging, its reads answer and its Puts pile up until
// the Put-stall rule (Failing replicas) finds them: at most 7, or 3 plus
// those sent within one hedge delay of the 4th if more, plus one per
// concurrent write and a probe. TestTierHangingUnneededReplicaGenerative
// draws N = 2 and 3, 1–8 writers, ReplicaTimeout 50 ms–1 s, replica
// delays 1–5 ms and hangs whole or Puts only, and checks these bounds;
// over 150 draws a tier, hanging whole, the 2 per writer + 1 was reached
// (DualPrimary, DualEither) and a MasterSlave slave held at most 0.8 of
// its bound (the larger of that and 4 + 1 per writer); Puts only, at most
// 16 calls (8 writers), and 8 of a bound of 9 with one writer.
// Under random fault schedules on the pair (TestTierFaultSchedule)
// every acknowledged write is on the master, the primary, either or both
// as the tier says, every ErrNotApplied write is on neither, and writes
// succeed again within ReplicaTimeout + 2 s of the faults ending. Calls a
// hanging replica swallowed keep their context for up to 3 ×
// ReplicaTimeout and end long after the hang did; their timeouts say
// nothing once the replica has answered well since they were sent (for a
// Put's, once a Put has), so they do not mark it hanging again, and Puts
// of theirs still in flight do not make a quiet spell look like a stall
// (a replica whose Puts alone stall is marked as hanging for writes, with
// trials, never suspect). So once writes succeed again after a hang,
// they keep succeeding: TestTierHangRecoveryGenerative draws hangs of
// 0.3–7 s of a random replica of a random tier's pair, whole or Puts
// only, swallowing what they receive, 1–4 writers and ReplicaTimeout 50
// ms–5 s, and over 1,000 runs no write failed after the first success
// following the hang, which came at most ReplicaTimeout + 0.85 s after it
// ended. (Writes used to fail fast again in bursts of 15–31, 3.7–9.6 s
// after a hang ended, with ReplicaTimeout 2–5 s; in those five cases,
// TestTierStaleTimeoutDoesNotDemote, none does now, and the first success
// comes 1.95 s (ReplicaTimeout 2 s) and 4.6 s (5 s) after the end.)
// A replica that refuses a tier record because it holds a
// newer version does not acknowledge it (the write fails, or AsyncWrite
// reports ErrSuperseded). Mixing tiers on a key: every write is ordered
// after every QuorumTier write acknowledged before it started, and tier
// writes after earlier tier writes whose replicas of the pair are
// reachable; a QuorumTier write may be ordered below an earlier tier write
// that is not on W replicas (its version read of N-W+1 replicas can miss
// the pair), and a tier read (which asks the pair only) may miss a
// QuorumTier write. So a mixed history is not linearizable
// (TestMixedTiersNeverGoBackwards). Tiers do no read repair, write-back,
// hedging or zone checks (New refuses MinWriteZones with a tier as the
// default), and ignore the Consistency level.
//
// Durability: it assumes that a lost replica is gone, not back with its
// data gone. A replica that restarts empty (Redis without AOF/RDB, a memory
// store) is worse than a lost one until it has caught up (read repair,
// write-back and later writes refill it; nothing else does): it answers
// "no record", so a read quorum can consist of replicas that miss an
// acknowledged write. With k replicas restarted empty, every acknowledged
// QuorumTier write stays readable (and later writes stay above it) only
// while k < W+R-N — with the majority default (W+R = N+1) not even one:
// an acknowledged write can then read as ErrNotFound or an older value,
// and a later write can be ordered below it
// (TestEmptyRestartTolerance). Restart a replica empty only when W+R-N
// exceeds the number of empty ones, or give it persistence.
//
// Zones: a replica implementing [Zoned] has a zone (IDC). With
// Config.MinWriteZones = 2 a write needs acknowledgements from replicas in
// two zones, so losing a whole zone loses no acknowledged write.
// Config.LocalZone makes reads ask local replicas first. A Linearizable
// write-back needs W copies but not the zone rule: linearizability needs
// every read quorum to meet the write-back's quorum, which W copies give
// wherever they are, and the zone rule is a durability requirement on new
// writes, which acknowledged records already meet. So with one zone lost,
// Linearizable reads still succeed while R replicas answer and W can be
// reached (new writes fail). The price: a read may return a record whose
// write was never acknowledged (in flight, or failed as ErrIndeterminate)
// after writing it back within one zone only; losing that zone as well
// (beyond what W tolerates) can then lose a record a reader has seen. Healthy: a replica implementing [HealthReporter] that reports
// unhealthy is skipped; when too few are healthy an operation fails at once,
// before contacting any replica, with an error matching [ErrNoQuorum] and
// [ErrNotApplied]; for a MasterSlave or DualWrite write, its [Error.Unhealthy]
// names the replicas of the pair it needs that report unhealthy ("replica
// 0 (primary) reports unhealthy and the write needs it";
// TestTierUnhealthyErrorAgreesWithRule).
//
// Write outcomes: nil, or an error matching exactly one of [ErrNotApplied]
// and [ErrIndeterminate] — also for a Put on a nil or closed Client or with
// an invalid Call, which match ErrNotApplied and their cause
// (TestWriteErrorsClassified, TestWriteRefusedBeforeAnyCall). A write that
// reached the replicas fails with an error matching [ErrNoQuorum] and exactly one of
// [ErrNotApplied] (nothing stored: safe to retry) and [ErrIndeterminate]
// (some replica stored or may have stored it; a later read may return it).
// Per-replica failures are joined with errors.Join inside the [*Error], each
// as a [*ReplicaError]. A replica may wrap [ErrNotStored] in a Put error to
// say it certainly stored nothing.
//
// Availability: Quorum and Weak reads succeed when at least R replicas
// answer; a Linearizable read also needs W live replicas (in any zones) when
// it must write back (it skips the write-back when W of its R answers
// agree, which needs R >= W).
// Writes succeed when at least max(W, min(R, N-W+1)) replicas answer (the
// version read, then W acknowledgements). With the majority default all of
// these are "a majority is alive".
//
// Hedged reads: a read first asks the R preferred replicas (replicas
// demoted for failing last, suspect replicas before them, then the local
// zone first among the rest, then lowest recent latency; so a hung local
// replica loses its preference as soon as it is suspect). When one of them has been outstanding
// longer than Hedge.Factor × its own Hedge.Quantile latency (by default 3 ×
// its median, from a decaying per-replica histogram; Hedge.InitialDelay
// until 32 samples; never below Hedge.MinDelay), one more replica is asked.
// Hedges, and the replacements of suspect calls below, are paid from a
// token bucket credited Hedge.Budget × R per read or write, so together
// they never exceed 10 % of the replica requests unhedged operations make,
// plus Hedge.Burst (probes and the replacements of failed calls apart;
// TestExtraRequestsWithinBudget). Neither goes to a demoted or suspect
// replica. The first R answers win and a replica never counts twice. A
// failed or timed-out replica is replaced at once (not a hedge).
//
// Failing replicas: a replica whose call fails on its own (an error while
// the operation still runs) or runs out ReplicaTimeout is demoted at once,
// unless the replica answered a call well after that one was sent (a call
// a hang swallowed, ending after the hang); the failed call's time counts
// as a latency sample. A call outstanding
// longer than 4 × its replica's hedge delay (at least 5 ms, at most
// ReplicaTimeout) makes the replica suspect, and the read asks the next
// candidate, the hedge bucket allowing, unless a hedge already went or
// Hedge.Disabled is set (it turns off every extra request; such a read,
// like one finding the bucket empty, waits for ReplicaTimeout). A read that
// leaves behind a call to a replica that has answered nothing for its
// suspect delay makes it suspect as well, so a paused replica is met about
// 5 times per reader, not until the hedge budget runs dry
// (TestNoExtraRequestsToAFailedReplica). Demoted
// and suspect replicas are probed by a background Get at most every 100 ms,
// doubling to every 1 s, sent by reads (and by tier writes that fail
// for them or leave them out), and promoted by their first call
// that succeeds within ReplicaTimeout (their latency history is then
// forgotten). Writes still send demoted and suspect replicas every record
// (tier writes: see Hanging replicas of the pair above), except a replica that hangs: one with 4 or more calls in flight that is
// demoted or suspect, or has finished none of them (or none of its Puts,
// for a replica whose writes hang while its reads answer) for its suspect
// delay, or has 8 or more Puts in flight and finished none for its hedge
// delay, or 4 or more Puts in flight while its Puts are known to hang
// (writes detect this themselves, and make it suspect, or, when only its
// Puts stall, mark its Puts as hanging: see Hanging replicas of the pair
// above). A write whose rule
// the replicas neither demoted nor suspect can meet without such a replica
// holds it in reserve, and sends it the record only if the others fall
// short (TestCongestedReplicasStillAcknowledge). A MasterSlave write sends
// no background copy to a slave that hangs: Hooks.AsyncWrite gets an error
// matching ErrNotStored for it instead; a suspect or demoted slave still
// gets copies (and, until demoted, version reads) while it holds fewer
// than 4 calls, so once the hang is known it holds at most 4 calls plus
// one per concurrent write (calls of writes that found it below 4 at
// once, and a probe), and before, its version
// read and copy per concurrent write, or, with only its Puts hanging, the
// Puts the Put-stall rule lets through (see Hanging replicas of the pair
// above; TestMasterSlaveHangingSlaveDoesNotFillMaxInFlight,
// TestTierHangingUnneededReplicaGenerative). A tier write sends nothing
// to a replica of its pair that hangs (see Hanging replicas of the pair
// above): a replica the write needs holds at most 2 calls per concurrent
// write (version read and record) plus a probe before the hang is known
// (17 with 8 writers), and then its probe and a trial's call (measured: 1
// to 3); one it can do without, as said there. Otherwise a hanging
// replica holds, while the hang is not yet known, about 8 calls plus what each concurrent
// operation sends it in one hedge delay (measured: at most 8 + 2 per
// operation; 16 with 8 writers at ~3 writes/ms), and then about 4 plus one
// per concurrent operation, instead of filling MaxInFlight
// (TestHangingReplicaDoesNotHoldWrites, which measures both, with reads
// hanging too or not); what it missed reaches it through repair, write-back
// and later writes. With one of
// three replicas refusing, failing after 100 ms or hanging, reads are back
// to their healthy p50 within 1 s of the failure and the replica is read
// again once it answers (TestDeadReplicaRecovery). A replica implementing
// HealthReporter that reports unhealthy is never called at all.
//
// Deadlines: every operation returns by its caller's deadline, whatever the
// replicas do (TestCallerDeadlineBound); the epsilon is the time to wake
// the operation's goroutine and run the Hooks it calls, typically well
// under a millisecond. Without a caller deadline, a phase ends at most
// ReplicaTimeout after its last call was sent.
//
// Concurrency and lifetime: each replica call runs on a worker goroutine the
// Client owns; a replica has at most Config.MaxInFlight of them (further
// calls fail with [ErrReplicaBusy]). The exception is a replica that
// implements [NonBlocking] (quorum/memreplica does) and whose last
// 128 calls each took less than Config.InlineBelow (5 µs): it is called on the operation's own goroutine, after the
// phase's other calls were handed to workers, because the hand-off costs
// more than the call. Such a call cannot be timed out or hedged, only
// cancelled through its context, and does not count against MaxInFlight; one slow call sends the replica back to
// the workers (and the phase's remaining calls with it) until it has been
// fast 128 times in a row again, so a tail-heavy replica stays hedgeable.
// An in-process replica that can block for long (a lock held across I/O)
// should run with InlineBelow < 0. Workers are reused; every 10 s a reaper
// goroutine retires idle ones beyond the replica's recent peak (at least 4
// stay). After a write acknowledged at W, the
// remaining replica writes, asynchronous repairs and slave writes continue;
// [Client.Close] waits for them and for the workers. Every replica call is
// cancelled at the latest 3 × ReplicaTimeout after its operation began;
// reads cancel their stragglers when they return (and when the caller's
// context ends), writes when their last call returned — a write's calls
// carry the caller's values but not its cancellation, so stragglers land.
// Each operation makes a fresh standard-library context for its replica
// calls, so a replica may derive contexts from it and keep them. A replica
// that ignores its context can hold a worker, and Close, for as long as it
// blocks.
//
// Hooks ([Hooks]) report per-replica latency, time to quorum, hedges fired
// and won, repairs, stale answers and slave writes.
//
// # Performance
//
// Operation state is pooled and replica calls run inline or on reused
// workers, so steady-state calls start no goroutines. The replica calls'
// context is made per operation at its first call (3 allocations: a
// context.WithCancelCause and a wrapper that reports the deadline), plus
// context.WithoutCancel (1) for a write under a cancellable caller context.
// Over quorum/memreplica (N=3, W=R=2, medians of five runs on a shared,
// loaded 2-core machine) a Get costs about 1.6 µs and 5 allocations (the
// context and the two replicas' copies of the value); a Put, which takes
// two round trips (version read, then write), about 2.5 µs and 7
// allocations (the context, the three replicas' copies and the client's
// own, which lets stragglers land after Put returns); a fast failure (too
// few healthy replicas) about 250 ns and 1 allocation. In-memory replicas
// are called inline; with InlineBelow < 0, where every call is handed to a
// worker, a Get costs about 2.7 µs and a Put about 6 µs. TestAllocs
// locks the counts. See benchmarks/quorum and BENCHMARKS.md for latency
// under slow and tail-heavy replicas.
//
// # What it does not do
//
//   - No compare-and-set or transactions: that needs consensus (Paxos,
//     PaxosStore, etcd), which a quorum client cannot give.
//   - No sloppy quorums, hinted handoff or anti-entropy: a replica that
//     missed writes catches up only through read repair, write-back and
//     later writes.
//   - No tombstone collection: deleted keys keep a small record forever.
//   - No membership changes: the replica set is fixed for a Client's life.
//   - The client id is not persisted; a new Client draws a new one.
package quorum
