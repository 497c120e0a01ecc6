package logging

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDyesModel drives random Add/Remove/Advance schedules against a
// model map and checks List, dyed and Enabled after every step. The
// handler's Options.Clock is sometimes another clock than the set's own:
// expiry follows the set's clock, the one Add used.
func TestDyesModel(t *testing.T) {
	keys := make([]string, 20)
	ctxs := make([]context.Context, len(keys))
	for i := range keys {
		keys[i] = fmt.Sprint("u", i)
		ctxs[i] = WithKey(context.Background(), keys[i])
	}
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 3))
		clk := newFakeClock()
		d := &Dyes{Clock: clk}
		var got []string
		opts := &Options{Dyes: d, Clock: clk}
		if seed%2 == 1 {
			opts.Clock = fixedClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		}
		h := NewHandler(recorder(&got), opts)
		model := map[string]time.Time{}
		for step := range 300 {
			key := keys[rng.IntN(len(keys))]
			switch rng.IntN(4) {
			case 0, 1:
				ttl := time.Duration(rng.IntN(10)-1) * time.Second
				d.Add(key, ttl)
				if ttl > 0 {
					model[key] = clk.Now().Add(ttl)
				} else {
					model[key] = time.Time{}
				}
			case 2:
				d.Remove(key)
				delete(model, key)
			case 3:
				clk.Advance(time.Duration(rng.IntN(3000)) * time.Millisecond)
			}
			now := clk.Now()
			var want []Dye
			for k, e := range model {
				if e.IsZero() || e.After(now) {
					want = append(want, Dye{Key: k, Expires: e})
				}
			}
			sort.Slice(want, func(i, j int) bool { return want[i].Key < want[j].Key })
			if list := d.List(); !slices.Equal(want, list) {
				t.Fatalf("seed %d step %d: List %v, want %v", seed, step, list, want)
			}
			for i, k := range keys {
				e, ok := model[k]
				live := ok && (e.IsZero() || e.After(now))
				// Enabled may say yes for an expired dye, never no for a live one.
				if live && !h.Enabled(ctxs[i], slog.LevelDebug) {
					t.Fatalf("seed %d step %d key %s: live dye not enabled", seed, step, k)
				}
				got = got[:0]
				require.NoError(t, h.Handle(ctxs[i], slog.NewRecord(now, slog.LevelDebug, k, 0)))
				if live != (len(got) == 1) {
					t.Fatalf("seed %d step %d key %s: written %v, live %v", seed, step, k, len(got) == 1, live)
				}
			}
		}
	}
}

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// TestDyesOwnClock is the review's instance: a set without a Clock passed
// to a handler with a fake Options.Clock. Add and Handle must agree.
func TestDyesOwnClock(t *testing.T) {
	var got []string
	d := NewDyes()
	h := NewHandler(recorder(&got), &Options{Dyes: d, Clock: fixedClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))})
	d.Add("alice", time.Hour)
	log := slog.New(h)
	ctx := WithKey(context.Background(), "alice")
	require.True(t, h.Enabled(ctx, slog.LevelDebug))
	log.DebugContext(ctx, "dyed")
	require.Equal(t, []string{"dyed"}, got)
}

// TestDyesConcurrent races writers with readers; every reader sees either
// the old or the new set, never a torn one (run with -race).
func TestDyesConcurrent(t *testing.T) {
	clk := newFakeClock()
	d := &Dyes{Clock: clk}
	d.Add("always", 0)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for range 500 {
				k := fmt.Sprintf("k%d", rng.IntN(50))
				if rng.IntN(2) == 0 {
					d.Add(k, time.Duration(1+rng.IntN(5))*time.Second)
				} else {
					d.Remove(k)
				}
				if rng.IntN(10) == 0 {
					clk.Advance(time.Second)
				}
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range 2000 {
				assert.True(t, d.dyed("always"))
				_ = d.List()
			}
		})
	}
	wg.Wait()
	assert.True(t, d.dyed("always"))
}

func TestDyedRequestLogsDebug(t *testing.T) {
	var got []string
	clk := newFakeClock()
	h := NewHandler(recorder(&got), &Options{Clock: clk})
	log := slog.New(h)
	alice := WithKey(context.Background(), "alice")
	bob := WithKey(context.Background(), "bob")
	log.DebugContext(alice, "a1")
	h.Dyes().Add("alice", time.Minute)
	log.DebugContext(alice, "a2")
	log.DebugContext(bob, "b1")
	log.DebugContext(context.Background(), "none")
	h.Dyes().Add("alice", time.Second)
	clk.Advance(time.Second) // expired, not yet purged: Enabled says yes, Handle drops
	assert.True(t, h.Enabled(alice, slog.LevelDebug))
	log.DebugContext(alice, "a3")
	assert.Equal(t, []string{"a2"}, got)
}
