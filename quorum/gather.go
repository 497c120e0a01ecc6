package quorum

import (
	"context"
	"errors"
	"math/bits"
	"runtime"
	"time"
)

// This file is the wait loop every phase of every tier runs: a read phase
// collects answers from the first replicas of o.order (replacing failed
// ones, hedging slow ones), a write phase acknowledgements from every
// replica of o.order until an ackRule is met or cannot be. Both send fast
// replicas' calls inline after handing the others to workers, time calls
// out after ReplicaTimeout, and take an answer that arrived as the timer
// fired.

// phase is the state of one gather loop.
type phase struct {
	kind  jobKind
	flags uint8
	write bool // acknowledgements from every candidate (else answers from need of them)

	// Reads.
	need, atLeast int  // answers wanted, and the fewest that are not an error
	hedge         bool // hedge slow calls (the budget allowing)

	// Writes.
	rule    ackRule
	pre     uint64 // acknowledgements that count without a call (a write-back's agreeing replicas)
	reserve uint64 // congested replicas not sent the record unless the others fall short
	applied bool   // some replica stored, or may have stored, the record

	ok      uint64 // replicas that answered or acknowledged in this phase
	pending uint64 // replicas with a call in flight (or marked to be called inline)
}

// gather asks the candidates in o.order, preferred first, until need of them
// answered (a replica never counts twice). A failed or timed-out replica is
// replaced by the next candidate; with hedge, a replica slower than its
// latency quantile gets one hedge to the next candidate, if the budget
// allows. It returns the number of answers, with an error if fewer than
// atLeast answered. Answers are in o.resp where o.st is stOK.
func (o *op) gather(parent context.Context, kind jobKind, need, atLeast int, hedge bool) (int, error) {
	p := phase{kind: kind, need: need, atLeast: atLeast, hedge: hedge && !o.c.s.hedge.Disabled}
	err := o.collect(parent, &p)
	return bits.OnesCount64(p.ok), err
}

// gatherAcks sends o.rec to every replica in o.order and waits until the
// acknowledgements (with those already in pre) satisfy rule, or cannot.
// applied reports whether any replica stored, or may have stored, the record.
func (o *op) gatherAcks(parent context.Context, rule ackRule, pre uint64, flags uint8) (acked uint64, applied bool, err error) {
	p := phase{kind: kindPut, flags: flags, write: true, rule: rule, pre: pre}
	err = o.collect(parent, &p)
	return p.pre | p.ok, p.applied, err
}

// ackRule is what a write phase needs: at least need acknowledgements,
// including every replica in required, from at least zones distinct zones.
type ackRule struct {
	need     int
	required uint64
	zones    int
	// stored: a replica that answers "not stored" (it holds a newer
	// version) does not acknowledge (tier writes; see ErrSuperseded).
	stored bool
}

func (o *op) zonesOf(set uint64) int {
	var z uint64
	for set != 0 {
		i := bits.TrailingZeros64(set)
		set &^= 1 << i
		z |= 1 << o.c.replicas[i].zoneID
	}
	return bits.OnesCount64(z)
}

func (o *op) satisfies(set uint64, rule ackRule) bool {
	return bits.OnesCount64(set) >= rule.need && set&rule.required == rule.required &&
		(rule.zones <= 1 || o.zonesOf(set) >= rule.zones)
}

// newPhase resets the per-replica state; answers of earlier phases that
// arrive later are ignored.
func (o *op) newPhase() {
	o.phase++
	clear(o.st)
	clear(o.hedged)
	clear(o.hedgedFor)
	clear(o.suspected)
	clear(o.covered)
	o.sent = 0
}

