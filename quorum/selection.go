package quorum

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// This file is what the client learns about each replica from its own
// calls, beyond latency: whether it is failing (demoted until it answers
// well again) or suspect (a call outstanding far longer than usual), and the
// low-rate probing that finds a failed replica back.
//
// A replica is demoted at once when a call to it fails on its own (an error
// while the operation was still running) or runs out ReplicaTimeout; the
// failed call's time counts as a latency sample, so a replica that fails
// slowly also looks slow. A demoted replica is ordered after every other
// one (also after LocalZone's), so reads stop asking it; writes still send
// it every record (durability needs every copy it can get) unless it is
// congested (see congested). While it stays
// demoted, one read in every probe interval (probeFirst, doubling up to
// probeMax) also sends it a background Get that nobody waits for. The first
// call that answers well (a successful call within ReplicaTimeout: a probe,
// a write, a substitute) promotes it again, with its latency estimate reset
// so that it is ordered first until it has samples again.
//
// A call outstanding longer than suspectDelay makes its replica suspect:
// ordered after replicas that are not (also after a LocalZone preference),
// and the read sends one replacement call to the next candidate that is
// neither demoted nor suspect, paid from the hedge bucket, unless a hedge
// already went for it or Hedge.Disabled turned extra requests off. A read
// that leaves a call behind (its answers came from others) to a replica
// that has answered nothing for its suspect delay makes it suspect too, so
// a paused replica hedged around by every read is found without waiting
// out a suspect delay. A suspect replica is probed like a demoted one (its
// late call is usually cancelled once the read has its answers, so nothing
// else would ever tell). Any successful call clears suspicion; a timeout
// or an error turns it into a demotion. So a replica that starts hanging
// costs the reads that meet it about its hedge delay each for its suspect
// delay, or ReplicaTimeout when the hedge bucket is empty (also with
// Hedge.Disabled), and later reads nothing.

type condition struct {
	state     atomic.Uint32 // condUp, condSuspect or condFailed
	nextProbe atomic.Int64  // unix ns: earliest next probe while failed
	gap       atomic.Int64  // the current probe interval
	probing   atomic.Bool   // a probe is in flight
	timedOut  atomic.Bool   // demoted by a call that ran out ReplicaTimeout
	// failSent and putFailSent are the latest send times (unix ns) of the
	// calls, and the Puts that ran out ReplicaTimeout, that demoted the
	// replica or marked its Puts hanging: which demotion a good answer
	// racing with it may take back (see replicaState.demote).
	failSent    atomic.Int64
	putFailSent atomic.Int64
	demoting    sync.Mutex // orders demote's take-backs against other demotions

	// A replica whose Puts time out while its reads answer (so probes, which
	// are Gets, promote it) hangs for writes until a Put succeeds: DualBoth
	// writes then let one write at a time through as a trial, at most one
	// per trial interval (probeFirst doubling up to probeMax), and fail the
	// others at once.
	putHang   atomic.Bool
	trialing  atomic.Bool
	nextTrial atomic.Int64
	trialGap  atomic.Int64
}

const (
	condUp uint32 = iota
	condSuspect
	condFailed
)

const (
	// probeFirst is the first probe interval of a demoted replica, doubled
	// after every failed probe up to probeMax: a replica that comes back is
	// used again within about probeMax plus one call.
	probeFirst = 100 * time.Millisecond
	probeMax   = time.Second
	// suspectFactor times a replica's hedge delay (at least suspectFloor,
	// at most ReplicaTimeout) is how long a call may be outstanding before
	// its replica is suspect.
	suspectFactor = 4
	suspectFloor  = 5 * time.Millisecond
)

func (c *condition) failed(now time.Time, timedOut bool) {
	c.timedOut.Store(timedOut)
	if c.state.Swap(condFailed) == condUp {
		c.scheduleProbes(now)
	}
}

func (c *condition) suspect(now time.Time) {
	if c.state.CompareAndSwap(condUp, condSuspect) {
		c.scheduleProbes(now)
	}
}

func (c *condition) scheduleProbes(now time.Time) {
	c.gap.Store(int64(probeFirst))
	c.nextProbe.Store(now.Add(probeFirst).UnixNano())
}

// putTimedOut records that a Put ran out ReplicaTimeout.
func (c *condition) putTimedOut(now time.Time) {
	if c.putHang.CompareAndSwap(false, true) {
		c.trialGap.Store(int64(probeFirst))
		c.nextTrial.Store(now.Add(probeFirst).UnixNano())
	}
}

// storeMax raises v to x.
func storeMax(v *atomic.Int64, x int64) {
	for o := v.Load(); x > o && !v.CompareAndSwap(o, x); o = v.Load() {
	}
}

