package quorum_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
	"github.com/bulwark-go/bulwark/quorum/memreplica"
)

type opID struct{}

// keeper derives a context in every call, as adapters do (go-redis wraps
// the caller's context when it dials), and keeps it after the call returned,
// together with the operation id the call saw. A context handed to a
// replica must stay a valid context of its own operation for as long as
// anyone holds it: a stdlib goroutine watching a derived context may call
// Value, Done and Err on the parent at any later time.
type keeper struct {
	mem *memreplica.Replica

	mu   sync.Mutex
	kept []keptCtx
}

type keptCtx struct {
	ctx    context.Context
	cancel context.CancelFunc
	id     any
	put    bool
}

const keepAtMost = 4096

func (k *keeper) derive(ctx context.Context, put bool) context.Context {
	d, cancel := context.WithCancel(ctx)
	if put {
		// Some adapters also put a timeout of their own on a call.
		var c2 context.CancelFunc
		d, c2 = context.WithTimeout(d, time.Hour)
		c1 := cancel
		cancel = func() { c2(); c1() }
	}
	k.mu.Lock()
	if len(k.kept) < keepAtMost {
		k.kept = append(k.kept, keptCtx{ctx: d, cancel: cancel, id: ctx.Value(opID{}), put: put})
	} else {
		cancel()
	}
	k.mu.Unlock()
	return d
}

func (k *keeper) Get(ctx context.Context, key string) (quorum.Record, error) {
	return k.mem.Get(k.derive(ctx, false), key)
}

func (k *keeper) Put(ctx context.Context, key string, rec quorum.Record) (bool, error) {
	return k.mem.Put(k.derive(ctx, true), key, rec)
}

func (k *keeper) all() []keptCtx {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]keptCtx(nil), k.kept...)
}

func keepers(n int) ([]*keeper, []quorum.Replica) {
	ks := make([]*keeper, n)
	reps := make([]quorum.Replica, n)
	for i := range ks {
		ks[i] = &keeper{mem: memreplica.New(memreplica.Options{})}
		reps[i] = ks[i]
	}
	return ks, reps
}

// checkKept: every kept context still answers for its own operation, and
// every one of them has ended (the operations are over and the client is
// closed), so no derived context or its goroutine outlives the client.
func checkKept(t *testing.T, ks []*keeper) {
	t.Helper()
	n := 0
	for _, k := range ks {
		for _, kc := range k.all() {
			n++
			require.NotNil(t, kc.id, "the replica call saw the caller's values")
			require.Equal(t, kc.id, kc.ctx.Value(opID{}), "a kept context answers for another operation")
			select {
			case <-kc.ctx.Done():
			default:
				t.Fatalf("a replica context of operation %v is still live after Close", kc.id)
			}
			require.Error(t, kc.ctx.Err())
			kc.cancel()
		}
	}
	require.NotZero(t, n)
}

// TestReplicaContextsOutliveTheirCalls is the regression test for pooled
// per-operation contexts: a replica that derived a context from one
// operation and used it after its call returned read the values of a later
// operation, or crashed in (*op).Value once the pooled op had been reset.
func TestReplicaContextsOutliveTheirCalls(t *testing.T) {
	calls := []struct {
		name string
		call quorum.Call
	}{
		{"linearizable", quorum.Call{}},
		{"quorum blocking repair", quorum.Call{Consistency: quorum.Quorum, Repair: quorum.RepairBlocking}},
		{"quorum async repair", quorum.Call{Consistency: quorum.Quorum, Repair: quorum.RepairAsync}},
		{"master-slave", quorum.Call{Tier: quorum.MasterSlave}},
		{"dual-write", quorum.Call{Tier: quorum.DualWrite}},
	}
	for _, tc := range calls {
		t.Run("sequential "+tc.name, func(t *testing.T) {
			ks, reps := keepers(3)
			c, err := quorum.New(reps, quorum.Config{ReplicaTimeout: time.Minute}) // no timeouts on a loaded machine
			require.NoError(t, err)
			cl := c.With(tc.call)
			for i := range 200 {
				ctx := context.WithValue(context.Background(), opID{}, i)
				key := fmt.Sprint("k", i%7)
				switch i % 3 {
				case 0:
					require.NoError(t, cl.Put(ctx, key, []byte{byte(i)}))
				case 1:
					if _, err := cl.Get(ctx, key); err != nil {
						require.ErrorIs(t, err, quorum.ErrNotFound)
					}
				case 2:
					require.NoError(t, cl.Delete(ctx, key))
				}
				// Contexts of finished reads answer for their own
				// operation while later operations run.
				for _, k := range ks {
					for _, kc := range k.all() {
						require.Equal(t, kc.id, kc.ctx.Value(opID{}), "a kept context answers for another operation")
					}
				}
			}
			require.NoError(t, c.Close())
			checkKept(t, ks)
		})
	}

	t.Run("concurrent", func(t *testing.T) {
		// Derived contexts with stdlib watcher goroutines, kept and
		// cancelled late, while operations reuse the client's state.
		ks, reps := keepers(3)
		c, err := quorum.New(reps, quorum.Config{ReplicaTimeout: time.Minute})
		require.NoError(t, err)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 300 {
					id := g*1000 + i
					// A caller context of a type the context package does
					// not know, so that derived contexts watch it with a
					// goroutine of their own, as in the crash.
					ctx := opaqueCtx{context.WithValue(context.Background(), opID{}, id)}
					key := fmt.Sprint("k", i%5)
					if i%2 == 0 {
						assert.NoError(t, c.Put(ctx, key, []byte("v")))
					} else if _, err := c.Get(ctx, key); err != nil {
						assert.ErrorIs(t, err, quorum.ErrNotFound)
					}
				}
			})
		}
		wg.Wait()
		require.NoError(t, c.Close())
		checkKept(t, ks)
	})

	t.Run("reads end with the caller, writes do not", func(t *testing.T) {
		ks, reps := keepers(3)
		slow := &gatedPut{Replica: reps[2], gate: make(chan struct{}), seen: make(chan error, 1)}
		reps[2] = slow
		c, err := quorum.New(reps, quorum.Config{})
		require.NoError(t, err)
		wctx, cancel := context.WithCancel(context.WithValue(context.Background(), opID{}, "w"))
		require.NoError(t, c.Put(wctx, "k", []byte("v")), "W=2 from replicas 0 and 1")
		cancel()
		close(slow.gate)
		// The straggler is not cancelled with the caller, so it lands.
		require.NoError(t, <-slow.seen, "a write's straggler outlives the caller's cancellation")
		_, err = c.Get(context.WithValue(context.Background(), opID{}, "r"), "k")
		require.NoError(t, err)
		for _, k := range ks[:2] {
			for _, kc := range k.all() {
				if kc.id == "r" {
					assert.Error(t, kc.ctx.Err(), "a read's replica calls are cancelled when it returns")
				}
			}
		}
		require.NoError(t, c.Close())
		rec, err := ks[2].mem.Get(context.Background(), "k")
		require.NoError(t, err)
		assert.Equal(t, "v", string(rec.Value), "the straggler landed")
	})
}

