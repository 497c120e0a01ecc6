package logging

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
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

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// TestSamplingModel feeds random streams of (level, message) records at
// random times, some dyed, and compares the kept records and OnDrop totals
// with a direct model of First/Thereafter/Interval. Times mostly move
// forward but also step back (out-of-order records, as concurrent loggers
// produce at a window boundary), jump 2^32 windows ahead (a window number
// kept in 32 bits would alias) and jump anywhere, before 1970 included.
// The model: a pair counts in its own window, or in its current one when
// that is later; a new pair starts no earlier than the window before the
// latest one seen.
func TestSamplingModel(t *testing.T) {
	ivs := []time.Duration{0, time.Nanosecond, time.Microsecond, time.Millisecond, 250 * time.Millisecond, 3 * time.Second}
	type pair struct {
		l slog.Level
		m string
	}
	msgs := []string{"m0", "m1", "m2", "m3"}
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
	}
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 11))
		s := Sampling{First: rng.IntN(6) - 1, Thereafter: rng.IntN(6) - 1, Interval: ivs[rng.IntN(len(ivs))]}
		first, there, iv := effective(s)
		drops := map[pair]int{}
		s.OnDrop = func(l slog.Level, m string, n int) { drops[pair{l, m}] += n }
		var got []string
		h := NewHandler(idRecorder(&got), &Options{Sampling: &s, Level: slog.LevelDebug})
		h.Dyes().Add("dyed", 0)
		dyed := WithKey(context.Background(), "dyed")
		stored, counts := map[pair]int64{}, map[pair]int{}
		latest := int64(math.MinInt64)
		wantDrops := map[pair]int{}
		var want []string
		levels := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}
		now := rng.Int64N(4e18) - 2e18
		for i := range 1000 {
			switch x := rng.IntN(100); {
			case x < 70:
				now += rng.Int64N(60e6)
			case x < 90:
				now -= rng.Int64N(2 * int64(iv))
			case x < 95:
				if now < math.MaxInt64/2-(int64(iv)<<32) {
					now += int64(iv) << 32
				}
			default:
				now = rng.Int64N(4e18) - 2e18
			}
			l := levels[rng.IntN(4)]
			m := msgs[rng.IntN(4)]
			id := ids[i]
			ctx := context.Background()
			isDyed := rng.IntN(10) == 0
			if isDyed {
				ctx = dyed
			}
			r := slog.NewRecord(time.Unix(0, now), l, m, 0)
			r.AddAttrs(slog.String("id", id))
			require.NoError(t, h.Handle(ctx, r))
			if l >= slog.LevelError || isDyed {
				want = append(want, id)
				continue
			}
			w := floorDiv(now, int64(iv))
			latest = max(latest, w)
			p := pair{l, m}
			if _, ok := stored[p]; !ok {
				stored[p], counts[p] = latest-1, 0
			}
			if w > stored[p] {
				stored[p], counts[p] = w, 0
			}
			counts[p]++
			n := counts[p]
			if n <= first || (there > 0 && (n-first)%there == 0) {
				want = append(want, id)
			} else {
				wantDrops[p]++
			}
		}
		require.Equal(t, want, got, "seed %d %+v", seed, s)
		require.Equal(t, wantDrops, drops, "seed %d", seed)
	}
}

// TestSamplingOutOfOrderKeepsFirst is the review's instance: records
// alternating between two windows keep First per window, not per flip.
func TestSamplingOutOfOrderKeepsFirst(t *testing.T) {
	var got []string
	h := NewHandler(recorder(&got), &Options{Sampling: &Sampling{First: 1, Thereafter: -1}})
	t0 := time.Unix(1_700_000_000, 0)
	for i := range 100 {
		r := slog.NewRecord(t0.Add(time.Duration(i%2)*time.Second), slog.LevelInfo, "flip", 0)
		require.NoError(t, h.Handle(context.Background(), r))
	}
	require.Len(t, got, 2)
}

