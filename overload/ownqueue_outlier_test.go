package overload

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOwnQueueOutlierDoesNotCut: a calm service with its own queue (every
// request starts at once) reports one outlier wait — a request stuck
// behind a lock, a report of a second or more — somewhere in a window.
// The early window end judged the smoothed recent wait alone, which one
// report of a second moves past 12 × QueueThreshold: the window ended and
// the level fell to about 3.35 for a second (an adversary review). It now
// asks for several reports in a row above the height.
func TestOwnQueueOutlierDoesNotCut(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 12; seed++ {
		rng := rand.New(rand.NewPCG(seed, 11))
		outlier := []time.Duration{time.Second, 1500 * time.Millisecond, 4 * time.Second}[seed%3]
		at := 2*time.Second + time.Duration(rng.Int64N(int64(time.Second)))
		t.Run(fmt.Sprintf("seed=%d/%v@%v", seed, outlier, at), func(t *testing.T) {
			ck := &stepClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			t0 := ck.t
			var moved []WindowStats
			c, err := New(Config{MaxConcurrency: 8, Clock: ck, Hooks: Hooks{OnWindow: func(w WindowStats) {
				if w.From != w.To {
					moved = append(moved, w)
				}
			}}})
			require.NoError(t, err)
			sent := false
			for ck.t.Sub(t0) < 5*time.Second { // 200 a second, every one starts at once
				ck.t = ck.t.Add(5 * time.Millisecond)
				require.NoError(t, c.Admit(Priority{Business: uint8(rng.IntN(4)), User: uint8(rng.IntN(128))}), "a request refused at %v", ck.t.Sub(t0))
				d := time.Duration(0)
				if !sent && ck.t.Sub(t0) >= at {
					d, sent = outlier, true
				}
				c.ObserveQueueTime(d)
			}
			assert.Empty(t, moved, "windows that moved the level")
		})
	}
}

// TestOwnQueueEarlyEndWithLongThreshold: with QueueThreshold up to 1 s the
// early end's height (12 × QueueThreshold) used to exceed the longest wait
// a report can carry (about 4.3 s), so it never fired past a threshold of
// about 358 ms. The height is now capped: at the onset of heavy overload a
// window still ends early.
func TestOwnQueueEarlyEndWithLongThreshold(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 6; seed++ {
		rng := rand.New(rand.NewPCG(seed, 13))
		th := 400*time.Millisecond + time.Duration(rng.Int64N(int64(600*time.Millisecond)))
		t.Run(fmt.Sprintf("seed=%d/threshold=%v", seed, th), func(t *testing.T) {
			ck := &stepClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			t0 := ck.t
			onset := 4*time.Second + 300*time.Millisecond
			var early []time.Duration // ends of short windows after the onset
			c, err := New(Config{MaxConcurrency: 8, QueueThreshold: th, Window: 2 * time.Second, Clock: ck, Hooks: Hooks{OnWindow: func(w WindowStats) {
				if e := ck.t.Sub(t0); e > onset && w.Duration < time.Second {
					early = append(early, e-onset)
				}
			}}})
			require.NoError(t, err)
			for ck.t.Sub(t0) < onset+time.Second { // 100 a second start; from the onset each reports a 10 s wait
				ck.t = ck.t.Add(10 * time.Millisecond)
				if c.Admit(Priority{Business: uint8(rng.IntN(4)), User: uint8(rng.IntN(128))}) != nil {
					continue
				}
				d := time.Duration(0)
				if ck.t.Sub(t0) > onset {
					d = 10 * time.Second
				}
				c.ObserveQueueTime(d)
			}
			require.NotEmpty(t, early, "no window ended early after the onset")
			assert.Less(t, early[0], 500*time.Millisecond, "the first early end came %v after the onset", early[0])
		})
	}
}