// demote records that a call to the replica, sent at sent, failed at now
// (timedOut: it ran out ReplicaTimeout; put: it was a Put) — unless the
// replica answered well after the call was sent: a call a hang swallowed
// returns when its context ends, up to 3 × ReplicaTimeout after its
// operation began, long after the replica answers again, and must not mark
// it failing (or its Puts hanging) then. For a Put's timeout, a good Put
// counts; for the demotion, any good call.
//
// A good answer stores its end before it promotes (noteOutcome), without
// a lock, so whichever of the two runs second wins: if the good answer's
// end is visible here first, nothing is recorded; if it shows up only
// after this demotion was recorded, the demotion is taken back — unless a
// call sent later failed meanwhile (failSent, putFailSent), whose verdict
// stands. Demotions hold demoting (they are rare), so a take-back never
// undoes a later call's demotion recorded between its check and its
// undo (TestDemoteInterleavings, TestDemoteRace).
func (rs *replicaState) demote(sent, now time.Time, timedOut, put bool) {
	s := sent.UnixNano()
	if (!put || !timedOut || s < rs.goodPutEnd.Load()) && s < rs.goodEnd.Load() {
		return // nothing to record, without the lock
	}
	rs.record(s, now, timedOut, put)
}

// record is demote past its first look at the good answers' ends, which
// a good answer may have changed since; it looks again under the lock.
func (rs *replicaState) record(s int64, now time.Time, timedOut, put bool) {
	rs.cond.demoting.Lock()
	defer rs.cond.demoting.Unlock()
	if put && timedOut && s >= rs.goodPutEnd.Load() {
		rs.markPutHang(s, now)
	}
	if s >= rs.goodEnd.Load() {
		rs.markFailed(s, now, timedOut)
	}
}

// markPutHang marks the replica's Puts hanging for a Put sent at s that
// timed out, and takes it back if a good Put ended after s meanwhile.
// The caller holds demoting.
func (rs *replicaState) markPutHang(s int64, now time.Time) {
	c := &rs.cond
	storeMax(&c.putFailSent, s)
	c.putTimedOut(now)
	if s < rs.goodPutEnd.Load() && c.putFailSent.Load() == s {
		c.putHang.CompareAndSwap(true, false)
	}
}

// markFailed demotes the replica for a call sent at s, and takes it back
// if a good answer ended after s meanwhile. The caller holds demoting.
func (rs *replicaState) markFailed(s int64, now time.Time, timedOut bool) {
	c := &rs.cond
	storeMax(&c.failSent, s)
	c.failed(now, timedOut)
	if s < rs.goodEnd.Load() && c.failSent.Load() == s {
		c.state.CompareAndSwap(condFailed, condUp)
	}
}

// putsStall records that the replica's Puts stall (see stall), as a Put
// timing out at now would.
func (c *condition) putsStall(now time.Time) {
	if c.putHang.Load() {
		return
	}
	c.demoting.Lock()
	storeMax(&c.putFailSent, now.UnixNano())
	c.putTimedOut(now)
	c.demoting.Unlock()
}

// trialDue reports whether a trial could be claimed now.
func (c *condition) trialDue(now time.Time) bool {
	return now.UnixNano() >= c.nextTrial.Load() && !c.trialing.Load()
}

// claimTrial reports whether a write may send a replica whose Puts hang
// its record now, as a trial; the caller ends it with endTrial.
func (c *condition) claimTrial(now time.Time) bool {
	if now.UnixNano() < c.nextTrial.Load() || !c.trialing.CompareAndSwap(false, true) {
		return false
	}
	gap := min(2*time.Duration(c.trialGap.Load()), probeMax)
	c.trialGap.Store(int64(gap))
	c.nextTrial.Store(now.Add(gap).UnixNano())
	return true
}

func (c *condition) endTrial() { c.trialing.Store(false) }

// up clears suspicion and demotion; it reports whether the replica was
// demoted.
func (c *condition) up() bool {
	switch c.state.Load() {
	case condUp:
		return false
	case condSuspect:
		c.state.CompareAndSwap(condSuspect, condUp)
		return false
	}
	return c.state.CompareAndSwap(condFailed, condUp)
}

func (c *condition) isFailed() bool  { return c.state.Load() == condFailed }
func (c *condition) isDown() bool    { return c.state.Load() != condUp }
func (c *condition) isSuspect() bool { return c.state.Load() == condSuspect }

// claimProbe reports whether the caller should probe the replica now, and
// if so schedules the next probe.
func (c *condition) claimProbe(now time.Time) bool {
	if c.state.Load() == condUp || now.UnixNano() < c.nextProbe.Load() {
		return false
	}
	if !c.probing.CompareAndSwap(false, true) {
		return false
	}
	gap := min(2*time.Duration(c.gap.Load()), probeMax)
	c.gap.Store(int64(gap))
	c.nextProbe.Store(now.Add(gap).UnixNano())
	return true
}