// gatedPut holds Put calls until gate closes, then reports the state of
// their context on seen.
type gatedPut struct {
	quorum.Replica
	gate chan struct{}
	seen chan error
}

func (g *gatedPut) Put(ctx context.Context, key string, rec quorum.Record) (bool, error) {
	<-g.gate
	err := ctx.Err()
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > 3*time.Second {
		err = fmt.Errorf("want a deadline of at most three replica timeouts, got %v %v", dl, ok)
	}
	select {
	case g.seen <- err:
	default:
	}
	if err != nil {
		return false, err
	}
	return g.Replica.Put(ctx, key, rec)
}

// opaqueCtx hides the context package's own types from it.
type opaqueCtx struct{ context.Context }

// ctxProbe blocks its calls until their context ends and reports how it
// ended.
type ctxProbe struct {
	quorum.Replica
	blockGet, blockPut atomic.Bool
	ended              chan ctxEnd
}

type ctxEnd struct {
	err, cause error
	deadline   time.Time
	at         time.Time
}

func (p *ctxProbe) wait(ctx context.Context, block bool) error {
	if !block {
		return nil
	}
	<-ctx.Done()
	dl, _ := ctx.Deadline()
	p.ended <- ctxEnd{err: ctx.Err(), cause: context.Cause(ctx), deadline: dl, at: time.Now()}
	return ctx.Err()
}

func (p *ctxProbe) Get(ctx context.Context, key string) (quorum.Record, error) {
	if err := p.wait(ctx, p.blockGet.Load()); err != nil {
		return quorum.Record{}, err
	}
	return p.Replica.Get(ctx, key)
}

func (p *ctxProbe) Put(ctx context.Context, key string, rec quorum.Record) (bool, error) {
	if err := p.wait(ctx, p.blockPut.Load()); err != nil {
		return false, err
	}
	return p.Replica.Put(ctx, key, rec)
}

// TestReplicaContextDeadline: in fake time, a write's straggler that waits
// on its context is ended with DeadlineExceeded three replica timeouts after
// the write began, again and again as operations reuse the client's state;
// a read's calls carry the caller's earlier deadline.
func TestReplicaContextDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		probe := &ctxProbe{Replica: memreplica.New(memreplica.Options{}), ended: make(chan ctxEnd, 8)}
		reps := []quorum.Replica{memreplica.New(memreplica.Options{}), memreplica.New(memreplica.Options{}), probe}
		c, err := quorum.New(reps, quorum.Config{ReplicaTimeout: 100 * time.Millisecond, Hedge: quorum.Hedge{Disabled: true}})
		require.NoError(t, err)
		defer c.Close()
		ctx := context.Background()
		require.NoError(t, c.Put(ctx, "k", []byte("v")))
		// The Put returned on two acknowledgements; its call to the probe
		// may not have run yet, and would block from here on as a fourth
		// call ending at the first round's deadline.
		synctest.Wait()
		probe.blockPut.Store(true)
		for i := range 3 {
			start := time.Now()
			require.NoError(t, c.Put(ctx, "k", []byte{byte(i)}), "W=2 without the probe")
			end := <-probe.ended
			assert.ErrorIs(t, end.err, context.DeadlineExceeded, "round %d", i)
			assert.ErrorIs(t, end.cause, context.DeadlineExceeded)
			assert.Equal(t, start.Add(300*time.Millisecond), end.deadline)
			assert.Equal(t, end.deadline, end.at, "ended at its deadline")
		}

		// A read under a caller deadline shorter than three replica
		// timeouts (R=3, so the probe is asked): its calls carry that
		// deadline.
		probe.blockPut.Store(false)
		probe.blockGet.Store(true)
		all, err := quorum.New(reps, quorum.Config{W: 1, R: 3, ReplicaTimeout: 100 * time.Millisecond})
		require.NoError(t, err)
		defer all.Close()
		dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		want, _ := dctx.Deadline()
		_, err = all.Get(dctx, "k")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		end := <-probe.ended
		assert.Equal(t, want, end.deadline)
		assert.Equal(t, want, end.at)
		assert.ErrorIs(t, end.err, context.DeadlineExceeded)
	})
}
