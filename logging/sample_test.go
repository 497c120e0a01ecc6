package logging

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func effective(s Sampling) (first, there int, iv time.Duration) {
	first, there, iv = 100, 100, time.Second
	if s.First < 0 {
		first = 0
	} else if s.First > 0 {
		first = s.First
	}
	if s.Thereafter < 0 {
		there = 0
	} else if s.Thereafter > 0 {
		there = s.Thereafter
	}
	if s.Interval > 0 {
		iv = s.Interval
	}
	return
}

// TestSamplingModel feeds random streams of (level, message) records at
// random times (some dyed) and compares the kept records and OnDrop totals
// with a direct model of First/Thereafter/Interval.
func TestSamplingModel(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 11))
		s := Sampling{First: rng.IntN(6) - 1, Thereafter: rng.IntN(6) - 1, Interval: time.Duration(rng.IntN(4)) * 250 * time.Millisecond}
		first, there, iv := effective(s)
		drops := map[string]int{}
		s.OnDrop = func(l slog.Level, m string, n int) { drops[fmt.Sprint(l, m)] += n }
		clk := newFakeClock()
		var got []string
		h := NewHandler(idRecorder(&got), &Options{Sampling: &s, Clock: clk, Level: slog.LevelDebug})
		h.Dyes().Add("dyed", 0)
		dyed := WithKey(context.Background(), "dyed")
		type k struct {
			l slog.Level
			m string
			w int64
		}
		counts := map[k]int{}
		wantDrops := map[string]int{}
		var want []string
		levels := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}
		for i := range 1000 {
			clk.Advance(time.Duration(rng.IntN(60)) * time.Millisecond)
			l := levels[rng.IntN(4)]
			m := fmt.Sprintf("m%d", rng.IntN(4))
			id := fmt.Sprint(i)
			ctx := context.Background()
			isDyed := rng.IntN(10) == 0
			if isDyed {
				ctx = dyed
			}
			r := slog.NewRecord(clk.Now(), l, m, 0)
			r.AddAttrs(slog.String("id", id))
			require.NoError(t, h.Handle(ctx, r))
			if l >= slog.LevelError || isDyed {
				want = append(want, id)
				continue
			}
			key := k{l, m, clk.Now().UnixNano() / int64(iv)}
			counts[key]++
			n := counts[key]
			if n <= first || (there > 0 && (n-first)%there == 0) {
				want = append(want, id)
			} else {
				wantDrops[fmt.Sprint(l, m)]++
			}
		}
		require.Equal(t, want, got, "seed %d %+v", seed, s)
		require.Equal(t, wantDrops, drops, "seed %d", seed)
	}
}

// TestSamplingConcurrentExact: with all records in one window, concurrent
// loggers keep exactly First + (n-First)/Thereafter records per message.
func TestSamplingConcurrentExact(t *testing.T) {
	clk := newFakeClock()
	var dropped atomic.Int64
	s := &Sampling{First: 7, Thereafter: 5, Interval: time.Hour, OnDrop: func(_ slog.Level, _ string, n int) { dropped.Add(int64(n)) }}
	var got []string
	h := NewHandler(recorder(&got), &Options{Sampling: s, Clock: clk})
	log := slog.New(h)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				log.Info("same")
			}
		})
	}
	wg.Wait()
	kept := 7 + (4000-7)/5
	require.Len(t, got, kept)
	require.Equal(t, int64(4000-kept), dropped.Load())
}

// TestSamplingOverflowBounded: more distinct messages than the table holds
// share one counter instead of growing memory.
func TestSamplingOverflowBounded(t *testing.T) {
	clk := newFakeClock()
	var got []string
	h := NewHandler(recorder(&got), &Options{Sampling: &Sampling{First: 1, Thereafter: -1, Interval: time.Hour}, Clock: clk})
	for i := range maxSampled + 100 {
		require.NoError(t, h.Handle(context.Background(), slog.NewRecord(clk.Now(), slog.LevelInfo, fmt.Sprint("m", i), 0)))
	}
	require.Len(t, got, maxSampled+1) // each counted pair once, the overflow once
	require.LessOrEqual(t, h.c.sampler.n.Load(), int64(maxSampled))
}
