package quorum

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"time"
)

// This file is the fan-out engine: pooled per-operation state (op), the
// per-replica worker goroutines that run replica calls, and the ordering
// of candidate replicas. The wait loop every phase runs is in gather.go.

type jobKind uint8

const (
	kindGet jobKind = iota
	kindVersion
	kindPut
)

const (
	flagRepair uint8 = 1 << iota // a read repair or write-back: Hooks.Repair
	flagAsync                    // a master-slave slave write: Hooks.AsyncWrite
	flagProbe                    // a background probe of a demoted replica
)

type job struct {
	op    *op
	sent  time.Time // when the coordinator handed it over: latency includes the hand-off
	kind  jobKind
	phase uint8
	flags uint8
}

type result struct {
	replica int
	phase   uint8
	rec     Record
	stored  bool
	err     error
}

// Per-replica state within one phase of an op.
const (
	stIdle uint8 = iota
	stSent
	stOK
	stFailed
)

// op is the state of one client operation. It is pooled; the coordinator and
// every replica call in flight hold a reference, and the last release returns
// it to the pool, so replica calls that outlive the operation (write
// stragglers, asynchronous repairs) never see a reused op.
type op struct {
	c     *Client
	ctx   context.Context // the replica calls' context, made by the first call; see opctx.go
	cx    opCtx
	start time.Time

	key     string
	rec     Record // what kindPut jobs write; set before a phase's dispatch
	refs    atomic.Int32
	results chan result
	timer   *time.Timer

	phase     uint8
	st        []uint8
	sentAt    []time.Time
	hedged    []bool // sent as a hedge
	hedgedFor []bool // a hedge was sent because this replica was slow
	suspected []bool // this replica's call was outstanding past suspectDelay
	covered   []bool // a hedge or replacement was sent for this replica's call
	resp      []Record
	order     []int  // candidate replicas, preferred first
	sent      int    // prefix of order already tried in the current phase
	failed    uint64 // demoted or suspect replicas among the candidates
	errs      []error
}

func newOp(c *Client, n int) *op {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &op{
		c:         c,
		results:   make(chan result, 2*n+1), // ≤ one call per replica per phase, two phases, one async
		timer:     t,
		st:        make([]uint8, n),
		sentAt:    make([]time.Time, n),
		hedged:    make([]bool, n),
		hedgedFor: make([]bool, n),
		suspected: make([]bool, n),
		covered:   make([]bool, n),
		resp:      make([]Record, n),
		order:     make([]int, 0, n),
	}
}

// acquire takes an op for key and prepares its replica calls' context,
// made at the first call (opctx.go): it carries the caller's values, and its deadline is three replica timeouts
// (two phases and an asynchronous slave write; for reads, the caller's
// deadline if earlier). Reads are cancelled when they return or when the
// caller's context ends; writes only when every call has returned, so
// stragglers can land. The coordinator also times out each call after
// ReplicaTimeout.
func (c *Client) acquire(ctx context.Context, write bool, key string) *op {
	o := c.ops.Get().(*op)
	o.refs.Store(1)
	o.key = key
	o.start = time.Now()
	o.cx.parent, o.cx.write, o.cx.deadline = ctx, write, o.start.Add(3*c.s.timeout)
	o.phase = 0
	o.errs = o.errs[:0]
	return o
}

func (o *op) release() {
	if o.refs.Add(-1) != 0 {
		return
	}
	o.stopCtx()
	for len(o.results) > 0 {
		<-o.results
	}
	o.key, o.rec = "", Record{}
	clear(o.resp)
	clear(o.errs)
	o.c.ops.Put(o)
}

// leave ends a write for its coordinator; calls in flight continue. If
// some are, it yields once: when the acknowledgements came from inline
// calls, the coordinator never blocked, and a worker it handed a call to
// may still wait in this P's run queue; running it now starts the call
// promptly and returns the op to this P's pool instead of another's, where
// the next operation could not find it.
func (o *op) leave() {
	if o.refs.Load() > 1 {
		runtime.Gosched()
	}
	o.release()
}

// finish ends a read: calls still in flight are cancelled.
func (o *op) finish() {
	o.cancelCalls()
	o.release()
}

