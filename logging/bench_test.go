package logging

import (
	"context"
	"fmt"
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
