package quorum

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpContextLifecycle walks one op through the lives its context can
// have across reuse: expired by its timer, never made (a fast failure),
// stopped before its deadline, and made under an earlier caller deadline.
func TestOpContextLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := New([]Replica{gated{}, gated{}, gated{}}, Config{ReplicaTimeout: 10 * time.Millisecond})
		require.NoError(t, err)
		defer c.Close()
		o := newOp(c, 3)
		start := func(parent context.Context, write bool) {
			o.cx.parent, o.cx.write, o.cx.deadline = parent, write, time.Now().Add(30*time.Millisecond)
		}
		bg := context.Background()

		// Expired by the timer.
		start(bg, true)
		o.needCtx()
		expired := o.ctx
		time.Sleep(40 * time.Millisecond)
		assert.ErrorIs(t, expired.Err(), context.DeadlineExceeded)
		o.stopCtx()

		// Never made: stopping must not touch the dropped timer.
		start(bg, true)
		o.stopCtx()
		assert.Nil(t, o.ctx)

		// Stopped before its deadline: Canceled, and the old context stays
		// expired.
		start(bg, false)
		o.needCtx()
		live := o.ctx
		dl, ok := live.Deadline()
		assert.True(t, ok)
		assert.Equal(t, time.Now().Add(30*time.Millisecond), dl)
		o.stopCtx()
		assert.ErrorIs(t, live.Err(), context.Canceled)
		assert.ErrorIs(t, expired.Err(), context.DeadlineExceeded)
		time.Sleep(40 * time.Millisecond)
		assert.ErrorIs(t, live.Err(), context.Canceled, "a stopped timer never fires")

		// Under an earlier caller deadline: the caller's, and no timer.
		dctx, cancel := context.WithTimeout(bg, 5*time.Millisecond)
		defer cancel()
		start(dctx, false)
		o.needCtx()
		want, _ := dctx.Deadline()
		dl, _ = o.ctx.Deadline()
		assert.Equal(t, want, dl)
		assert.False(t, o.cx.armed)
		<-o.ctx.Done()
		assert.ErrorIs(t, o.ctx.Err(), context.DeadlineExceeded)
		o.stopCtx()

		// And the timer works again afterwards.
		start(bg, true)
		o.needCtx()
		again := o.ctx
		time.Sleep(40 * time.Millisecond)
		assert.ErrorIs(t, again.Err(), context.DeadlineExceeded)
		o.stopCtx()
	})
}
