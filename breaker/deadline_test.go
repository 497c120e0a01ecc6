package breaker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// hang is a dependency that never answers: it returns when its context ends.
func hang(ctx context.Context) (int, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}

// TestCallerDeadlineOpensBreaker: a hanging dependency under the caller's
// deadline opens the breaker through every entry point (Execute, Allow,
// ExecuteFallback, Group.Execute, Group.Allow), as it does through
// RoundTripper; the caller's cancellation does not.
func TestCallerDeadlineOpensBreaker(t *testing.T) {
	entries := map[string]func(b *Breaker[int], g *Group[int], ctx context.Context) error{
		"Execute": func(b *Breaker[int], _ *Group[int], ctx context.Context) error {
			_, err := b.Execute(ctx, hang)
			return err
		},
		"Allow": func(b *Breaker[int], _ *Group[int], ctx context.Context) error {
			done, err := b.Allow(ctx)
			if err != nil {
				return err
			}
			_, err = hang(ctx)
			done(err)
			return err
		},
		"ExecuteFallback": func(b *Breaker[int], _ *Group[int], ctx context.Context) error {
			_, err := b.ExecuteFallback(ctx, hang, func(_ context.Context, err error) (int, error) { return 0, err })
			return err
		},
		"Group.Execute": func(_ *Breaker[int], g *Group[int], ctx context.Context) error {
			_, err := g.Execute(ctx, "h", hang)
			return err
		},
	}
	for name, call := range entries {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, err := New[int](Config{Name: "h"})
				require.NoError(t, err)
				g, err := NewGroup[int](GroupConfig{})
				require.NoError(t, err)
				state := func() State {
					if name[0] == 'G' {
						return g.State("h")
					}
					return b.State()
				}
				for i := range 5 {
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
					err := call(b, g, ctx)
					cancel()
					require.ErrorIs(t, err, context.DeadlineExceeded, "call %d", i)
				}
				require.Equal(t, StateOpen, state(), "5 calls ran into the caller's deadline")

				// The caller's cancellation is not the dependency's fault.
				b, _ = New[int](Config{Name: "h"})
				g, _ = NewGroup[int](GroupConfig{})
				for range 10 {
					ctx, cancel := context.WithCancel(context.Background())
					time.AfterFunc(time.Millisecond, cancel)
					_ = call(b, g, ctx)
					cancel()
				}
				require.Equal(t, StateClosed, state())
			})
		})
	}
}

// TestDeadlineOptOut: IsExcluded matching context.DeadlineExceeded keeps
// the caller's deadline out of the counts.
func TestDeadlineOptOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, err := New[int](Config{IsExcluded: func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }})
		require.NoError(t, err)
		for range 10 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			_, _ = b.Execute(ctx, hang)
			cancel()
		}
		c := b.Counts()
		require.Equal(t, StateClosed, b.State())
		require.Equal(t, uint32(10), c.Excluded)
		require.Zero(t, c.Failures)
	})
}

// TestDeadlineRuleGenerative drives random schedules of calls, each ending
// in a random way (success, the dependency's error, the caller's deadline
// while it hangs, the caller's cancellation, with or without causes) with
// random durations, through a random entry point, with or without the
// IsExcluded opt-out and SlowCall, and checks every call's booking against
// the rule: a deadline is a failure (slow when it ran longer than SlowCall)
// unless IsExcluded takes it; a cancellation is excluded and never slow.
func TestDeadlineRuleGenerative(t *testing.T) {
	for seed := range uint64(12) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { deadlineRun(t, seed) })
		})
	}
}