// collect runs one phase: it sends the first calls, then takes answers —
// from inline calls first, then from the workers — until the phase is
// decided, timing calls out and (reads) replacing and hedging them on the
// way.
func (o *op) collect(parent context.Context, p *phase) error {
	o.newPhase()
	now := o.start // the first phase's calls go out as the operation starts
	if o.phase > 1 {
		now = time.Now()
	}
	inl := o.sendFirst(p, now)
	for {
		if inl == 0 { // every inline call made: is the phase decided?
			if done, err := o.decided(p); done {
				return err
			}
		}
		var r result
		got := false
		if inl != 0 {
			i := bits.TrailingZeros64(inl)
			inl &^= 1 << i
			var slow bool
			r, slow = o.callInline(i, p.kind, p.flags)
			got = true
			if slow {
				o.handOff(p, &inl)
			}
		} else {
			r, got = o.poll()
		}
		if !got {
			o.timer.Reset(time.Until(o.nextWake(p)))
			select {
			case r = <-o.results:
				o.timer.Stop()
			case <-o.timer.C:
				if r, got = o.late(); got {
					break
				}
				o.tick(p, time.Now())
				continue
			case <-parent.Done():
				o.timer.Stop()
				o.errs = append(o.errs, parent.Err())
				if p.pending != 0 {
					p.applied = true
				}
				return o.joinErrs()
			}
		}
		o.take(p, r)
	}
}

// sendFirst sends a phase's first calls — a read's to the first need
// candidates, a write's to all of them — and returns the set marked to be
// called inline, after the others were handed to workers (a call that
// takes less than InlineBelow costs less than the hand-off; a write makes
// every one of them, not just enough for its rule).
func (o *op) sendFirst(p *phase, now time.Time) (inl uint64) {
	c := o.c
	if p.write {
		p.reserve = o.spare(p, now)
	}
	for o.sent < len(o.order) && (p.write || bits.OnesCount64(p.pending) < p.need) {
		i := o.order[o.sent]
		if p.reserve&(1<<i) != 0 {
			o.sent++ // not sent: o.st stays stIdle
			continue
		}
		if c.s.inlineBelow > 0 && c.replicas[i].inlinable() {
			o.sent++
			o.st[i] = stSent
			o.sentAt[i] = now
			p.pending |= 1 << i
			inl |= 1 << i
			continue
		}
		o.launch(p, now, false)
	}
	return inl
}

// spare returns the congested replicas (see Client.congested) a write
// phase holds in reserve instead of sending them its record: each one the
// phase's rule can be satisfied without, by the replicas that are neither
// demoted nor suspect. Should the others fall short after all, the phase
// sends the reserve its record then (see decided). Records a replica
// misses reach it later through read repair, write-back and later writes,
// as for any replica that missed a write.
func (o *op) spare(p *phase, now time.Time) (skip uint64) {
	var up uint64
	for _, i := range o.order {
		if !o.c.replicas[i].cond.isDown() {
			up |= 1 << i
		}
	}
	for _, i := range o.order {
		if o.c.congested(i, now) && o.satisfies(p.pre|up&^(skip|1<<i), p.rule) {
			skip |= 1 << i
		}
	}
	return skip
}

// sendReserve sends the record to the replicas spare held back.
func (o *op) sendReserve(p *phase) {
	now := time.Now()
	for set := p.reserve; set != 0; {
		i := bits.TrailingZeros64(set)
		set &^= 1 << i
		if err := o.dispatch(i, p.kind, p.flags, now); err != nil {
			o.st[i] = stFailed
			o.errs = append(o.errs, &ReplicaError{Replica: i, Op: opOf(p.kind), Err: err})
			continue
		}
		o.st[i] = stSent
		o.sentAt[i] = now
		p.pending |= 1 << i
	}
	p.reserve = 0
}

