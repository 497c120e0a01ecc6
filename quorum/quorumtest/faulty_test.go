package quorumtest

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
)

// sleepLog is an injected After that fires at once and records what it was
// asked to wait; with block set it never fires.
type sleepLog struct {
	mu      sync.Mutex
	slept   []time.Duration
	block   bool
	onAfter func() // runs at each wait, e.g. to cancel the caller
}

func (s *sleepLog) after(d time.Duration) <-chan time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slept = append(s.slept, d)
	if s.onAfter != nil {
		s.onAfter()
	}
	ch := make(chan time.Time, 1)
	if !s.block {
		ch <- time.Time{}
	}
	return ch
}

func TestSetFaultsValidates(t *testing.T) {
	cases := []struct {
		name string
		f    Faults
		ok   bool
	}{
		{"zero", Faults{}, true},
		{"full", Faults{Latency: time.Millisecond, Jitter: 1, TailP: 1, TailDelay: time.Second, ReplyDelayP: 0.5, ErrorP: 0, LostReplyP: 1}, true},
		{"negative latency", Faults{Latency: -1}, false},
		{"huge tail", Faults{TailDelay: time.Hour}, false},
		{"negative jitter", Faults{Jitter: -time.Second}, false},
		{"p above one", Faults{TailP: 1.5}, false},
		{"p negative", Faults{ErrorP: -0.1}, false},
		{"p NaN", Faults{LostReplyP: math.NaN()}, false},
		{"reply p inf", Faults{ReplyDelayP: math.Inf(1)}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := Wrap(newRef(), Options{})
			err := f.SetFaults(tc.f)
			if tc.ok {
				require.NoError(t, err)
				assert.Equal(t, tc.f, f.Faults())
				return
			}
			require.Error(t, err)
			assert.Equal(t, Faults{}, f.Faults(), "a rejected Faults must change nothing")
		})
	}
}

func TestFaultyDown(t *testing.T) {
	ctx := context.Background()
	inner := newRef()
	f := Wrap(inner, Options{Name: "r1", ReportHealth: true})
	f.SetDown(true)
	assert.False(t, f.Healthy())
	_, err := f.Put(ctx, "k", rec("a", v(1, 0)))
	require.ErrorIs(t, err, ErrDown)
	assert.Contains(t, err.Error(), "r1")
	_, err = f.Get(ctx, "k")
	require.ErrorIs(t, err, ErrDown)
	assert.Empty(t, inner.m, "a call to a down replica must not reach it")

	f.SetDown(false)
	assert.True(t, f.Healthy())
	stored, err := f.Put(ctx, "k", rec("a", v(1, 0)))
	require.NoError(t, err)
	assert.True(t, stored)
	st := f.Stats()
	assert.Equal(t, Stats{Gets: 1, Puts: 2, Stored: 1, Failed: 2}, st)
}

func TestFaultyErrorsBeforeAndAfterApply(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	t.Run("error before apply", func(t *testing.T) {
		inner := newRef()
		f := Wrap(inner, Options{})
		require.NoError(t, f.SetFaults(Faults{ErrorP: 1, Err: boom}))
		_, err := f.Put(ctx, "k", rec("a", v(1, 0)))
		require.ErrorIs(t, err, boom)
		assert.Empty(t, inner.m, "ErrorP fails calls before they reach the replica")
	})
	t.Run("lost reply", func(t *testing.T) {
		inner := newRef()
		f := Wrap(inner, Options{})
		require.NoError(t, f.SetFaults(Faults{LostReplyP: 1}))
		_, err := f.Put(ctx, "k", rec("a", v(1, 0)))
		require.ErrorIs(t, err, ErrInjected)
		assert.Equal(t, v(1, 0), inner.m["k"].Version, "a lost reply still applies the put")
		assert.Equal(t, int64(1), f.Stats().Stored)
	})
}

func TestFaultyDelays(t *testing.T) {
	ctx := context.Background()
	s := &sleepLog{}
	f := Wrap(newRef(), Options{After: s.after})
	require.NoError(t, f.SetFaults(Faults{Latency: 2 * time.Millisecond, TailP: 1, TailDelay: 50 * time.Millisecond}))
	_, err := f.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, []time.Duration{52 * time.Millisecond}, s.slept)
	assert.Equal(t, int64(1), f.Stats().Delayed)
}

func TestFaultyTailShare(t *testing.T) {
	ctx := context.Background()
	s := &sleepLog{}
	f := Wrap(newRef(), Options{Seed: 7, After: s.after})
	require.NoError(t, f.SetFaults(Faults{TailP: 0.1, TailDelay: 50 * time.Millisecond}))
	const calls = 10000
	for range calls {
		_, err := f.Get(ctx, "k")
		require.NoError(t, err)
	}
	// Binomial(10000, 0.1): mean 1000, sd 30.
	assert.InDelta(t, 1000, len(s.slept), 150, "tail calls out of %d", calls)
}

