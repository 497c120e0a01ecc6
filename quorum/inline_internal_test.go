package quorum

import (
	"bytes"
	"context"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goid is the current goroutine's id, from its stack header.
func goid() uint64 {
	var b [64]byte
	n := runtime.Stack(b[:], false)
	f := bytes.Fields(b[:n])
	id, _ := strconv.ParseUint(string(f[1]), 10, 64)
	return id
}

// where records on which goroutine each call ran and can be made slow
// (time.Sleep: fake time under synctest).
type where struct {
	mu    sync.Mutex
	rec   Record
	gids  []uint64
	delay atomic.Int64
}

func (w *where) note() {
	if d := w.delay.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	w.mu.Lock()
	w.gids = append(w.gids, goid())
	w.mu.Unlock()
}

func (w *where) Get(ctx context.Context, _ string) (Record, error) {
	w.note()
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.rec
	r.Value = bytes.Clone(r.Value)
	return r, nil
}

func (w *where) Put(ctx context.Context, _ string, rec Record) (bool, error) {
	w.note()
	w.mu.Lock()
	defer w.mu.Unlock()
	if !rec.Version.Newer(w.rec.Version) {
		return false, nil
	}
	w.rec = rec
	w.rec.Value = bytes.Clone(rec.Value)
	return true, nil
}

// take returns the goroutines of the calls since the last take.
func (w *where) take() []uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	g := w.gids
	w.gids = nil
	return g
}

// TestInlineCalls: in fake time, where in-memory calls take no time, a
// replica is called on the operation's goroutine once it has been fast 128
// times in a row; one slow call sends it back to the workers until it has
// been fast 128 times again, and the client's result is unaffected.
func TestInlineCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ws := []*where{{}, {}, {}}
		c, err := New([]Replica{ws[0], ws[1], ws[2]}, Config{Hedge: Hedge{Disabled: true}})
		require.NoError(t, err)
		defer c.Close()
		ctx := context.Background()
		me := goid()
		onCaller := func(w *where) (inline, other int) {
			for _, g := range w.take() {
				if g == me {
					inline++
				} else {
					other++
				}
			}
			return
		}

		require.NoError(t, c.Put(ctx, "k", []byte("v")))
		synctest.Wait()
		for i, w := range ws {
			in, _ := onCaller(w)
			assert.Zero(t, in, "replica %d: no call inline before its streak", i)
		}
		for range inlineStreak {
			require.NoError(t, c.Put(ctx, "k", []byte("v")))
		}
		synctest.Wait()
		for _, w := range ws {
			w.take()
		}
		require.NoError(t, c.Put(ctx, "k", []byte("w")))
		v, err := c.Get(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, "w", string(v))
		for i, w := range ws {
			in, other := onCaller(w)
			assert.Zero(t, other, "replica %d: fast, every call inline", i)
			assert.NotZero(t, in, "replica %d", i)
		}

		// Replica 1 turns slow: the next Put calls it inline once (the
		// client cannot know), then hands its calls to workers.
		ws[1].delay.Store(int64(time.Millisecond))
		require.NoError(t, c.Put(ctx, "k", []byte("x")))
		synctest.Wait()
		in, _ := onCaller(ws[1])
		assert.Equal(t, 1, in, "one slow inline call")
		assert.False(t, c.replicas[1].inlinable(), "a slow call ends inlining")
		for i := range 10 {
			require.NoError(t, c.Put(ctx, "k", []byte{byte(i)}))
			synctest.Wait()
		}
		in, other := onCaller(ws[1])
		assert.Zero(t, in, "the slow replica is on workers")
		assert.NotZero(t, other)
		in, other = onCaller(ws[0])
		assert.Zero(t, other, "the fast replicas stay inline")
		assert.NotZero(t, in)

		// Fast again: inline after another streak.
		ws[1].delay.Store(0)
		for range inlineStreak + 1 {
			require.NoError(t, c.Put(ctx, "k", []byte("y")))
			synctest.Wait()
		}
		assert.True(t, c.replicas[1].inlinable())
	})
}

// TestInlineDisabled: with InlineBelow < 0 every call runs on a worker.
func TestInlineDisabled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ws := []*where{{}, {}, {}}
		c, err := New([]Replica{ws[0], ws[1], ws[2]}, Config{InlineBelow: -1})
		require.NoError(t, err)
		defer c.Close()
		me := goid()
		for range 2 * inlineStreak {
			require.NoError(t, c.Put(context.Background(), "k", []byte("v")))
			_, err := c.Get(context.Background(), "k")
			require.NoError(t, err)
		}
		synctest.Wait()
		for i, w := range ws {
			gids := w.take()
			require.NotEmpty(t, gids)
			assert.NotContains(t, gids, me, "replica %d: a call ran inline", i)
		}
	})
}

// TestInlineSlowCallHandsOffTheRest: when an inline call turns out slow, the
// phase's other inline calls go to workers, which run them meanwhile.
func TestInlineSlowCallHandsOffTheRest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ws := []*where{{}, {}, {}}
		c, err := New([]Replica{ws[0], ws[1], ws[2]}, Config{Hedge: Hedge{Disabled: true}})
		require.NoError(t, err)
		defer c.Close()
		ctx := context.Background()
		for range inlineStreak + 1 {
			require.NoError(t, c.Put(ctx, "k", []byte("v")))
		}
		synctest.Wait()
		for _, w := range ws {
			w.take()
		}
		// Every replica turns slow. The write phase calls one inline, sees
		// it slow and hands the other two to workers.
		for _, w := range ws {
			w.delay.Store(int64(time.Millisecond))
		}
		require.NoError(t, c.Put(ctx, "k", []byte("w")))
		synctest.Wait()
		me := goid()
		inline := 0
		for _, w := range ws {
			for _, g := range w.take() {
				if g == me {
					inline++
				}
			}
		}
		// One slow inline call in the version read and one in the write.
		assert.Equal(t, 2, inline, "one slow inline call per phase")
	})
}

// NonBlocking declares where inlinable: its slow calls stand for a replica
// that broke the promise, which the client must survive.
func (w *where) NonBlocking() bool { return true }
