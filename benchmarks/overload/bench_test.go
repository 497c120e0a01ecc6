// Package overload holds the side-by-side benchmarks of bulwark/overload
// against the peers a user would pick instead. The load experiment is in
// ./cmd/experiment; see the overload section of BENCHMARKS.md.
package overload

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/overload"
	"github.com/platinummonkey/go-concurrency-limits/core"
	"github.com/platinummonkey/go-concurrency-limits/limit"
	"github.com/platinummonkey/go-concurrency-limits/limiter"
	"github.com/platinummonkey/go-concurrency-limits/strategy"
	"golang.org/x/time/rate"
)

// shedController returns a Controller whose level sheds business class 3,
// driven there through its public API (Admit and ObserveQueueTime with a
// fake clock).
func shedController(b *testing.B) *overload.Controller {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	c, err := overload.New(overload.Config{Clock: clk, WindowRequests: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	for range 60 {
		for i := range 100 {
			for cls := range 4 {
				if c.Admit(overload.Priority{Business: uint8(cls), User: uint8(i)}) == nil {
					c.ObserveQueueTime(50 * time.Millisecond)
				}
			}
		}
		clk.t = clk.t.Add(time.Second)
		if c.Level().Business < 3 {
			break
		}
	}
	if c.Admit(overload.Priority{Business: 3, User: 99}) == nil {
		b.Fatal("level did not close")
	}
	return c
}

type fakeClock struct{ t time.Time }

func (f *fakeClock) Now() time.Time { return f.t }

// BenchmarkAdmit: Acquire+Release of an admitted request (a free slot).
func BenchmarkAdmit(b *testing.B) {
	ctx := context.Background()
	b.Run("bulwark", func(b *testing.B) {
		c, err := overload.New(overload.Config{MaxConcurrency: 8})
		if err != nil {
			b.Fatal(err)
		}
		p := overload.Priority{Business: 1, User: 7}
		b.ReportAllocs()
		for b.Loop() {
			permit, err := c.Acquire(ctx, p)
			if err != nil {
				b.Fatal(err)
			}
			permit.Release()
		}
	})
	b.Run("go-concurrency-limits", func(b *testing.B) {
		l, err := limiter.NewDefaultLimiterWithDefaults("bench",
			strategy.NewSimpleStrategy(8), limit.NoopLimitLogger{}, core.EmptyMetricRegistryInstance)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			lis, ok := l.Acquire(ctx)
			if !ok {
				b.Fatal("rejected")
			}
			lis.OnSuccess()
		}
	})
	b.Run("x-time-rate", func(b *testing.B) {
		lim := rate.NewLimiter(rate.Inf, 1)
		b.ReportAllocs()
		for b.Loop() {
			if !lim.Allow() {
				b.Fatal("rejected")
			}
		}
	})
}

// BenchmarkAdmitParallel: the same under contention from all Ps.
func BenchmarkAdmitParallel(b *testing.B) {
	ctx := context.Background()
	b.Run("bulwark", func(b *testing.B) {
		c, err := overload.New(overload.Config{MaxConcurrency: 1 << 20})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			p := overload.Priority{Business: 1, User: 7}
			for pb.Next() {
				permit, err := c.Acquire(ctx, p)
				if err != nil {
					b.Fatal(err)
				}
				permit.Release()
			}
		})
	})
	b.Run("go-concurrency-limits", func(b *testing.B) {
		l, err := limiter.NewDefaultLimiterWithDefaults("bench",
			strategy.NewSimpleStrategy(1<<20), limit.NoopLimitLogger{}, core.EmptyMetricRegistryInstance)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if lis, ok := l.Acquire(ctx); ok {
					lis.OnSuccess()
				}
			}
		})
	})
}

// BenchmarkShed: a refusal. Bulwark's is a priority below the level; the
// peers' is a full limit (go-concurrency-limits) or an empty bucket
// (x/time/rate), their equivalent outcome.
func BenchmarkShed(b *testing.B) {
	ctx := context.Background()
	b.Run("bulwark", func(b *testing.B) {
		c := shedController(b)
		p := overload.Priority{Business: 3, User: 99}
		// Measure a refusal for the level itself (ReasonLevel), not a
		// queue-full one: check the first and the last.
		check := func() {
			_, err := c.Acquire(ctx, p)
			var se *overload.ShedError
			if !errors.As(err, &se) || se.Reason != overload.ReasonLevel {
				b.Fatalf("not a level refusal: %v", err)
			}
		}
		check()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Acquire(ctx, p); err == nil {
				b.Fatal("admitted")
			}
		}
		check()
	})
	b.Run("go-concurrency-limits", func(b *testing.B) {
		l, err := limiter.NewDefaultLimiter(limit.NewFixedLimit("bench", 1, nil), int64(time.Second), int64(time.Second),
			int64(100*time.Microsecond), 100, strategy.NewSimpleStrategy(1), limit.NoopLimitLogger{}, core.EmptyMetricRegistryInstance)
		if err != nil {
			b.Fatal(err)
		}
		held, ok := l.Acquire(ctx)
		if !ok {
			b.Fatal("first acquire rejected")
		}
		defer held.OnIgnore()
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := l.Acquire(ctx); ok {
				b.Fatal("admitted")
			}
		}
	})
	b.Run("x-time-rate", func(b *testing.B) {
		lim := rate.NewLimiter(rate.Every(time.Hour), 1)
		lim.Allow()
		b.ReportAllocs()
		for b.Loop() {
			if lim.Allow() {
				b.Fatal("admitted")
			}
		}
	})
}

// BenchmarkGateAllow: the client-side check before sending.
func BenchmarkGateAllow(b *testing.B) {
	g, err := overload.NewGate(overload.GateConfig{})
	if err != nil {
		b.Fatal(err)
	}
	g.Observe("svc", overload.Level{Business: 2, User: 0})
	p := overload.Priority{Business: 1}
	b.ReportAllocs()
	for b.Loop() {
		if g.Allow("svc", p) != nil {
			b.Fatal("shed")
		}
	}
}

// BenchmarkUserPriority: the keyed hourly hash.
func BenchmarkUserPriority(b *testing.B) {
	t := time.Unix(1_700_000_000, 0)
	b.ReportAllocs()
	for b.Loop() {
		_ = overload.UserPriority("user-1234567", t)
	}
}
