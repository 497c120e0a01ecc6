// Package logging holds the side-by-side benchmarks of bulwark/logging
// against raw log/slog, zap and zerolog, all logging the same line:
// "request done" with a string, an int, a bool, a duration and an error.
package logging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/logging"
	"github.com/rs/zerolog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

var (
	errBoom = errors.New("upstream timeout")
	dur     = 1500 * time.Microsecond
)

func zapLogger(level zapcore.Level) *zap.Logger {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(io.Discard), level))
}

func dyed1000(h *logging.Handler) {
	for i := range 1000 {
		h.Dyes().Add(fmt.Sprintf("user-%06d", i), time.Hour)
	}
}

// BenchmarkDisabled: Debug on a non-dyed request at level Info.
func BenchmarkDisabled(b *testing.B) {
	ctx := logging.WithKey(context.Background(), "user-999999")
	b.Run("slog", func(b *testing.B) {
		l := slog.New(slog.NewJSONHandler(io.Discard, nil))
		b.ReportAllocs()
		for b.Loop() {
			l.DebugContext(ctx, "request done", "user", "alice", "count", 42, "ok", true, "dur", dur, "err", errBoom)
		}
	})
	b.Run("bulwark", func(b *testing.B) {
		l := logging.New(io.Discard, nil)
		b.ReportAllocs()
		for b.Loop() {
			l.DebugContext(ctx, "request done", "user", "alice", "count", 42, "ok", true, "dur", dur, "err", errBoom)
		}
	})
	b.Run("bulwark-1000dyes", func(b *testing.B) {
		l := logging.New(io.Discard, nil)
		dyed1000(l.Handler().(*logging.Handler))
		b.ReportAllocs()
		for b.Loop() {
			l.DebugContext(ctx, "request done", "user", "alice", "count", 42, "ok", true, "dur", dur, "err", errBoom)
		}
	})
	b.Run("zap", func(b *testing.B) {
		l := zapLogger(zapcore.InfoLevel)
		b.ReportAllocs()
		for b.Loop() {
			l.Debug("request done", zap.String("user", "alice"), zap.Int("count", 42), zap.Bool("ok", true), zap.Duration("dur", dur), zap.Error(errBoom))
		}
	})
	b.Run("zerolog", func(b *testing.B) {
		l := zerolog.New(io.Discard).Level(zerolog.InfoLevel)
		b.ReportAllocs()
		for b.Loop() {
			l.Debug().Str("user", "alice").Int("count", 42).Bool("ok", true).Dur("dur", dur).Err(errBoom).Msg("request done")
		}
	})
}

// BenchmarkInfoJSON: an enabled Info line, JSON to io.Discard.
func BenchmarkInfoJSON(b *testing.B) {
	ctx := context.Background()
	b.Run("slog", func(b *testing.B) {
		l := slog.New(slog.NewJSONHandler(io.Discard, nil))
		b.ReportAllocs()
		for b.Loop() {
			l.InfoContext(ctx, "request done", "user", "alice", "count", 42, "ok", true, "dur", dur, "err", errBoom)
		}
	})
	b.Run("bulwark", func(b *testing.B) {
		l := logging.New(io.Discard, nil)
		b.ReportAllocs()
		for b.Loop() {
			l.InfoContext(ctx, "request done", "user", "alice", "count", 42, "ok", true, "dur", dur, "err", errBoom)
		}
	})
	b.Run("zap", func(b *testing.B) {
		l := zapLogger(zapcore.InfoLevel)
		b.ReportAllocs()
		for b.Loop() {
			l.Info("request done", zap.String("user", "alice"), zap.Int("count", 42), zap.Bool("ok", true), zap.Duration("dur", dur), zap.Error(errBoom))
		}
	})
	b.Run("zerolog", func(b *testing.B) {
		l := zerolog.New(io.Discard).With().Timestamp().Logger()
		b.ReportAllocs()
		for b.Loop() {
			l.Info().Str("user", "alice").Int("count", 42).Bool("ok", true).Dur("dur", dur).Err(errBoom).Msg("request done")
		}
	})
}