// TestSamplingWindowDoesNotWrap: a record 2^32 intervals after the last
// one opens a new window (the review found 32-bit window numbers alias).
func TestSamplingWindowDoesNotWrap(t *testing.T) {
	var got []string
	h := NewHandler(recorder(&got), &Options{Sampling: &Sampling{First: 1, Thereafter: -1, Interval: time.Millisecond}})
	t0 := time.Unix(1_700_000_000, 0)
	for _, at := range []time.Time{t0, t0.Add(time.Millisecond << 32)} {
		require.NoError(t, h.Handle(context.Background(), slog.NewRecord(at, slog.LevelInfo, "m", 0)))
	}
	require.Len(t, got, 2)
}

// TestSamplingConcurrentBound: goroutines log one message with random
// times spread over K windows, out of order across and within goroutines.
// Whatever the interleaving, no window keeps more than First, so at most
// First × (K+1) records are kept (K windows and the one before them, where
// a record older than the pair's start counts), and kept + dropped is the
// total.
func TestSamplingConcurrentBound(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 21))
		const first, k, per = 3, 8, 400
		var dropped atomic.Int64
		var got []string
		s := &Sampling{First: first, Thereafter: -1, Interval: time.Second, OnDrop: func(slog.Level, string, int) { dropped.Add(1) }}
		h := NewHandler(recorder(&got), &Options{Sampling: s})
		base := time.Unix(1_700_000_000, 0)
		offs := make([][]time.Duration, 4)
		for g := range offs {
			for range per {
				offs[g] = append(offs[g], time.Duration(rng.Int64N(k*int64(time.Second))))
			}
		}
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for _, o := range offs[g] {
					_ = h.Handle(context.Background(), slog.NewRecord(base.Add(o), slog.LevelInfo, "same", 0))
				}
			})
		}
		wg.Wait()
		require.LessOrEqual(t, len(got), first*(k+1), "seed %d", seed)
		require.Equal(t, int64(4*per), int64(len(got))+dropped.Load())
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

// TestSamplingTableRecycles: after a burst of more distinct messages than
// the table holds, pairs quiet for two windows give their slots to new
// ones, which then count on their own instead of sharing the overflow
// counter for the life of the process.
func TestSamplingTableRecycles(t *testing.T) {
	var got []string
	h := NewHandler(recorder(&got), &Options{Sampling: &Sampling{First: 1, Thereafter: -1}})
	t0 := time.Unix(1_700_000_000, 0)
	log := func(at time.Time, msg string) {
		require.NoError(t, h.Handle(context.Background(), slog.NewRecord(at, slog.LevelInfo, msg, 0)))
	}
	for i := range 2 * sampleSlots {
		log(t0, fmt.Sprint("burst ", i))
	}
	require.Less(t, len(got), 2*sampleSlots, "the burst overflowed")
	got = got[:0]
	for i := range 200 {
		log(t0.Add(5*time.Second), fmt.Sprint("later ", i))
		log(t0.Add(5*time.Second), fmt.Sprint("later ", i)) // dropped: First is 1
	}
	require.Len(t, got, 200)
	// An evicted pair that comes back with an old time counts in a new
	// window, once.
	got = got[:0]
	for range 3 {
		log(t0, "burst 1")
	}
	require.LessOrEqual(t, len(got), 1)
}

// TestSamplerMemoryBounded: distinct long messages do not stay in memory
// (the review measured 72 MiB kept for 5,000 messages of 16 KiB).
func TestSamplerMemoryBounded(t *testing.T) {
	h := NewHandler(slog.DiscardHandler, &Options{Sampling: &Sampling{}})
	pad := strings.Repeat("x", 16<<10)
	before := heapInUse()
	for i := range 5000 {
		_ = h.Handle(context.Background(), slog.NewRecord(time.Now(), slog.LevelInfo, fmt.Sprint(i, pad), 0))
	}
	grown := heapInUse() - before
	require.Less(t, grown, int64(4<<20), "sampler kept %d bytes", grown)
	runtime.KeepAlive(h)
}

func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