func TestFaultySeedIsDeterministic(t *testing.T) {
	ctx := context.Background()
	run := func(seed uint64) []time.Duration {
		s := &sleepLog{}
		f := Wrap(newRef(), Options{Seed: seed, After: s.after})
		require.NoError(t, f.SetFaults(Faults{Jitter: time.Millisecond, TailP: 0.3, TailDelay: time.Second}))
		for range 200 {
			_, err := f.Get(ctx, "k")
			require.NoError(t, err)
		}
		return s.slept
	}
	a, b, c := run(1), run(1), run(2)
	assert.Equal(t, a, b, "same seed, same faults")
	assert.NotEqual(t, a, c, "different seeds, different faults")
}

func TestFaultyCancelledDelay(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name        string
		replyP      float64
		wantApplied bool
	}{
		{"slow request is never applied", 0, false},
		{"slow reply was applied", 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := newRef()
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			s := &sleepLog{block: true, onAfter: cancel} // the caller gives up while waiting
			f := Wrap(inner, Options{After: s.after})
			require.NoError(t, f.SetFaults(Faults{Latency: time.Second, ReplyDelayP: tc.replyP}))
			_, err := f.Put(cctx, "k", rec("a", v(1, 0)))
			require.ErrorIs(t, err, context.Canceled)
			_, applied := inner.m["k"]
			assert.Equal(t, tc.wantApplied, applied)
		})
	}
}

func TestFaultyPauseBlocksUntilResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		inner := newRef()
		f := Wrap(inner, Options{ReportHealth: true})
		f.Pause()
		f.Pause() // idempotent
		assert.False(t, f.Healthy())
		done := make(chan error, 1)
		go func() {
			_, err := f.Put(ctx, "k", rec("a", v(1, 0)))
			done <- err
		}()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("put returned %v while paused", err)
		default:
		}
		assert.Empty(t, inner.m)
		f.Resume()
		require.NoError(t, <-done)
		assert.Equal(t, v(1, 0), inner.m["k"].Version)
		assert.Equal(t, int64(1), f.Stats().Paused)
	})
}

func TestFaultyPauseHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner := newRef()
		f := Wrap(inner, Options{})
		f.Pause()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		_, err := f.Put(ctx, "k", rec("a", v(1, 0)))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		f.Resume()
		assert.Empty(t, inner.m, "a put abandoned while paused is not applied")
	})
}

func TestFaultyCrashAndRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		inner := newRef()
		f := Wrap(inner, Options{Name: "r2", ReportHealth: true})
		_, err := f.Put(ctx, "k", rec("kept", v(1, 0)))
		require.NoError(t, err)

		// A call in flight (here: waiting out a slow request) fails when
		// the replica crashes.
		require.NoError(t, f.SetFaults(Faults{Latency: time.Hour / 120}))
		done := make(chan error, 1)
		go func() {
			_, err := f.Get(ctx, "k")
			done <- err
		}()
		synctest.Wait()
		f.Crash()
		f.Crash() // idempotent
		err = <-done
		require.ErrorIs(t, err, ErrCrashed)
		assert.Contains(t, err.Error(), "r2")

		_, err = f.Put(ctx, "k", rec("lost", v(2, 0)))
		require.ErrorIs(t, err, ErrCrashed)
		assert.False(t, f.Healthy())

		f.Restart()
		require.NoError(t, f.SetFaults(Faults{}))
		got, err := f.Get(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, rec("kept", v(1, 0)), got, "a restart keeps durable data")
		assert.True(t, f.Healthy())
	})
}

func TestFaultyCrashDuringSlowReply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		inner := newRef()
		f := Wrap(inner, Options{})
		require.NoError(t, f.SetFaults(Faults{Latency: time.Second, ReplyDelayP: 1}))
		done := make(chan error, 1)
		go func() {
			_, err := f.Put(ctx, "k", rec("a", v(1, 0)))
			done <- err
		}()
		synctest.Wait()
		f.Crash()
		require.ErrorIs(t, <-done, ErrCrashed)
		assert.Equal(t, v(1, 0), inner.m["k"].Version, "the put was applied before the crash; only its reply was lost")
	})
}