// BenchmarkInfoJSONRing: the enabled Info line with RingSize set, which
// keeps each written record (its opaque values frozen as JSON).
func BenchmarkInfoJSONRing(b *testing.B) {
	l := logging.New(io.Discard, &logging.Options{RingSize: 1000})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		l.InfoContext(ctx, "request done", "user", "alice", "count", 42, "ok", true, "dur", dur, "err", errBoom)
	}
}

// BenchmarkSamplingDecision: the sampler's keep/drop on one record,
// through Handle with a discarding next handler (so it includes Handle's
// own checks).
func BenchmarkSamplingDecision(b *testing.B) {
	h := logging.NewHandler(slog.DiscardHandler, &logging.Options{Sampling: &logging.Sampling{}})
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "request done", 0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = h.Handle(ctx, r)
	}
}

// BenchmarkHandleNoSampling is the same call without a sampler, to
// subtract Handle's own cost from BenchmarkSamplingDecision.
func BenchmarkHandleNoSampling(b *testing.B) {
	h := logging.NewHandler(slog.DiscardHandler, nil)
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "request done", 0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = h.Handle(ctx, r)
	}
}

// BenchmarkDyeCheck: Enabled(ctx, Debug) at level Info with 1,000 dyed
// keys, for a dyed and a non-dyed request.
func BenchmarkDyeCheck(b *testing.B) {
	h := logging.NewHandler(slog.DiscardHandler, nil)
	dyed1000(h)
	for _, key := range []string{"user-000500", "user-999999"} {
		ctx := logging.WithKey(context.Background(), key)
		b.Run(key, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = h.Enabled(ctx, slog.LevelDebug)
			}
		})
	}
}

// BenchmarkFlight: a Debug line buffered on a flight request (never
// flushed), against the enabled Info line of the same logger.
func BenchmarkFlight(b *testing.B) {
	for _, per := range []int{32, 1000} {
		b.Run(fmt.Sprintf("buffered-%dperRequest", per), func(b *testing.B) {
			l := logging.New(io.Discard, &logging.Options{FlightBytes: 1 << 20})
			ctx := logging.WithFlight(context.Background())
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i++; i%per == 0 { // a fresh request every per records
					ctx = logging.WithFlight(context.Background())
				}
				l.DebugContext(ctx, "request done", "user", "alice", "count", 42, "ok", true, "dur", dur, "err", errBoom)
			}
		})
	}
	b.Run("buffered-withMap", func(b *testing.B) {
		// The line plus a header map logged with slog.Any, which a kept
		// record formats at log time.
		l := logging.New(io.Discard, &logging.Options{FlightBytes: 1 << 20})
		hdr := map[string][]string{"Accept": {"*/*"}, "X-User": {"alice"}}
		ctx := logging.WithFlight(context.Background())
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i++; i%32 == 0 {
				ctx = logging.WithFlight(context.Background())
			}
			l.DebugContext(ctx, "request done", "user", "alice", "count", 42, "ok", true, "dur", dur, "err", errBoom, "hdr", hdr)
		}
	})
	b.Run("enabled-withMap", func(b *testing.B) {
		l := logging.New(io.Discard, &logging.Options{FlightBytes: 1 << 20})
		hdr := map[string][]string{"Accept": {"*/*"}, "X-User": {"alice"}}
		ctx := logging.WithFlight(context.Background())
		b.ReportAllocs()
		for b.Loop() {
			l.InfoContext(ctx, "request done", "user", "alice", "count", 42, "ok", true, "dur", dur, "err", errBoom, "hdr", hdr)
		}
	})
	b.Run("enabled-line", func(b *testing.B) {
		l := logging.New(io.Discard, &logging.Options{FlightBytes: 1 << 20})
		ctx := logging.WithFlight(context.Background())
		b.ReportAllocs()
		for b.Loop() {
			l.InfoContext(ctx, "request done", "user", "alice", "count", 42, "ok", true, "dur", dur, "err", errBoom)
		}
	})
}