func deadlineRun(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 17))
	optOut := rng.IntN(3) == 0
	slowCall := []time.Duration{0, 5 * time.Millisecond, 50 * time.Millisecond}[rng.IntN(3)]
	cfg := Config{Trip: Any(), SlowCall: slowCall, Timeout: time.Hour}
	if optOut {
		cfg.IsExcluded = func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }
	}
	b, err := New[int](cfg)
	require.NoError(t, err)
	g, err := NewGroup[int](GroupConfig{Breaker: cfg})
	require.NoError(t, err)
	for i := range 200 {
		d := time.Duration(rng.IntN(20)) * time.Millisecond
		kind := rng.IntN(6)
		var ctx context.Context
		var cancel func()
		var fn func(context.Context) (int, error)
		want := 's'
		switch kind {
		case 0: // success after d
			ctx, cancel = context.WithCancel(context.Background())
			fn = func(context.Context) (int, error) { time.Sleep(d); return 1, nil }
		case 1: // the dependency's error after d
			ctx, cancel = context.WithCancel(context.Background())
			fn = func(context.Context) (int, error) { time.Sleep(d); return 0, errBoom }
			want = 'f'
		case 2, 3: // hangs until the caller's deadline d+1ms (kind 3: with a cause, fn returns the cause)
			want = 'f'
			if kind == 2 {
				ctx, cancel = context.WithTimeout(context.Background(), d+time.Millisecond)
				fn = hang
				if optOut {
					want = 'e'
				}
			} else {
				ctx, cancel = context.WithTimeoutCause(context.Background(), d+time.Millisecond, errShutdown)
				fn = func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, context.Cause(ctx) }
			}
		case 4, 5: // the caller cancels after d (at least 1ms; kind 5: with a cause)
			d = max(d, time.Millisecond)
			want = 'e'
			var cc context.CancelCauseFunc
			ctx, cc = context.WithCancelCause(context.Background())
			cancel = func() { cc(nil) }
			cause := error(nil)
			if kind == 5 {
				cause = errShutdown
			}
			time.AfterFunc(d, func() { cc(cause) })
			fn = func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, context.Cause(ctx) }
		}
		took := d
		if kind == 2 || kind == 3 {
			took = d + time.Millisecond
		}
		slow := slowCall > 0 && took > slowCall && want != 'e'
		entry := rng.IntN(4)
		before := countsOf(b, g, entry)
		switch entry {
		case 0:
			_, _ = b.Execute(ctx, fn)
		case 1:
			done, err := b.Allow(ctx)
			require.NoError(t, err)
			_, ferr := fn(ctx)
			done(ferr)
		case 2:
			_, _ = g.Execute(ctx, "k", fn)
		case 3:
			done, err := g.Allow(ctx, "k")
			require.NoError(t, err)
			_, ferr := fn(ctx)
			done(ferr)
		}
		cancel()
		after := countsOf(b, g, entry)
		what := fmt.Sprintf("call %d: kind %d entry %d d %v optOut %v slowCall %v", i, kind, entry, d, optOut, slowCall)
		got := map[rune]uint32{
			's': after.Successes - before.Successes,
			'f': after.Failures - before.Failures,
			'e': after.Excluded - before.Excluded,
		}
		require.Equal(t, uint32(1), got[want], "%s: want %c, got %v", what, want, got)
		require.Equal(t, uint32(1), got['s']+got['f']+got['e'], what)
		wantSlow := uint32(0)
		if slow {
			wantSlow = 1
		}
		require.Equal(t, wantSlow, after.Slow-before.Slow, what)
	}
}

func countsOf(b *Breaker[int], g *Group[int], entry int) Counts {
	if entry >= 2 {
		return g.Counts("k")
	}
	return b.Counts()
}

// TestRoundTripperDeadlineFollowsTheRule: through RoundTripper too, a
// request that runs into its deadline is a failure, and IsExcluded
// matching context.DeadlineExceeded opts out.
func TestRoundTripperDeadlineFollowsTheRule(t *testing.T) {
	for _, optOut := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			cfg := Config{}
			if optOut {
				cfg.IsExcluded = func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }
			}
			g, err := NewGroup[*http.Response](GroupConfig{Breaker: cfg})
			require.NoError(t, err)
			ft := &fakeTransport{next: func(req *http.Request) (int, error) {
				<-req.Context().Done()
				return 0, context.Cause(req.Context())
			}}
			rt := RoundTripper(g, ft)
			for range 10 {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
				req, _ := http.NewRequestWithContext(ctx, "GET", "http://hung.example/", nil)
				_, _ = rt.RoundTrip(req)
				cancel()
			}
			if optOut {
				require.Equal(t, StateClosed, g.State("hung.example"))
				require.Equal(t, uint32(10), g.Counts("hung.example").Excluded)
			} else {
				require.Equal(t, StateOpen, g.State("hung.example"))
				require.Equal(t, int64(5), ft.calls.Load(), "the breaker opened after 5 timeouts")
			}
		})
	}
}