func TestFaultyDataLoss(t *testing.T) {
	ctx := context.Background()
	inner := newRef()
	f := Wrap(inner, Options{})
	for i, k := range []string{"a", "b"} {
		_, err := f.Put(ctx, k, rec(k, v(uint64(10+i), 0)))
		require.NoError(t, err)
	}
	f.Forget("a")
	got, err := f.Get(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, quorum.Record{}, got, "a forgotten key reads as missing")
	got, err = f.Get(ctx, "b")
	require.NoError(t, err)
	assert.Equal(t, rec("b", v(11, 0)), got, "other keys are kept")

	// The forgetful replica accepts a version older than the one it lost.
	stored, err := f.Put(ctx, "a", rec("older", v(3, 0)))
	require.NoError(t, err)
	assert.True(t, stored)
	got, err = f.Get(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, rec("older", v(3, 0)), got)

	f.Wipe()
	for _, k := range []string{"a", "b", "c"} {
		got, err := f.Get(ctx, k)
		require.NoError(t, err)
		assert.Equal(t, quorum.Record{}, got, "key %q after wipe", k)
	}
}

type zonedRef struct{ *refReplica }

func (zonedRef) Zone() string { return "inner-zone" }

func TestFaultyZoneHealthVersion(t *testing.T) {
	ctx := context.Background()
	assert.Equal(t, "inner-zone", Wrap(zonedRef{newRef()}, Options{}).Zone())
	assert.Equal(t, "mine", Wrap(zonedRef{newRef()}, Options{Zone: "mine"}).Zone())
	assert.Empty(t, Wrap(newRef(), Options{}).Zone())

	quiet := Wrap(newRef(), Options{})
	quiet.SetDown(true)
	quiet.Crash()
	assert.True(t, quiet.Healthy(), "without ReportHealth the client is not told")

	f := Wrap(newRef(), Options{})
	ver, err := f.Version(ctx, "k")
	require.NoError(t, err)
	assert.True(t, ver.IsZero())
	_, err = f.Put(ctx, "k", rec("a", v(3, 4)))
	require.NoError(t, err)
	ver, err = f.Version(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, v(3, 4), ver)
	f.Forget("k")
	ver, err = f.Version(ctx, "k")
	require.NoError(t, err)
	assert.True(t, ver.IsZero())
	f.SetDown(true)
	_, err = f.Version(ctx, "k")
	require.ErrorIs(t, err, ErrDown)
}

func TestFaultyNilInputs(t *testing.T) {
	f := Wrap(nil, Options{})
	_, err := f.Get(context.Background(), "k")
	require.ErrorIs(t, err, ErrNilReplica)
	_, err = f.Put(context.Background(), "k", quorum.Record{})
	require.ErrorIs(t, err, ErrNilReplica)
	_, err = f.Version(context.Background(), "k")
	require.ErrorIs(t, err, ErrNilReplica)

	g := Wrap(newRef(), Options{})
	require.NoError(t, g.SetFaults(Faults{Latency: time.Microsecond}))
	var nilCtx context.Context // nil on purpose: a nil ctx must not panic
	_, err = g.Put(nilCtx, "k", rec("a", v(1, 0)))
	require.NoError(t, err)
	got, err := g.Get(nilCtx, "k")
	require.NoError(t, err)
	assert.Equal(t, "a", string(got.Value))
}

// TestFaultyConcurrentChaos toggles every fault while many callers run, for
// the race detector, and checks that calls only fail with the kit's errors.
func TestFaultyConcurrentChaos(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := Wrap(newRef(), Options{Seed: 3})
		require.NoError(t, f.SetFaults(Faults{Jitter: time.Millisecond, TailP: 0.2, TailDelay: 5 * time.Millisecond, ReplyDelayP: 0.5, ErrorP: 0.05, LostReplyP: 0.05}))
		done := make(chan struct{})
		var callers sync.WaitGroup
		for c := range 8 {
			callers.Go(func() {
				for i := range 300 {
					ctx, cancel := context.WithTimeout(context.Background(), 3*time.Millisecond)
					var err error
					if i%2 == 0 {
						_, err = f.Put(ctx, "k", rec("x", v(uint64(i), uint64(c))))
					} else {
						_, err = f.Get(ctx, "k")
					}
					cancel()
					if err != nil && !errors.Is(err, ErrInjected) && !errors.Is(err, ErrCrashed) &&
						!errors.Is(err, ErrDown) && !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("unexpected error %v", err)
					}
				}
			})
		}
		var nemesis sync.WaitGroup
		nemesis.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				case <-time.After(time.Millisecond):
				}
				switch i % 5 {
				case 0:
					f.Pause()
				case 1:
					f.Resume()
				case 2:
					f.Crash()
				case 3:
					f.Restart()
					f.Forget("k")
				case 4:
					f.SetDown(i%2 == 0)
				}
			}
		})
		callers.Wait()
		close(done)
		nemesis.Wait()
		f.Resume()
		st := f.Stats()
		assert.Equal(t, int64(8*300), st.Gets+st.Puts)
		assert.Positive(t, st.Failed)
		assert.Positive(t, st.Stored)
	})
}
