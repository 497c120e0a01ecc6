package quorum

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

var (
	errUnhealthy error = &notStored{"quorum: replica unhealthy"}
	errHanging   error = &notStored{"quorum: replica hangs, copy not sent"}
	errHangs           = errors.New("quorum: replica hangs (probed in the background), record not sent")
	errNilClient       = errors.New("quorum: client not constructed with New (nil or zero Client)")
)

func (c *Client) write(ctx context.Context, key string, value []byte, del bool, call Call) (Version, error) {
	kind := OpPut
	if del {
		kind = OpDelete
	}
	if c == nil || c.replicas == nil {
		return Version{}, notApplied{errNilClient}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if c.closed.Load() {
		return Version{}, notApplied{ErrClosed}
	}
	r, err := c.resolve(call)
	if err != nil {
		return Version{}, notApplied{err}
	}
	// The op outlives this call while stragglers land, so it is released,
	// not cancelled.
	o := c.acquire(ctx, true, key)
	defer o.leave()
	var v Version
	switch r.tier {
	case MasterSlave:
		v, err = o.writeMasterSlave(ctx, kind, value, del)
	case DualWrite:
		v, err = o.writeDual(ctx, kind, value, del)
	default:
		v, err = o.writeQuorum(ctx, kind, value, del)
	}
	if err != nil {
		return Version{}, err
	}
	if f := c.s.hooks.QuorumReached; f != nil {
		f(kind, time.Since(o.start))
	}
	return v, nil
}

// nextVersion reads versions from need of the candidates in o.order and
// returns one newer than all of them, written by this client.
func (o *op) nextVersion(ctx context.Context, kind Op, need, atLeast int, hedge bool) (Version, error) {
	got, err := o.gather(ctx, kindVersion, need, atLeast, hedge)
	if err != nil {
		return Version{}, &Error{Op: kind, Key: o.key, Need: atLeast, Got: got, Healthy: len(o.order), Err: err}
	}
	var hi Version
	for _, i := range o.order[:o.sent] {
		if o.st[i] == stOK && o.resp[i].Version.Newer(hi) {
			hi = o.resp[i].Version
		}
	}
	counter, ok := o.c.floors.next(o.key, hi.Counter)
	if !ok {
		// The version read sent no record: nothing was stored.
		return Version{}, notApplied{fmt.Errorf("quorum: %v %q: %w (a replica holds counter %d)", kind, o.key, ErrVersionOverflow, hi.Counter)}
	}
	return Version{Counter: counter, Writer: o.c.s.id}, nil
}

// versionFloors makes the versions of one client unique. Counter = highest
// seen + 1 alone would give two writes of one client the same version — and
// possibly different values, which replicas would then keep forever — when
// they run concurrently on one key, or when a write follows an
// indeterminate one that its version read missed. So the client also keeps,
// per stripe of keys, the highest counter it issued, and never issues it
// again. Counters of keys sharing a stripe may skip values; order is all
// that matters.
//
// What holds:
//   - A key whose counter and stripe floor are both below highCounters-1
//     (2^63-1; counting from zero never gets there, so only a counter set
//     from outside does) gets max(counter, floor)+1 from the stripe's
//     floor, lock-free. The floor is raised only this way, so it stays
//     below highCounters, and a high key (even one at the maximum) never
//     moves the counters of the other keys of its stripe: they keep at
//     least 2^63 writes before ErrVersionOverflow; only the key itself
//     overflows.
//   - Every other counter (at or above highCounters) is issued under mu
//     and remembered per key in top, so a high key is not dragged by the
//     other high keys of its stripe either. top holds at most topKeys
//     keys; when it is full, a random key is evicted and its counter
//     folded into its stripe's evicted floor, above which every key of
//     the stripe that is not in top then starts when it takes this path.
//     That is the cost of eviction: a high key of a stripe where another
//     high key was evicted may get a counter nearer overflow than its own
//     (never a repeated one), while keys on the lock-free path are never
//     affected.
//   - A stripe whose floor reached highCounters-1 (a key set from outside
//     to just below 2^63) issues every further counter this way, as for a
//     high key: its keys then cost a lock and a top entry each.
//
// Stripe counters are below highCounters and the others at or above it,
// so the two never repeat each other (TestVersionFloorsGenerative).
type versionFloors struct {
	seed    maphash.Seed
	stripes [floorStripes]atomic.Uint64

	mu      sync.Mutex
	top     map[string]uint64     // highest counter issued, per high key
	evicted *[floorStripes]uint64 // per stripe, highest counter of a key evicted from top
}

const (
	floorStripes = 4096
	highCounters = 1 << 63
	// topKeys bounds top: about 64 bytes a key, so at most ~300 KB.
	topKeys = 4096
)

// next returns a counter above seen that this client never issued for key;
// false when it would overflow.
func (f *versionFloors) next(key string, seen uint64) (uint64, bool) {
	si := maphash.String(f.seed, key) % floorStripes
	s := &f.stripes[si]
	for seen < highCounters-1 {
		floor := s.Load()
		c := max(seen, floor)
		if c >= highCounters-1 {
			break
		}
		if s.CompareAndSwap(floor, c+1) {
			return c + 1, true
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := max(seen, s.Load())
	if last, ok := f.top[key]; ok {
		c = max(c, last)
	} else if f.evicted != nil {
		c = max(c, f.evicted[si])
	}
	if c == math.MaxUint64 {
		return 0, false
	}
	if f.top == nil {
		f.top = map[string]uint64{}
	}
	if _, ok := f.top[key]; !ok && len(f.top) >= topKeys {
		f.evict()
	}
	f.top[key] = c + 1
	return c + 1, true
}

// evict drops a random key from top (map iteration starts at a random
// place) and keeps its counter in its stripe's evicted floor.
func (f *versionFloors) evict() {
	if f.evicted == nil {
		f.evicted = new([floorStripes]uint64)
	}
	for k, c := range f.top {
		si := maphash.String(f.seed, k) % floorStripes
		f.evicted[si] = max(f.evicted[si], c)
		delete(f.top, k)
		return
	}
}

// writeQuorum is the QuorumTier write: a version read from N-W+1 replicas
// (enough to meet every earlier write quorum; R under Weak if smaller), then
// the record to every healthy replica, done at W acknowledgements from
// MinWriteZones zones.
func (o *op) writeQuorum(ctx context.Context, kind Op, value []byte, del bool) (Version, error) {
	c := o.c
	s := &c.s
	vq := min(s.r, s.n-s.w+1)
	zones := o.candidates(true)
	need := max(s.w, vq)
	if len(o.order) < need || (s.minZones > 1 && bits.OnesCount64(zones) < s.minZones) {
		return Version{}, &Error{Op: kind, Key: o.key, Need: need, Healthy: len(o.order), Fast: true}
	}
	c.hedges.deposit()
	v, err := o.nextVersion(ctx, kind, vq, vq, true)
	if err != nil {
		return Version{}, err
	}
	o.rec = Record{Value: bytes.Clone(value), Version: v, Deleted: del}
	if del {
		o.rec.Value = nil
	}
	acked, applied, err := o.gatherAcks(ctx, ackRule{need: s.w, zones: s.minZones}, 0, 0)
	if err != nil {
		return Version{}, &Error{Op: kind, Key: o.key, Need: s.w, Got: bits.OnesCount64(acked), Healthy: len(o.order), Applied: applied, Err: err}
	}
	return v, nil
}

// tierVersion is the version read of a MasterSlave or DualWrite write: it
// asks replicas[0] and [1] (a demoted one not in keep, and one in skip,
// only as a substitute, so that a hung replica the write can do without
// costs one write, not every one) and enough of the others for N-W+1
// answers in all, so that the new version is above every version on the
// pair — the master may have restarted empty while the slave kept its
// records — and above every acknowledged QuorumTier write (it fails with
// fewer than N-W+1 answers, as a QuorumTier write would). It leaves
// o.order to the caller to reset.
func (o *op) tierVersion(ctx context.Context, kind Op, atLeast int, keep, skip uint64) (Version, error) {
	c := o.c
	o.candidates(true)
	front := 0
	for _, want := range [2]int{0, 1} {
		if skip&(1<<want) != 0 {
			continue
		}
		for k := front; k < len(o.order); k++ {
			// A replica that hangs (4 calls or more in flight, demoted or
			// suspect or finishing none) is left out too; a suspect one
			// with fewer calls is still asked, so that a slave merely
			// slower than its suspect delay keeps throttling the writes
			// to its pace, and gets every copy (TestMasterSlaveLossWindow).
			if o.order[k] == want && (keep&(1<<want) != 0 || !c.replicas[want].cond.isFailed() && c.stall(want, o.start) != stallAll) {
				copy(o.order[front+1:k+1], o.order[front:k])
				o.order[front] = want
				front++
				break
			}
		}
	}
	vq := c.s.n - c.s.w + 1
	need := min(max(front, vq), len(o.order))
	atLeast = max(atLeast, vq)
	if need < atLeast {
		return Version{}, &Error{Op: kind, Key: o.key, Need: atLeast, Healthy: len(o.order), Fast: true}
	}
	return o.nextVersion(ctx, kind, need, atLeast, false)
}

// hangGate is what a tier write does about the replicas of o.order (those
// its record goes to) known to hang (see Client.hangs) or whose Puts hang
// while their reads answer (condition.putHang): a write that cannot meet
// rule without one of them would hold every write for ReplicaTimeout as
// long as the hang lasts, so it fails at once (an *Error with Fast set,
// sending nothing) and the hanging replicas are probed in the background
// until one answers. A write that can do without them leaves them out
// (skip: no version read, no record). A replica whose Puts hang gets one
// write now and then as the trial that finds out (claimed here, ended by
// endTrials; every other write leaves it out), only when every other
// replica rule needs may be sent the record, so that one replica's trial
// is not spent on a write that fails for another's.
func (o *op) hangGate(ctx context.Context, tier Tier, kind Op, rule ackRule) (skip, trials uint64, err error) {
	c := o.c
	var all, hung, slow, due uint64
	for _, i := range o.order {
		all |= 1 << i
		cond := &c.replicas[i].cond
		switch {
		case c.hangs(i, o.start):
			hung |= 1 << i
		case cond.putHang.Load():
			if cond.trialDue(o.start) {
				due |= 1 << i
			} else {
				slow |= 1 << i
			}
		}
	}
	if hung|slow|due == 0 {
		return 0, 0, nil
	}
	if !o.satisfies(all&^(hung|slow), rule) {
		slow |= due // no trial for a write that fails anyway
		due = 0
	}
	for set := due; set != 0; {
		i := bits.TrailingZeros64(set)
		set &^= 1 << i
		if c.replicas[i].cond.claimTrial(o.start) {
			trials |= 1 << i
		} else {
			slow |= 1 << i // another write took it
		}
	}
	if hung|slow != 0 {
		c.probeFailed(ctx, o.key, hung|slow)
	}
	if !o.satisfies(all&^(hung|slow), rule) {
		o.endTrials(trials)
		return 0, 0, o.hangError(tier, kind, rule, hung|slow)
	}
	return hung | slow, trials, nil
}

// hangError is the fast failure of a tier write that cannot meet rule
// without the replicas in out, known to hang: it names those the write
// needs (the required ones, or all of them) and wraps a ReplicaError for
// each.
func (o *op) hangError(tier Tier, kind Op, rule ackRule, out uint64) error {
	if out&rule.required != 0 {
		out &= rule.required
	}
	e := &Error{Op: kind, Key: o.key, Need: rule.need, Healthy: len(o.order), Fast: true, tier: tier}
	var errs []error
	for set := out; set != 0; {
		i := bits.TrailingZeros64(set)
		set &^= 1 << i
		e.Hanging = append(e.Hanging, i)
		errs = append(errs, &ReplicaError{Replica: i, Op: kind, Err: errHangs})
	}
	e.Err = errs[0]
	if len(errs) > 1 {
		e.Err = errors.Join(errs...)
	}
	return e
}

// endTrials ends the Put trials hangGate claimed.
func (o *op) endTrials(trials uint64) {
	for trials != 0 {
		i := bits.TrailingZeros64(trials)
		trials &^= 1 << i
		o.c.replicas[i].cond.endTrial()
	}
}

// without removes the replicas in set from o.order.
func (o *op) without(set uint64) {
	if set == 0 {
		return
	}
	k := 0
	for _, i := range o.order {
		if set&(1<<i) == 0 {
			o.order[k] = i
			k++
		}
	}
	o.order = o.order[:k]
}

// writeMasterSlave writes replicas[0] synchronously (after the version
// read of tierVersion) and, once it acknowledged, replicas[1] in the
// background. A master known to hang fails the write at once (hangGate).
func (o *op) writeMasterSlave(ctx context.Context, kind Op, value []byte, del bool) (Version, error) {
	c := o.c
	if h := c.replicas[0].health; h != nil && !h.Healthy() {
		return Version{}, &Error{Op: kind, Key: o.key, Need: 1, Fast: true, Unhealthy: []int{0}, tier: MasterSlave}
	}
	rule := ackRule{need: 1, stored: true}
	o.order = append(o.order[:0], 0)
	_, trials, err := o.hangGate(ctx, MasterSlave, kind, rule)
	if err != nil {
		return Version{}, err
	}
	defer o.endTrials(trials)
	v, err := o.tierVersion(ctx, kind, 1, 0, 0)
	if err != nil {
		return Version{}, err
	}
	o.order = append(o.order[:0], 0)
	o.rec = Record{Value: bytes.Clone(value), Version: v, Deleted: del}
	if del {
		o.rec.Value = nil
	}
	_, applied, err := o.gatherAcks(ctx, rule, 0, 0)
	if err != nil {
		return Version{}, &Error{Op: kind, Key: o.key, Need: 1, Healthy: 1, Applied: applied, Err: err}
	}
	// The slave copy: a phase nobody waits for; Close waits for the call.
	o.newPhase()
	if h := c.replicas[1].health; h != nil && !h.Healthy() {
		err = errUnhealthy
	} else if now := time.Now(); c.congested(1, now) {
		// A slave that hangs would hold every copy until its context
		// ends, filling MaxInFlight: as a QuorumTier write holds a hanging
		// replica in reserve, the copy is not sent; repair, write-back and
		// later writes bring the slave up to date once it answers.
		err = errHanging
	} else {
		err = o.dispatch(1, kindPut, flagAsync, now)
	}
	if err != nil {
		if f := c.s.hooks.AsyncWrite; f != nil {
			f(1, err)
		}
	}
	return v, nil
}

// writeDual writes replicas[0] and replicas[1] at once and succeeds per
// Config.DualWrite. A replica the rule needs that is known to hang fails
// the write at once; one it can do without is left out (hangGate).
func (o *op) writeDual(ctx context.Context, kind Op, value []byte, del bool) (Version, error) {
	c := o.c
	o.pairCandidates()
	var rule ackRule
	healthy := uint64(0)
	for _, i := range o.order {
		healthy |= 1 << i
	}
	switch c.s.dual {
	case DualEither:
		rule = ackRule{need: 1, stored: true}
	case DualPrimary:
		rule = ackRule{need: 1, required: 1, stored: true}
	default:
		rule = ackRule{need: 2, stored: true}
	}
	if !o.satisfies(healthy, rule) {
		out := 3 &^ healthy
		if out&rule.required != 0 {
			out &= rule.required
		}
		e := &Error{Op: kind, Key: o.key, Need: rule.need, Healthy: len(o.order), Fast: true, tier: DualWrite}
		for i := range 2 {
			if out&(1<<i) != 0 {
				e.Unhealthy = append(e.Unhealthy, i)
			}
		}
		return Version{}, e
	}
	skip, trials, err := o.hangGate(ctx, DualWrite, kind, rule)
	if err != nil {
		return Version{}, err
	}
	defer o.endTrials(trials)
	keep := uint64(0)
	if rule.need == 2 {
		// DualBoth needs both: a failing one fails the version read,
		// before any record is sent.
		keep = 3
	}
	v, err := o.tierVersion(ctx, kind, rule.need, keep, skip)
	if err != nil {
		return Version{}, err
	}
	o.pairCandidates()
	o.without(skip)
	o.rec = Record{Value: bytes.Clone(value), Version: v, Deleted: del}
	if del {
		o.rec.Value = nil
	}
	acked, applied, err := o.gatherAcks(ctx, rule, 0, 0)
	if err != nil {
		return Version{}, &Error{Op: kind, Key: o.key, Need: rule.need, Got: bits.OnesCount64(acked), Healthy: len(o.order), Applied: applied, Err: err}
	}
	return v, nil
}
