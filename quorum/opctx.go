package quorum

import (
	"context"
	"time"
)

// Replica calls get a context of the standard library made for their
// operation, never a pooled object: a replica may derive contexts from it
// (go-redis does when it dials) and the context package may watch them from
// goroutines of its own after the call returned, so the context must stay a
// valid, unshared context for as long as anyone holds it. A stdlib parent
// also lets derived contexts register as children instead of starting a
// watcher goroutine each.
//
// Reads: the caller's context with a deadline of three replica timeouts (or
// the caller's, if earlier), cancelled when the read returns. Writes: the
// caller's values without its cancellation (stragglers may land after Put
// returned), with the same deadline, cancelled when the last call of the
// operation returned.

// startCtx makes the replica calls' context of a new operation.
func (o *op) startCtx(parent context.Context, write bool, deadline time.Time) {
	if write && parent.Done() != nil {
		parent = context.WithoutCancel(parent)
	}
	o.ctx, o.cancel = context.WithDeadline(parent, deadline)
}

// stopCtx cancels the context; the op no longer refers to it, but whoever
// kept it still holds a valid, ended context.
func (o *op) stopCtx() {
	if o.cancel != nil {
		o.cancel()
	}
	o.ctx, o.cancel = nil, nil
}
