package quorum

import (
	"bytes"
	"context"
	"math/bits"
	"time"
)

func (c *Client) read(ctx context.Context, key string, call Call) ([]byte, Version, error) {
	if c == nil || c.replicas == nil {
		return nil, Version{}, errNilClient
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if c.closed.Load() {
		return nil, Version{}, ErrClosed
	}
	r, err := c.resolve(call)
	if err != nil {
		return nil, Version{}, err
	}
	o := c.acquire(ctx, false, key)
	defer o.finish()
	var rec Record
	switch r.tier {
	case MasterSlave:
		rec, err = o.readFallback(ctx)
	case DualWrite:
		if c.s.dual == DualEither {
			rec, err = o.readBoth(ctx)
		} else {
			rec, err = o.readFallback(ctx)
		}
	default:
		rec, err = o.readQuorum(ctx, r)
	}
	if err != nil {
		return nil, Version{}, err
	}
	if f := c.s.hooks.QuorumReached; f != nil {
		f(OpGet, time.Since(o.start))
	}
	if rec.Deleted || rec.Version.IsZero() {
		return nil, rec.Version, ErrNotFound
	}
	return rec.Value, rec.Version, nil
}

// readQuorum is the QuorumTier read: R answers, newest wins, then write-back
// (Linearizable) or read repair (Quorum, Weak).
func (o *op) readQuorum(ctx context.Context, r resolved) (Record, error) {
	c := o.c
	s := &c.s
	c.hedges.deposit()
	o.candidates(true)
	if o.failed != 0 {
		c.probeFailed(ctx, o.key, o.failed)
	}
	if len(o.order) < s.r {
		return Record{}, &Error{Op: OpGet, Key: o.key, Need: s.r, Healthy: len(o.order), Fast: true}
	}
	got, err := o.gather(ctx, kindGet, s.r, s.r, true)
	o.noteStragglers()
	if err != nil {
		return Record{}, &Error{Op: OpGet, Key: o.key, Need: s.r, Got: got, Healthy: len(o.order), Err: err}
	}
	// Newest wins; note who agrees and who is stale.
	newest := -1
	for _, i := range o.order[:o.sent] {
		if o.st[i] == stOK && (newest < 0 || o.resp[i].Version.Newer(o.resp[newest].Version)) {
			newest = i
		}
	}
	rec := o.resp[newest]
	var agree, stale uint64
	for _, i := range o.order[:o.sent] {
		if o.st[i] != stOK {
			continue
		}
		if o.hedged[i] {
			if f := s.hooks.HedgeWon; f != nil {
				f(i)
			}
		}
		if v := o.resp[i].Version; v == rec.Version {
			agree |= 1 << i
		} else {
			stale |= 1 << i
			if f := s.hooks.StaleRead; f != nil {
				f(i, v, rec.Version)
			}
		}
	}
	if rec.Version.IsZero() {
		return rec, nil // nothing was ever written: nothing to write back
	}
	// A write-back needs a write quorum (W copies), not MinWriteZones
	// zones: linearizability rests on every read quorum meeting it, which W
	// copies anywhere give, while the zone rule is a durability requirement
	// on new writes — an acknowledged write is already in two zones. So a
	// lost zone does not stop reads while R replicas answer and W are
	// reachable.
	rule := ackRule{need: s.w}
	if r.consistency == Linearizable {
		if o.satisfies(agree, rule) {
			return rec, nil
		}
		// ABD write-back: the newest record reaches a write quorum before
		// the read returns, so no later read can return anything older.
		// Write-back calls still in flight keep o.rec, so the caller gets a
		// copy.
		o.rec = rec
		rec.Value = bytes.Clone(rec.Value)
		o.order = o.order[:0]
		o.candidatesInto(agree)
		_, _, err := o.gatherAcks(ctx, rule, agree, flagRepair)
		if err != nil {
			return Record{}, &Error{Op: OpGet, Key: o.key, Need: s.w, Got: bits.OnesCount64(agree), Err: err}
		}
		return rec, nil
	}
	if stale == 0 {
		return rec, nil
	}
	switch r.repair {
	case RepairAsync:
		c.repairAsync(ctx, o.key, rec, stale)
	case RepairBlocking:
		o.rec = rec
		rec.Value = bytes.Clone(rec.Value)
		o.order = o.order[:0]
		for set := stale; set != 0; {
			i := bits.TrailingZeros64(set)
			set &^= 1 << i
			if s.repairLimiter.Allow() {
				o.order = append(o.order, i)
			}
		}
		// Failures are reported to Hooks.Repair; the read has its answer.
		_, _, _ = o.gatherAcks(ctx, ackRule{need: len(o.order)}, 0, flagRepair)
	}
	return rec, nil
}

// noteStragglers makes suspect a replica whose call the read leaves behind
// late (past the replica's hedge delay; its answers came from others) when
// the replica had finished no call for its suspect delay before that call
// was sent: a paused or hung replica is then
// avoided after one read instead of being hedged around, read after read,
// until the hedge budget runs dry. A tail-heavy replica keeps answering
// its other calls, so its slow calls do not make it suspect.
func (o *op) noteStragglers() {
	c := o.c
	now := time.Now()
	for _, i := range o.order[:o.sent] {
		if o.st[i] != stSent || now.Sub(o.sentAt[i]) < c.hedgeDelay(i) {
			continue // not late for its replica
		}
		rs := &c.replicas[i]
		if o.sentAt[i].UnixNano()-rs.lastOK.Load() >= int64(c.suspectDelay(i)) {
			rs.cond.suspect(now)
		}
	}
}

// candidatesInto sets o.order to the healthy replicas not in skip.
func (o *op) candidatesInto(skip uint64) {
	for i := range o.c.replicas {
		rs := &o.c.replicas[i]
		if skip&(1<<i) != 0 || (rs.health != nil && !rs.health.Healthy()) {
			continue
		}
		o.order = append(o.order, i)
	}
}

// repairAsync sends rec to the stale replicas in the background, on an op of
// its own that no caller waits for; Close waits for it. Its calls carry the
// values of the read's context (a trace id, say), not its cancellation.
func (c *Client) repairAsync(ctx context.Context, key string, rec Record, stale uint64) {
	var o *op
	for set := stale; set != 0; {
		i := bits.TrailingZeros64(set)
		set &^= 1 << i
		if !c.s.repairLimiter.Allow() {
			continue
		}
		if o == nil {
			o = c.acquire(ctx, true, key)
			o.rec = rec
			o.rec.Value = bytes.Clone(rec.Value)
			o.phase = 1
		}
		if err := o.dispatch(i, kindPut, flagRepair, time.Now()); err != nil {
			if f := c.s.hooks.Repair; f != nil {
				f(i, err)
			}
		}
	}
	if o != nil {
		o.release()
	}
}

// readFallback asks replicas[0] and, if it fails, is unhealthy or has no
// record of the key, replicas[1] (MasterSlave reads; DualBoth and
// DualPrimary reads).
func (o *op) readFallback(ctx context.Context) (Record, error) {
	o.pairCandidates()
	if len(o.order) == 0 {
		return Record{}, &Error{Op: OpGet, Key: o.key, Need: 1, Fast: true}
	}
	got, err := o.gather(ctx, kindGet, 1, 1, false)
	if err != nil {
		return Record{}, &Error{Op: OpGet, Key: o.key, Need: 1, Got: got, Healthy: len(o.order), Err: err}
	}
	first := o.firstOK()
	rec := o.resp[first]
	if !rec.Version.IsZero() || first != 0 || len(o.order) < 2 {
		return rec, nil
	}
	// The primary has no record of the key: it may have restarted empty
	// while the secondary kept every acknowledged write, so the secondary
	// decides (one lost replica loses nothing). Its failure leaves the
	// primary's answer.
	o.order = append(o.order[:0], 1)
	if got, _ := o.gather(ctx, kindGet, 1, 1, false); got == 1 && o.st[1] == stOK {
		return o.resp[1], nil
	}
	return rec, nil
}

// readBoth asks replicas[0] and replicas[1] and returns the newer record
// (DualEither reads); one answer suffices when the other replica fails.
func (o *op) readBoth(ctx context.Context) (Record, error) {
	o.pairCandidates()
	if len(o.order) == 0 {
		return Record{}, &Error{Op: OpGet, Key: o.key, Need: 1, Fast: true}
	}
	got, err := o.gather(ctx, kindGet, len(o.order), 1, false)
	if err != nil {
		return Record{}, &Error{Op: OpGet, Key: o.key, Need: 1, Got: got, Healthy: len(o.order), Err: err}
	}
	best := o.firstOK()
	for _, i := range o.order {
		if o.st[i] == stOK && o.resp[i].Version.Newer(o.resp[best].Version) {
			best = i
		}
	}
	return o.resp[best], nil
}

// pairCandidates sets o.order to the healthy ones of replicas[0] and [1].
func (o *op) pairCandidates() {
	o.order = o.order[:0]
	for i := range 2 {
		if h := o.c.replicas[i].health; h == nil || h.Healthy() {
			o.order = append(o.order, i)
		}
	}
}

func (o *op) firstOK() int {
	for _, i := range o.order {
		if o.st[i] == stOK {
			return i
		}
	}
	return -1
}