// decided reports whether the phase is over, and its error then.
func (o *op) decided(p *phase) (bool, error) {
	if p.write {
		switch acked := p.pre | p.ok; {
		case o.satisfies(acked, p.rule):
			return true, nil
		case p.pending == 0 || !o.satisfies(acked|p.pending, p.rule):
			if p.reserve != 0 && o.satisfies(acked|p.pending|p.reserve, p.rule) {
				o.sendReserve(p)
				return o.decided(p)
			}
			if p.pending != 0 {
				p.applied = true // a call in flight may still land
			}
			return true, o.joinErrsOrShort()
		}
		return false, nil
	}
	ok := bits.OnesCount64(p.ok)
	if ok < p.need && ok+bits.OnesCount64(p.pending) < p.need {
		now := time.Now()
		for ok+bits.OnesCount64(p.pending) < p.need && o.launch(p, now, false) {
		}
	}
	if ok >= p.need || p.pending == 0 {
		if ok < p.atLeast {
			return true, o.joinErrs()
		}
		return true, nil
	}
	return false, nil
}

// take records one answer of the current phase; answers of earlier phases
// and of calls already timed out are dropped.
func (o *op) take(p *phase, r result) {
	i := r.replica
	if r.phase != o.phase || o.st[i] != stSent {
		return
	}
	p.pending &^= 1 << i
	if r.err != nil {
		o.st[i] = stFailed
		o.errs = append(o.errs, &ReplicaError{Replica: i, Op: opOf(p.kind), Err: r.err})
		if p.write && !errors.Is(r.err, ErrNotStored) {
			p.applied = true
		}
		return
	}
	if p.write && p.rule.stored && !r.stored {
		o.st[i] = stFailed
		o.errs = append(o.errs, &ReplicaError{Replica: i, Op: OpPut, Err: ErrSuperseded})
		return
	}
	o.st[i] = stOK
	p.ok |= 1 << i
	if p.write {
		if r.stored {
			p.applied = true
		}
	} else {
		o.resp[i] = r.rec
	}
}

// launch sends the phase's call to the next untried candidate; false when
// none is left.
func (o *op) launch(p *phase, now time.Time, hedge bool) bool {
	for o.sent < len(o.order) {
		i := o.order[o.sent]
		o.sent++
		if err := o.dispatch(i, p.kind, p.flags, now); err != nil {
			o.st[i] = stFailed
			o.errs = append(o.errs, &ReplicaError{Replica: i, Op: opOf(p.kind), Err: err})
			continue
		}
		o.st[i] = stSent
		o.sentAt[i] = now
		o.hedged[i] = hedge
		p.pending |= 1 << i
		if hedge {
			if f := o.c.s.hooks.HedgeFired; f != nil {
				f(i)
			}
		}
		return true
	}
	return false
}

// callInline makes the call o.st marks as sent to replica i on the
// operation's goroutine. slow reports that it took InlineBelow or longer,
// after which the phase hands its remaining inline calls to workers.
func (o *op) callInline(i int, kind jobKind, flags uint8) (r result, slow bool) {
	c := o.c
	o.needCtx()
	r, took := c.exec(&c.replicas[i], i, o, kind, flags, o.phase, time.Now(), true)
	return r, took >= c.s.inlineBelow
}

// handOff sends the calls still marked for inline to the workers; a call
// that cannot be sent fails.
func (o *op) handOff(p *phase, inl *uint64) {
	now := time.Now()
	for set := *inl; set != 0; {
		i := bits.TrailingZeros64(set)
		set &^= 1 << i
		o.sentAt[i] = now
		if err := o.dispatch(i, p.kind, p.flags, now); err != nil {
			o.st[i] = stFailed
			o.errs = append(o.errs, &ReplicaError{Replica: i, Op: opOf(p.kind), Err: err})
			p.pending &^= 1 << i
		}
	}
	*inl = 0
}

func (c *Client) hedgeDelay(i int) time.Duration {
	h := &c.s.hedge
	d := time.Duration(float64(c.replicas[i].lat.estimate()) * c.s.hedgeFactor)
	if d == 0 {
		d = h.InitialDelay
	}
	return min(max(d, h.MinDelay), c.s.timeout)
}

