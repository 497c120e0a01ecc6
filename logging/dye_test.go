package logging

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDyesModel drives random Add/Remove/Advance schedules against a
// model map and checks List, dyed and Enabled after every step.
func TestDyesModel(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 3))
		clk := newFakeClock()
		d := &Dyes{Clock: clk}
		var got []string
		h := NewHandler(recorder(&got), &Options{Dyes: d, Clock: clk})
		model := map[string]time.Time{}
		for step := range 300 {
			key := fmt.Sprintf("u%d", rng.IntN(20))
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
			require.ElementsMatch(t, want, d.List(), "seed %d step %d", seed, step)
			for i := range 20 {
				k := fmt.Sprintf("u%d", i)
				e, ok := model[k]
				live := ok && (e.IsZero() || e.After(now))
				ctx := WithKey(context.Background(), k)
				if live { // Enabled may say yes for an expired dye, never no for a live one
					require.True(t, h.Enabled(ctx, slog.LevelDebug), "seed %d step %d key %s", seed, step, k)
				}
				got = got[:0]
				require.NoError(t, h.Handle(ctx, slog.NewRecord(now, slog.LevelDebug, k, 0)))
				require.Equal(t, live, len(got) == 1, "seed %d step %d key %s", seed, step, k)
			}
		}
	}
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
