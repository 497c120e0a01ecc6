package breaker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// cancelCase is one way a caller's context ends (or does not).
type cancelCase struct {
	name string
	// mk returns the context for the call and a func that ends it from
	// inside fn (nil: the caller's context stays live).
	mk func(rng *rand.Rand) (ctx context.Context, end func(), cleanup func())
}

var errShutdown = errors.New("shutting down")

var cancelCases = []cancelCase{
	{"live", func(*rand.Rand) (context.Context, func(), func()) { return context.Background(), nil, func() {} }},
	{"cancel", func(*rand.Rand) (context.Context, func(), func()) {
		ctx, cancel := context.WithCancel(context.Background())
		return ctx, cancel, cancel
	}},
	{"cancel-cause", func(*rand.Rand) (context.Context, func(), func()) {
		ctx, cancel := context.WithCancelCause(context.Background())
		return ctx, func() { cancel(errShutdown) }, func() { cancel(nil) }
	}},
	{"errgroup-sibling", func(rng *rand.Rand) (context.Context, func(), func()) {
		// errgroup.WithContext: the group's context is cancelled with the
		// first sibling's error as the cause; the call runs on a child.
		gctx, cancel := context.WithCancelCause(context.Background())
		ctx, stop := context.WithCancel(gctx)
		sibling := fmt.Errorf("sibling %d failed", rng.IntN(100))
		return ctx, func() { cancel(sibling) }, func() { stop(); cancel(nil) }
	}},
	{"deadline", func(*rand.Rand) (context.Context, func(), func()) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		return ctx, func() { <-ctx.Done() }, cancel
	}},
	{"deadline-cause", func(*rand.Rand) (context.Context, func(), func()) {
		ctx, cancel := context.WithTimeoutCause(context.Background(), time.Second, errors.New("budget spent"))
		return ctx, func() { <-ctx.Done() }, cancel
	}},
	{"after-func-cause", func(*rand.Rand) (context.Context, func(), func()) {
		// A cause set by a parent through context.AfterFunc-style plumbing.
		parent, cancel := context.WithCancelCause(context.Background())
		ctx, stop := context.WithTimeout(parent, time.Hour)
		return ctx, func() { cancel(errShutdown) }, func() { stop(); cancel(nil) }
	}},
}

// returnIdiom is how fn reports the end of its context.
type returnIdiom struct {
	name string
	err  func(ctx context.Context) error
	// fromCaller: the error is derived from the caller's cancellation.
	fromCaller bool
}

var idioms = []returnIdiom{
	{"ctx.Err", func(ctx context.Context) error { return ctx.Err() }, true},
	{"cause", func(ctx context.Context) error { return context.Cause(ctx) }, true},
	{"wrapped-cause", func(ctx context.Context) error { return fmt.Errorf("get /x: %w", context.Cause(ctx)) }, true},
	{"url-error-cause", func(ctx context.Context) error {
		return &url.Error{Op: "Get", URL: "http://h/x", Err: context.Cause(ctx)}
	}, true},
	{"joined", func(ctx context.Context) error { return errors.Join(errors.New("partial"), ctx.Err()) }, true},
	{"own-failure", func(context.Context) error { return errBoom }, false},
	{"nil", func(context.Context) error { return nil }, false},
}

// TestCallerCancellationGenerative: random ways a caller's context ends
// (cancel, cancel with a cause, an errgroup sibling's cause on a parent,
// deadline with and without a cause) crossed with random ways fn reports
// it (ctx.Err, context.Cause, wrapped, inside a *url.Error, joined), through
// Execute and Allow. An error derived from the caller's cancelled context
// is excluded; one derived from its deadline is a failure; fn's own error is a failure whether or not the caller gave up;
// fn's own inner deadline while the caller is live is a failure.
func TestCallerCancellationGenerative(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(23, 1))
		b, err := New[int](Config{Clock: newFakeClock(), Trip: Any()})
		require.NoError(t, err)
		for i := range 600 {
			cc := cancelCases[rng.IntN(len(cancelCases))]
			id := idioms[rng.IntN(len(idioms))]
			ctx, end, cleanup := cc.mk(rng)
			inner := end == nil && rng.IntN(3) == 0 // fn's own per-attempt deadline
			var want byte                           // 's', 'f', 'e'
			fn := func(ctx context.Context) (int, error) {
				if inner {
					ictx, cancel := context.WithTimeout(ctx, time.Millisecond)
					defer cancel()
					<-ictx.Done()
					return 0, fmt.Errorf("attempt: %w", ictx.Err())
				}
				if end != nil {
					end()
				}
				return 0, id.err(ctx)
			}
			switch {
			case inner:
				want = 'f'
			case id.name == "nil" || (end == nil && id.fromCaller): // a live ctx's Err is nil
				want = 's'
				if id.name == "joined" || id.name == "wrapped-cause" || id.name == "url-error-cause" {
					want = 'f' // a non-nil error that does not come from the caller
				}
			case id.fromCaller && (cc.name == "deadline" || cc.name == "deadline-cause"):
				want = 'f' // the caller's deadline ran out: the dependency failed
			case id.fromCaller:
				want = 'e'
			default:
				want = 'f'
			}
			before := b.Counts()
			what := fmt.Sprintf("case %d: %s / %s / inner=%v", i, cc.name, id.name, inner)
			if rng.IntN(2) == 0 {
				_, _ = b.Execute(ctx, fn)
			} else {
				done, err := b.Allow(ctx)
				require.NoError(t, err, what)
				_, ferr := fn(ctx)
				done(ferr)
			}
			cleanup()
			after := b.Counts()
			got := map[byte]uint32{
				's': after.Successes - before.Successes,
				'f': after.Failures - before.Failures,
				'e': after.Excluded - before.Excluded,
			}
			require.Equal(t, uint32(1), got[want], "%s: want %c, got %v", what, want, got)
			require.Equal(t, uint32(1), got['s']+got['f']+got['e'], what)
		}
	})
}