// nextWake is the earliest timeout, or for a read hedge or suspect point,
// of the calls in flight.
func (o *op) nextWake(p *phase) time.Time {
	c := o.c
	var wake time.Time
	for _, i := range o.order[:o.sent] {
		if o.st[i] != stSent {
			continue
		}
		t := o.sentAt[i].Add(c.s.timeout)
		if !p.write {
			if p.hedge && !o.hedgedFor[i] && o.sent < len(o.order) {
				if h := o.sentAt[i].Add(c.hedgeDelay(i)); h.Before(t) {
					t = h
				}
			}
			if !o.suspected[i] {
				if s := o.sentAt[i].Add(c.suspectDelay(i)); s.Before(t) {
					t = s
				}
			}
		}
		if wake.IsZero() || t.Before(wake) {
			wake = t
		}
	}
	return wake
}

// tick times out overdue calls and, in a read, hedges slow ones and
// replaces the calls of replicas it finds suspect.
func (o *op) tick(p *phase, now time.Time) {
	c := o.c
	for _, i := range o.order[:o.sent] {
		if o.st[i] != stSent {
			continue
		}
		if !now.Before(o.sentAt[i].Add(c.s.timeout)) {
			o.st[i] = stFailed
			c.replicas[i].demote(o.sentAt[i], now, true, p.kind == kindPut)
			p.pending &^= 1 << i
			if p.write {
				p.applied = true // it may still land
			}
			o.errs = append(o.errs, &ReplicaError{Replica: i, Op: opOf(p.kind), Err: ErrReplicaTimeout})
			continue
		}
		if p.write {
			continue
		}
		if p.hedge && !o.hedgedFor[i] && o.sent < len(o.order) && !now.Before(o.sentAt[i].Add(c.hedgeDelay(i))) {
			o.hedgedFor[i] = true
			if o.nextUp() && c.hedges.take() && o.launch(p, now, true) {
				o.covered[i] = true
			}
		}
		if !o.suspected[i] && !now.Before(o.sentAt[i].Add(c.suspectDelay(i))) {
			// Far later than usual: other reads avoid the replica from now
			// on, and this one asks the next candidate unless a hedge went
			// or every extra request is off (Hedge.Disabled). The extra
			// request is paid from the hedge bucket like a hedge, so
			// hedges and these together stay within the budget.
			o.suspected[i] = true
			c.replicas[i].cond.suspect(now)
			if !o.covered[i] && !c.s.hedge.Disabled && o.nextUp() && c.hedges.take() && o.launch(p, now, false) {
				o.covered[i] = true
			}
		}
	}
}

// nextUp reports whether the next candidate is neither demoted nor
// suspect: extra requests (hedges, suspect replacements) never go to a
// replica already known to fail or hang — probes cover those.
func (o *op) nextUp() bool {
	return o.sent < len(o.order) && !o.c.replicas[o.order[o.sent]].cond.isDown()
}

func (o *op) joinErrs() error {
	if len(o.errs) == 0 {
		return nil
	}
	return errors.Join(o.errs...)
}

var errShort = errors.New("quorum: too few acknowledgements or zones")

func (o *op) joinErrsOrShort() error {
	if len(o.errs) == 0 {
		return errShort
	}
	return o.joinErrs()
}

// late takes a result that is already waiting when the timer fired: when
// the process was stalled (a throttled cgroup, a long GC pause) past a
// call's timeout, the answer that arrived meanwhile must not be discarded as
// a timeout just because select picked the timer.
func (o *op) late() (result, bool) {
	select {
	case r := <-o.results:
		return r, true
	default:
		return result{}, false
	}
}

// poll takes a result without blocking. If none is there yet it yields
// once first: the worker just handed a job usually runs on this P right
// away, and its answer is then waiting, which spares parking and waking the
// coordinator (on two loaded cores, about half of a Get's time).
func (o *op) poll() (result, bool) {
	for yielded := false; ; yielded = true {
		select {
		case r := <-o.results:
			return r, true
		default:
		}
		if yielded {
			return result{}, false
		}
		runtime.Gosched()
	}
}
