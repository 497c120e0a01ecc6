package quorum

import (
	"context"
	"sync"
	"time"
)

// Replica calls get a context made for their operation, never a pooled
// object: a replica may derive contexts from it (go-redis does when it
// dials) and the context package may watch them from goroutines of its own
// after the call returned, so the context must stay a valid, unshared
// context for as long as anyone holds it.
//
// Reads: the caller's context (values, cancellation, deadline), cancelled
// when the read returns. Writes: the caller's values without its
// cancellation (stragglers may land after Put returned), cancelled when the
// last call of the operation returned. Both end at the latest three replica
// timeouts after the operation began.
//
// The context is a context.WithCancelCause under a small wrapper that
// reports the deadline, which is enforced by a timer the pooled op keeps:
// that costs three allocations and a timer reset instead of the four
// allocations and the timer creation of context.WithDeadline (about 250 ns
// against 400 ns on the reference machine). Being a stdlib cancelCtx
// underneath, contexts a replica derives from it register as its children
// instead of starting a watcher goroutine each.

// callCtx is the replica calls' context of one operation.
type callCtx struct {
	context.Context // from context.WithCancelCause
	deadline        time.Time
}

func (c *callCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// Err reports DeadlineExceeded when the operation's deadline ended the
// context. (Contexts derived from it report Canceled then, with
// DeadlineExceeded as their context.Cause.)
func (c *callCtx) Err() error {
	err := c.Context.Err()
	if err != nil && context.Cause(c.Context) == context.DeadlineExceeded {
		return context.DeadlineExceeded
	}
	return err
}

// opCtx is the op's handle on the current context. The context is made
// when the operation first calls a replica, so an operation that fails
// fast (too few healthy replicas) pays nothing for it.
type opCtx struct {
	parent   context.Context
	write    bool
	deadline time.Time

	mu      sync.Mutex // guards cancel and expiry against the expiry timer
	cancel  context.CancelCauseFunc
	expiry  *time.Timer // reused across operations until it fires late
	timerID uint64      // names expiry to its callback
	armed   bool
}

// needCtx makes the replica calls' context, once per operation; only the
// operation's goroutine calls it, before handing out a call.
func (o *op) needCtx() {
	if o.ctx == nil {
		o.startCtx(o.cx.parent, o.cx.write, o.cx.deadline)
	}
}

// startCtx makes the replica calls' context of an operation.
func (o *op) startCtx(parent context.Context, write bool, deadline time.Time) {
	if write && parent.Done() != nil {
		parent = context.WithoutCancel(parent)
	}
	arm := true
	if d, ok := parent.Deadline(); ok && !d.After(deadline) {
		deadline, arm = d, false // the parent's deadline comes first
	}
	ctx, cancel := context.WithCancelCause(parent)
	o.ctx = &callCtx{Context: ctx, deadline: deadline}
	o.cx.mu.Lock()
	o.cx.cancel = cancel
	o.cx.armed = arm
	if arm {
		if o.cx.expiry == nil {
			// The timer is named by a number the callback holds by value
			// (it may fire before AfterFunc returns); the lock orders it.
			o.cx.timerID++
			id := o.cx.timerID
			o.cx.expiry = time.AfterFunc(time.Until(deadline), func() { o.expire(id) })
		} else {
			o.cx.expiry.Reset(time.Until(deadline))
		}
	}
	o.cx.mu.Unlock()
}

// expire ends the context of the operation timer id was armed for, unless
// that operation already stopped it.
func (o *op) expire(id uint64) {
	o.cx.mu.Lock()
	cancel := o.cx.cancel
	if o.cx.expiry == nil || o.cx.timerID != id {
		cancel = nil // a timer stopCtx gave up on: its operation is over
	}
	o.cx.mu.Unlock()
	if cancel != nil {
		cancel(context.DeadlineExceeded)
	}
}

// cancelCalls cancels the calls in flight (a read that returned).
func (o *op) cancelCalls() {
	o.cx.mu.Lock()
	cancel := o.cx.cancel
	o.cx.mu.Unlock()
	if cancel != nil {
		cancel(o.endCause())
	}
}

// endCause is why the calls still in flight end when the operation does:
// the caller's deadline if it has passed, else a plain cancellation. A
// parent context closes its Done channel before it cancels its children,
// so an operation that returned on the caller's deadline could otherwise
// cancel its calls first, and they would see Canceled instead of
// DeadlineExceeded (1 run in about 150 of TestReplicaContextDeadline).
func (o *op) endCause() error {
	if p := o.cx.parent; p != nil && p.Done() != nil && p.Err() == context.DeadlineExceeded {
		return context.DeadlineExceeded
	}
	return context.Canceled
}

// stopCtx cancels the context and disarms the timer; whoever kept the
// context still holds a valid, ended one.
func (o *op) stopCtx() {
	o.cx.mu.Lock()
	cancel := o.cx.cancel
	o.cx.cancel = nil
	if o.cx.armed && !o.cx.expiry.Stop() {
		// It fired, or is firing: a late expire must not end the next
		// operation's context, so the timer is dropped.
		o.cx.expiry = nil
	}
	o.cx.armed = false // also when no context was made this time
	o.cx.mu.Unlock()
	if cancel != nil {
		cancel(o.endCause())
	}
	o.ctx, o.cx.parent = nil, nil
}
