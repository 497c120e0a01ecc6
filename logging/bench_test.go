package logging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"
)

func BenchmarkEnabledDisabledNoDye(b *testing.B) {
	h := NewHandler(slog.DiscardHandler, nil)
	ctx := WithKey(context.Background(), "bob")
	b.ReportAllocs()
	for b.Loop() {
		_ = h.Enabled(ctx, slog.LevelDebug)
	}
}

func BenchmarkDyeListed1000(b *testing.B) {
	h := NewHandler(slog.DiscardHandler, nil)
	for i := range 1000 {
		h.Dyes().Add(fmt.Sprintf("user-%06d", i), time.Hour)
	}
	for _, key := range []string{"user-000500", "user-999999"} {
		ctx := WithKey(context.Background(), key)
		b.Run(key, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = h.Enabled(ctx, slog.LevelDebug)
			}
		})
	}
}

// BenchmarkSamplerKeep is the sampling decision alone.
func BenchmarkSamplerKeep(b *testing.B) {
	sm := newSampler(&Sampling{})
	now := time.Now().UnixNano()
	b.ReportAllocs()
	for b.Loop() {
		_ = sm.keep(slog.LevelInfo, "request done", now)
	}
}

func BenchmarkRedactScan(b *testing.B) {
	h := NewHandler(slog.DiscardHandler, nil)
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "request done", 0)
	r.AddAttrs(slog.String("user", "alice"), slog.Int("count", 42), slog.Bool("ok", true), slog.Duration("dur", time.Millisecond), slog.String("err", "x"))
	b.ReportAllocs()
	for b.Loop() {
		r2 := r
		h.prepare(&r2, nil)
	}
}

// BenchmarkEnabledFlightDeepContext: a below-level Enabled with
// FlightBytes > 0 on a request without a flight whose context holds ten
// values: the context walk the doc warns about.
func BenchmarkEnabledFlightDeepContext(b *testing.B) {
	type k int
	for _, flight := range []int{0, 1 << 16} {
		h := NewHandler(slog.DiscardHandler, &Options{FlightBytes: flight})
		ctx := WithKey(context.Background(), "bob")
		for i := range 10 {
			ctx = context.WithValue(ctx, k(i), i)
		}
		b.Run(fmt.Sprint("FlightBytes=", flight), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = h.Enabled(ctx, slog.LevelDebug)
			}
		})
	}
}

// BenchmarkSamplerNewWindows: the decision when every record opens a new
// window for its pair (an allocation each), the worst case.
func BenchmarkSamplerNewWindows(b *testing.B) {
	sm := newSampler(&Sampling{Interval: time.Nanosecond})
	now := time.Now().UnixNano()
	b.ReportAllocs()
	for b.Loop() {
		now++
		_ = sm.keep(slog.LevelInfo, "request done", now)
	}
}

// BenchmarkKeep: freezing a record into a flight buffer entry: the
// benchmark line, and one with a map logged with slog.Any.
func BenchmarkKeep(b *testing.B) {
	h := NewHandler(slog.NewJSONHandler(io.Discard, nil), nil)
	line := slog.NewRecord(time.Now(), slog.LevelDebug, "request done", 0)
	line.AddAttrs(slog.String("user", "alice"), slog.Int("count", 42), slog.Bool("ok", true), slog.Duration("dur", time.Millisecond), slog.Any("err", errors.New("upstream timeout")))
	withMap := line.Clone()
	withMap.AddAttrs(slog.Any("hdr", map[string][]string{"Accept": {"*/*"}, "X-User": {"alice"}}))
	for name, r := range map[string]slog.Record{"line": line, "line+map": withMap} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var k keptRecord
			for b.Loop() {
				keep(&k, h, &r, h.c.flightMode, true, 0)
			}
		})
	}
}
