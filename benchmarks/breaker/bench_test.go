// Package breaker holds the side-by-side benchmarks and behaviour runs of
// bulwark/breaker against sony/gobreaker v2.4.0 and failsafe-go v0.9.8; see
// RESULTS.md.
package breaker

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/bulwark-go/bulwark/breaker"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/sony/gobreaker/v2"
)

//go:noinline
func work() (int, error) { return 1, nil }

func workCtx(context.Context) (int, error) { return work() }

// BenchmarkExecute is the closed-state success path of each library, one
// goroutine and under RunParallel.
func BenchmarkExecute(b *testing.B) {
	ctx := context.Background()
	bw, _ := breaker.New[int](breaker.Config{})
	gb := gobreaker.NewCircuitBreaker[int](gobreaker.Settings{})
	fcb := circuitbreaker.NewWithDefaults[int]()
	fx := failsafe.With[int](fcb)
	run := func(name string, f func()) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f()
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					f()
				}
			})
		})
	}
	run("bulwark", func() { _, _ = bw.Execute(ctx, workCtx) })
	run("gobreaker", func() { _, _ = gb.Execute(work) })
	run("failsafe", func() { _, _ = fx.Get(work) })
	run("failsafe-permit", func() {
		if fcb.TryAcquirePermit() {
			_, err := work()
			fcb.RecordError(err)
		}
	})
}

// BenchmarkGroupExecute spreads calls over 10,000 kept keys, against a
// single Bulwark breaker in the same run.
func BenchmarkGroupExecute(b *testing.B) {
	ctx := context.Background()
	g, _ := breaker.NewGroup[int](breaker.GroupConfig{})
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = "host-" + strconv.Itoa(i) + ":443"
		_, _ = g.Execute(ctx, keys[i], workCtx)
	}
	single, _ := breaker.New[int](breaker.Config{})
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = single.Execute(ctx, workCtx)
		}
	})
	b.Run("group-10k", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_, _ = g.Execute(ctx, keys[i], workCtx)
			i++
			if i == len(keys) {
				i = 0
			}
		}
	})
	b.Run("single/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = single.Execute(ctx, workCtx)
			}
		})
	})
	b.Run("group-10k/parallel", func(b *testing.B) {
		b.ReportAllocs()
		var seq atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(seq.Add(1)) * 7919 % len(keys)
			for pb.Next() {
				_, _ = g.Execute(ctx, keys[i], workCtx)
				i++
				if i == len(keys) {
					i = 0
				}
			}
		})
	})
}

// BenchmarkThrottle is Allow + Record of an accepted request.
func BenchmarkThrottle(b *testing.B) {
	th, _ := breaker.NewThrottle(breaker.ThrottleConfig{})
	b.Run("allow+record", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if th.Allow() {
				th.Record(true)
			}
		}
	})
	b.Run("allow+record/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if th.Allow() {
					th.Record(true)
				}
			}
		})
	})
}

// BenchmarkGroupNewKeyWhenFull is the cost of a call to a new key when all
// 10,000 breakers of the table are open (a partition): the sweep examines
// at most 32 of them and the key gets an overflow breaker. Against it, a
// call to a known open key (a refusal) in the same run.
func BenchmarkGroupNewKeyWhenFull(b *testing.B) {
	ctx := context.Background()
	g, _ := breaker.NewGroup[int](breaker.GroupConfig{})
	fail := func(context.Context) (int, error) { return 0, errDep }
	for i := range breaker.DefaultMaxKeys {
		for range 5 {
			_, _ = g.Execute(ctx, "dead-"+strconv.Itoa(i), fail)
		}
	}
	keys := make([]string, 100_000)
	for i := range keys {
		keys[i] = "new-" + strconv.Itoa(i)
	}
	b.Run("known-open-key", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = g.Execute(ctx, "dead-1", workCtx)
		}
	})
	b.Run("new-key", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_, _ = g.Execute(ctx, keys[i%len(keys)], workCtx)
			i++
		}
	})
}