// dispatch hands one call to replica i's worker; an error means it was not
// sent (busy or closed).
func (o *op) dispatch(i int, kind jobKind, flags uint8, now time.Time) error {
	c := o.c
	rs := &c.replicas[i]
	o.needCtx()
	o.refs.Add(1)
	if rs.calls.Add(1) == 1 {
		rs.progress.Store(now.UnixNano())
	}
	// The wait for a Put's progress starts with the first Put handed over
	// while none is in flight, or since a Put last succeeded: Puts a hang
	// swallowed stay in flight after it ended, and must not make a quiet
	// spell between writes look like a stall.
	if kind == kindPut {
		if n := rs.putCalls.Add(1); n == 1 || n >= congestedAt && rs.putAnswered.Load() && rs.putAnswered.CompareAndSwap(true, false) {
			rs.putProgress.Store(now.UnixNano())
		}
	}
	j := job{op: o, sent: now, kind: kind, phase: o.phase, flags: flags}
	select {
	case rs.jobs <- j:
		return nil
	default:
	}
	if err := c.spawn(rs, i, j); err != nil {
		rs.calls.Add(-1)
		if kind == kindPut {
			rs.putCalls.Add(-1)
		}
		o.refs.Add(-1)
		return err
	}
	return nil
}

func (c *Client) spawn(rs *replicaState, i int, j job) error {
	if rs.active.Add(1) > int32(c.s.maxInFlight) {
		rs.active.Add(-1)
		return ErrReplicaBusy
	}
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		rs.active.Add(-1)
		return errClosedNotSent
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go c.work(rs, i, j)
	return nil
}

// errClosedNotSent is a call refused because the client is closing; it
// matches ErrClosed and ErrNotStored.
var errClosedNotSent error = closedNotSent{}

type closedNotSent struct{}

func (closedNotSent) Error() string { return "quorum: client closed" }
func (closedNotSent) Is(target error) bool {
	return target == ErrClosed || target == ErrNotStored
}

// work runs jobs for one replica until Close, or until the reaper retires
// it as surplus.
func (c *Client) work(rs *replicaState, i int, j job) {
	defer c.wg.Done()
	for {
		b := rs.busy.Add(1)
		for p := rs.peak.Load(); b > p && !rs.peak.CompareAndSwap(p, b); p = rs.peak.Load() {
		}
		c.run(rs, i, j)
		rs.busy.Add(-1)
		select {
		case j = <-rs.jobs:
		case <-rs.reap:
			rs.active.Add(-1)
			return
		case <-c.done:
			return
		}
	}
}

// reapEvery is how often surplus workers are retired: a replica keeps as
// many workers as were busy at once during the last period (at least
// minWorkers), so a burst's workers go away within two periods.
const (
	reapEvery  = 10 * time.Second
	minWorkers = 4
)

// reaper retires idle workers beyond each replica's recent peak; it stops
// at Close.
func (c *Client) reaper() {
	defer c.wg.Done()
	t := time.NewTicker(reapEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			c.reap()
		case <-c.done:
			return
		}
	}
}

func (c *Client) reap() {
	for i := range c.replicas {
		rs := &c.replicas[i]
		keep := max(rs.peak.Swap(rs.busy.Load()), minWorkers)
		for n := rs.active.Load() - keep; n > 0; n-- {
			select {
			case rs.reap <- struct{}{}: // only a parked worker takes it
			default:
				n = 0
			}
		}
	}
}

func (c *Client) run(rs *replicaState, i int, j job) {
	o := j.op
	res, _ := c.exec(rs, i, o, j.kind, j.flags, j.phase, j.sent, false)
	rs.calls.Add(-1)
	if j.kind == kindPut {
		rs.putCalls.Add(-1)
	}
	o.results <- res // capacity covers every call of the op
	o.release()
}

