package quorum_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
	"github.com/bulwark-go/bulwark/quorum/memreplica"
)

// fake is a controllable replica over a memreplica: it can be down (errors
// that say "not stored"), failing after storing (a write that landed but
// reported an error), unhealthy (HealthReporter), slow (time.Sleep, so fake
// time under testing/synctest), or gated (calls wait for the gate to open).
type fake struct {
	mem  *memreplica.Replica
	zone string

	down      atomic.Bool
	landFail  atomic.Bool
	opaque    atomic.Bool // Put fails with an error that does not say "not stored"
	unhealthy atomic.Bool
	delay     atomic.Int64 // ns, every call
	// slowEvery makes every slowEvery-th call (if > 0) take slowExtra more.
	slowEvery atomic.Int64
	slowExtra atomic.Int64
	calls     atomic.Int64

	mu      sync.Mutex
	gate    chan struct{} // nil: open
	entered chan struct{} // receives when a call waits at the closed gate

	gatePutsOnly atomic.Bool // the gate holds back Put calls only
	// swallow makes the gate lose the calls it holds: they wait for their
	// context even after the gate opens (a server that dropped them), so
	// they return up to 3 × ReplicaTimeout after their operation began.
	swallow atomic.Bool

	gets, puts atomic.Int64

	inflight, maxInflight atomic.Int64 // calls inside the replica now, and at most
	held, maxHeld         atomic.Int64 // calls waiting at the closed gate now, and at most
}

type downErr struct{}

func (downErr) Error() string        { return "fake: replica down" }
func (downErr) Is(target error) bool { return target == quorum.ErrNotStored }
func newFake(zone string) *fake {
	return &fake{mem: memreplica.New(memreplica.Options{Zone: zone}), zone: zone, entered: make(chan struct{}, 64)}
}

func (f *fake) Zone() string             { return f.zone }
func (f *fake) Healthy() bool            { return !f.unhealthy.Load() }
func (f *fake) setDelay(d time.Duration) { f.delay.Store(int64(d)) }

// close the gate: calls block until open.
func (f *fake) block() {
	f.mu.Lock()
	if f.gate == nil {
		f.gate = make(chan struct{})
	}
	f.mu.Unlock()
}

func (f *fake) open() {
	f.mu.Lock()
	if f.gate != nil {
		close(f.gate)
		f.gate = nil
	}
	f.mu.Unlock()
}

func (f *fake) wait(ctx context.Context, put bool) error {
	n := f.calls.Add(1)
	in := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	for m := f.maxInflight.Load(); in > m && !f.maxInflight.CompareAndSwap(m, in); m = f.maxInflight.Load() {
	}
	d := time.Duration(f.delay.Load())
	if e := f.slowEvery.Load(); e > 0 && n%e == 0 {
		d += time.Duration(f.slowExtra.Load())
	}
	if d > 0 {
		time.Sleep(d)
	}
	f.mu.Lock()
	g := f.gate
	f.mu.Unlock()
	if g != nil && (put || !f.gatePutsOnly.Load()) {
		select {
		case f.entered <- struct{}{}:
		default:
		}
		h := f.held.Add(1)
		defer f.held.Add(-1)
		for m := f.maxHeld.Load(); h > m && !f.maxHeld.CompareAndSwap(m, h); m = f.maxHeld.Load() {
		}
		if f.swallow.Load() {
			<-ctx.Done()
			return ctx.Err()
		}
		select {
		case <-g:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (f *fake) Get(ctx context.Context, key string) (quorum.Record, error) {
	f.gets.Add(1)
	if err := f.wait(ctx, false); err != nil {
		return quorum.Record{}, err
	}
	if f.down.Load() {
		return quorum.Record{}, downErr{}
	}
	return f.mem.Get(ctx, key)
}

func (f *fake) Put(ctx context.Context, key string, rec quorum.Record) (bool, error) {
	f.puts.Add(1)
	if err := f.wait(ctx, true); err != nil {
		return false, err
	}
	if f.down.Load() {
		return false, downErr{}
	}
	if f.opaque.Load() {
		return false, errors.New("fake: connection reset")
	}
	stored, err := f.mem.Put(ctx, key, rec)
	if err == nil && f.landFail.Load() {
		return stored, errors.New("fake: stored, then the reply was lost")
	}
	return stored, err
}

// stored returns what the replica holds for key, bypassing faults.
func (f *fake) stored(t testing.TB, key string) quorum.Record {
	t.Helper()
	rec, err := f.mem.Get(context.Background(), key)
	require.NoError(t, err)
	return rec
}

func fakes(zones ...string) ([]*fake, []quorum.Replica) {
	fs := make([]*fake, len(zones))
	rs := make([]quorum.Replica, len(zones))
	for i, z := range zones {
		fs[i] = newFake(z)
		rs[i] = fs[i]
	}
	return fs, rs
}

func nFakes(n int) ([]*fake, []quorum.Replica) {
	return fakes(make([]string, n)...)
}

func newClient(t testing.TB, reps []quorum.Replica, cfg quorum.Config) *quorum.Client {
	t.Helper()
	c, err := quorum.New(reps, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}