// noteOutcome records a finished call of replica rs (handed over at sent,
// d before end, a Put if put) in its condition and latency estimate.
// cutShort says the operation had ended the call's context.
func (c *Client) noteOutcome(rs *replicaState, err error, sent time.Time, d time.Duration, end time.Time, put, cutShort bool) {
	switch {
	case err == nil && d < c.s.timeout:
		// The end is stored before the promotion: see demote.
		storeMax(&rs.goodEnd, end.UnixNano())
		if put {
			storeMax(&rs.goodPutEnd, end.UnixNano())
			rs.cond.putHang.Store(false)
		}
		if rs.cond.up() {
			rs.lat.reset() // its failures say nothing about it now
		}
	case err == nil:
		// An answer after the coordinator gave up: not "answering well".
	case !cutShort || d >= c.s.timeout:
		rs.demote(sent, end, d >= c.s.timeout, put)
	}
	// A call cut short by the operation's end is a censored sample: its
	// latency is at least d, which still marks a slow replica as slow.
	rs.lat.observe(d, c.s.hedge.Quantile)
}

// probe sends replica i a background Get of key on an op of its own that
// nobody waits for; it ends at ReplicaTimeout. Close waits for it.
func (c *Client) probe(ctx context.Context, key string, i int, now time.Time) {
	o := c.acquire(ctx, true, key)
	o.cx.deadline = o.start.Add(c.s.timeout)
	o.phase = 1
	if err := o.dispatch(i, kindGet, flagProbe, now); err != nil {
		c.replicas[i].cond.probing.Store(false)
	}
	o.release()
}

// probeFailed probes the demoted or suspect replicas in set whose probe is
// due.
func (c *Client) probeFailed(ctx context.Context, key string, set uint64) {
	now := time.Now()
	for i := range c.replicas {
		if set&(1<<i) != 0 && c.replicas[i].cond.claimProbe(now) {
			c.probe(ctx, key, i, now)
		}
	}
}

// suspectDelay is how long a call to replica i may be outstanding before
// the replica is suspect.
func (c *Client) suspectDelay(i int) time.Duration {
	return min(max(suspectFactor*c.hedgeDelay(i), suspectFloor), c.s.timeout)
}

// hangs reports whether replica i is known to hang: congested with
// nothing finishing (which makes it suspect), suspect (a call outstanding
// far longer than usual), or demoted by a call that ran out ReplicaTimeout
// — until a call, usually a probe, answers well again. A replica whose
// Puts alone stall hangs for writes only (condition.putHang, which the
// stall sets): Put trials find out when it answers again.
func (c *Client) hangs(i int, now time.Time) bool {
	cond := &c.replicas[i].cond
	return c.stall(i, now) == stallAll || cond.isSuspect() || cond.isFailed() && cond.timedOut.Load()
}

// congestedAt is how many calls a replica may have in flight before a
// write that can be acknowledged without it holds it in reserve while it is
// demoted, suspect or making no progress (see congested, and op.spare).
const congestedAt = 4

// What stall finds.
const (
	stallNone uint8 = iota
	stallPuts       // its Puts stall while its other calls finish
	stallAll
)

// congested reports whether replica i has congestedAt or more calls in
// flight and is demoted or suspect, or has finished none of its calls (or
// congestedAt or more Puts in flight and none of its Puts) for longer than
// its suspect delay, or congestedAt or more Puts in flight while its Puts
// hang (condition.putHang), or has 2 × congestedAt Puts in flight and finished
// none for its hedge delay — then it hangs (see stall). Writes learn of a
// hang this way without a read having to meet it, and stop adding calls a
// hanging replica would hold until their context ends (up to 3 ×
// ReplicaTimeout).
func (c *Client) congested(i int, now time.Time) bool {
	return c.stall(i, now) != stallNone
}

// stall is congested, telling a replica whose Puts alone stall (stallPuts:
// its Puts hang, condition.putHang, while its reads answer) from one that
// hangs (stallAll, which makes it suspect, so reads avoid it and probe
// it). Puts alone stall also when the Puts in flight are ones a hang that
// has ended swallowed, which return only when their context ends (up to 3
// × ReplicaTimeout after their write began): suspecting the replica then
// would fail every write that needs it, with no call left to show that it
// answers again, until they return; a Put trial finds out instead.
func (c *Client) stall(i int, now time.Time) uint8 {
	rs := &c.replicas[i]
	if rs.calls.Load() < congestedAt {
		return stallNone
	}
	if rs.cond.isDown() {
		return stallAll
	}
	t := now.UnixNano()
	d := int64(c.suspectDelay(i))
	if t-rs.progress.Load() >= d {
		rs.cond.suspect(now)
		return stallAll
	}
	puts := rs.putCalls.Load()
	if puts >= congestedAt && (rs.cond.putHang.Load() || t-rs.putProgress.Load() >= d) ||
		// Many writes piling up: a hedge delay without progress is enough.
		puts >= 2*congestedAt && t-rs.putProgress.Load() >= int64(c.hedgeDelay(i)) {
		rs.cond.putsStall(now)
		return stallPuts
	}
	return stallNone
}