// exec makes one replica call, handed over at sent (on the operation's
// goroutine when inline, sent being the start of the call), and reports it
// to the latency estimates and hooks. It returns how long the call itself
// took.
func (c *Client) exec(rs *replicaState, i int, o *op, kind jobKind, flags, phase uint8, sent time.Time, inline bool) (result, time.Duration) {
	res := result{replica: i, phase: phase}
	start := sent
	if !inline {
		start = time.Now()
	}
	res.rec, res.stored, res.err = call(rs, o, kind)
	end := time.Now()
	if res.err == nil {
		rs.progress.Store(end.UnixNano()) // cancelled or failed calls are no progress
		rs.lastOK.Store(end.UnixNano())
		if kind == kindPut {
			rs.putProgress.Store(end.UnixNano())
			if !rs.putAnswered.Load() {
				rs.putAnswered.Store(true)
			}
		}
	}
	took := end.Sub(start)
	rs.noteCall(took, c.s.inlineBelow)
	d := end.Sub(sent)
	c.noteOutcome(rs, res.err, sent, d, end, kind == kindPut, res.err != nil && o.ctx.Err() != nil)
	if flags&flagProbe != 0 {
		rs.cond.probing.Store(false)
	}
	h := &c.s.hooks
	if h.ReplicaLatency != nil {
		h.ReplicaLatency(i, opOf(kind), d, res.err)
	}
	if flags&flagRepair != 0 && h.Repair != nil {
		h.Repair(i, res.err)
	}
	if flags&flagAsync != 0 && h.AsyncWrite != nil {
		err := res.err
		if err == nil && !res.stored {
			err = &ReplicaError{Replica: i, Op: OpPut, Err: ErrSuperseded}
		}
		h.AsyncWrite(i, err)
	}
	return res, took
}

// inlineStreak is how many calls in a row must have been faster than
// Config.InlineBelow before a replica is called inline. With a 10 % tail of
// slow calls, 128 fast calls in a row happen once in about 700,000 calls,
// so a tail-heavy replica stays on workers, where it can be hedged.
const inlineStreak = 128

// noteCall tracks whether the replica is fast enough to be called inline:
// one slow call ends it until inlineStreak fast ones in a row.
func (rs *replicaState) noteCall(took, below time.Duration) {
	if took < below {
		if rs.fast.Load() < inlineStreak {
			rs.fast.Add(1)
		}
	} else if rs.fast.Load() != 0 {
		rs.fast.Store(0)
	}
}

func (rs *replicaState) inlinable() bool {
	return rs.nonBlocking && rs.fast.Load() >= inlineStreak
}

func call(rs *replicaState, o *op, kind jobKind) (rec Record, stored bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("quorum: replica panicked: %v", p)
		}
	}()
	switch kind {
	case kindGet:
		rec, err = rs.r.Get(o.ctx, o.key)
	case kindVersion:
		if rs.ver != nil {
			rec.Version, err = rs.ver.Version(o.ctx, o.key)
		} else {
			rec, err = rs.r.Get(o.ctx, o.key)
			rec.Value = nil
		}
	case kindPut:
		stored, err = rs.r.Put(o.ctx, o.key, o.rec)
	}
	return rec, stored, err
}

// candidates fills o.order with the healthy replicas; with sorted, local-zone
// replicas first, then by estimated latency (ties in a random rotation, to
// spread load). It returns the zones of the healthy replicas as a bit set.
func (o *op) candidates(sorted bool) (zones uint64) {
	c := o.c
	n := len(c.replicas)
	o.order = o.order[:0]
	o.failed = 0
	start := 0
	if sorted && n > 1 {
		start = int(rand.Uint32N(uint32(n)))
	}
	for k := range n {
		i := k + start
		if i >= n {
			i -= n
		}
		rs := &c.replicas[i]
		if rs.health != nil && !rs.health.Healthy() {
			continue
		}
		o.order = append(o.order, i)
		zones |= 1 << rs.zoneID
		if c.congested(i, o.start) || rs.cond.isDown() {
			o.failed |= 1 << i
		}
	}
	if sorted {
		ord := o.order
		for a := 1; a < len(ord); a++ {
			for b := a; b > 0 && c.before(ord[b], ord[b-1]); b-- {
				ord[b], ord[b-1] = ord[b-1], ord[b]
			}
		}
	}
	return zones
}

func (c *Client) before(i, j int) bool {
	ri, rj := &c.replicas[i], &c.replicas[j]
	if fi, fj := ri.cond.isFailed(), rj.cond.isFailed(); fi != fj {
		return fj
	}
	// A suspect replica goes after the others, also a local one: a hung
	// local replica loses its LocalZone preference at once.
	if si, sj := ri.cond.isSuspect(), rj.cond.isSuspect(); si != sj {
		return sj
	}
	if ri.local != rj.local {
		return ri.local
	}
	return ri.lat.estimate() < rj.lat.estimate()
}

func opOf(k jobKind) Op {
	if k == kindPut {
		return OpPut
	}
	return OpGet
}
