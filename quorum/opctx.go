package quorum

import (
	"context"
	"time"
)

// An op is the context.Context of its replica calls. A pooled context saves
// the four allocations and the timer of context.WithTimeout on every
// operation: the deadline timer is armed only when a replica asks for Done,
// and cancellation is an atomic store unless someone waits on Done.
//
// Lifetime: the op is reused only after every replica call holding it has
// returned, and a replica must not use a context after its call returned
// (the usual rule for contexts).

const (
	ctxLive uint32 = iota
	ctxCanceled
	ctxExpired
)

func (o *op) Deadline() (time.Time, bool) { return o.deadline, true }

func (o *op) Value(key any) any { return o.parent.Value(key) }

func (o *op) Err() error {
	switch o.state.Load() {
	case ctxCanceled:
		return context.Canceled
	case ctxExpired:
		return context.DeadlineExceeded
	}
	if !time.Now().Before(o.deadline) {
		o.end(ctxExpired)
		return context.DeadlineExceeded
	}
	return nil
}

func (o *op) Done() <-chan struct{} {
	o.doneMu.Lock()
	defer o.doneMu.Unlock()
	if o.done == nil {
		o.done = make(chan struct{})
		if o.state.Load() != ctxLive {
			close(o.done)
		} else {
			gen := o.gen
			o.expiry = time.AfterFunc(time.Until(o.deadline), func() { o.expire(gen) })
		}
	}
	return o.done
}

func (o *op) expire(gen uint64) {
	o.doneMu.Lock()
	stale := gen != o.gen
	o.doneMu.Unlock()
	if !stale {
		o.end(ctxExpired)
	}
}

// end cancels (ctxCanceled) or expires the context; the first call wins.
func (o *op) end(state uint32) {
	if !o.state.CompareAndSwap(ctxLive, state) {
		return
	}
	o.doneMu.Lock()
	if o.done != nil {
		close(o.done)
	}
	o.doneMu.Unlock()
}

// startCtx prepares the context for a new operation.
func (o *op) startCtx(parent context.Context, deadline time.Time) {
	o.parent = parent
	o.deadline = deadline
	o.state.Store(ctxLive)
}

// stopCtx ends the context before the op returns to the pool.
func (o *op) stopCtx() {
	o.end(ctxCanceled)
	o.doneMu.Lock()
	o.gen++
	if o.expiry != nil {
		o.expiry.Stop()
		o.expiry = nil
	}
	o.done = nil
	o.doneMu.Unlock()
	o.parent = nil
}
