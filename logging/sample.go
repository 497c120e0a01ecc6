package logging

import (
	"hash/maphash"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// The sampler counts records per (level, message) in a table of
// sampleSlots entries; a pair may sit in the sampleProbe slots from its
// hash. A pair that finds them all held by pairs seen in the last two
// windows shares one overflow counter until one of them goes quiet.
const (
	sampleSlots = 8192
	sampleProbe = 16
)

// sampleWindow counts one pair's records in one window. A pair moves to a
// new window by swapping in a new sampleWindow, never back to an older one,
// so each (pair, window) has at most one counter however records race.
type sampleWindow struct {
	w int64 // window number: Unix nanoseconds / Interval, rounded down
	n atomic.Int64
}

// evicted marks an entry whose slot is being given to another pair.
var evicted = &sampleWindow{w: math.MaxInt64}

// sampleEntry is one pair. The message is not kept: pairs are told apart
// by a seeded 64-bit hash, the level and the message's length.
type sampleEntry struct {
	hash   uint64
	level  slog.Level
	msgLen int
	win    atomic.Pointer[sampleWindow]
}

type sampler struct {
	first, thereafter int64
	interval          int64
	onDrop            func(slog.Level, string, int)
	seed              maphash.Seed
	slots             []atomic.Pointer[sampleEntry]
	mu                sync.Mutex   // serialises giving slots to new pairs
	latest            atomic.Int64 // the highest window seen
	overflow          sampleEntry
}

func newSampler(s *Sampling) *sampler {
	sm := &sampler{first: 100, thereafter: 100, interval: int64(time.Second), onDrop: s.OnDrop, seed: maphash.MakeSeed()}
	if s.First > 0 {
		sm.first = int64(s.First)
	} else if s.First < 0 {
		sm.first = 0
	}
	if s.Thereafter > 0 {
		sm.thereafter = int64(s.Thereafter)
	} else if s.Thereafter < 0 {
		sm.thereafter = 0
	}
	if s.Interval > 0 {
		sm.interval = int64(s.Interval)
	}
	sm.slots = make([]atomic.Pointer[sampleEntry], sampleSlots)
	sm.latest.Store(math.MinInt64)
	return sm
}

// window is now's window number, rounded towards minus infinity.
func (sm *sampler) window(now int64) int64 {
	w := now / sm.interval
	if now%sm.interval < 0 {
		w--
	}
	return w
}

// keep counts the record and reports whether it is written. A record is
// counted in its own window, or in its pair's current window if that is
// later (a record stamped before one already counted: out-of-order times
// never reopen a window).
func (sm *sampler) keep(level slog.Level, msg string, now int64) bool {
	w := sm.window(now)
	g := sm.latest.Load()
	for w > g && !sm.latest.CompareAndSwap(g, w) {
		g = sm.latest.Load()
	}
	g = max(g, w)
	var n int64
	for {
		var ok bool
		if n, ok = sm.entry(level, msg, g).count(w); ok {
			break
		}
	}
	if n <= sm.first {
		return true
	}
	if sm.thereafter > 0 && (n-sm.first)%sm.thereafter == 0 {
		return true
	}
	if sm.onDrop != nil {
		sm.onDrop(level, msg, 1)
	}
	return false
}

// count adds one record of window w and returns its number in the window
// counted; false if the entry was evicted meanwhile.
func (e *sampleEntry) count(w int64) (int64, bool) {
	for {
		p := e.win.Load()
		if p == evicted {
			return 0, false
		}
		if p != nil && w <= p.w {
			return p.n.Add(1), true
		}
		np := &sampleWindow{w: w}
		np.n.Store(1)
		if e.win.CompareAndSwap(p, np) {
			return 1, true
		}
	}
}

func (sm *sampler) hash(level slog.Level, msg string) uint64 {
	return maphash.String(sm.seed, msg) ^ uint64(int64(level))*0x9e3779b97f4a7c15
}

// entry finds the pair's entry without a lock, or gives it a slot.
func (sm *sampler) entry(level slog.Level, msg string, g int64) *sampleEntry {
	h := sm.hash(level, msg)
	mask := uint64(len(sm.slots) - 1)
	for i := range uint64(sampleProbe) {
		e := sm.slots[(h+i)&mask].Load()
		if e == nil {
			break // slots never empty again: the pair is not further on
		}
		if e.hash == h && e.level == level && e.msgLen == len(msg) && e.win.Load() != evicted {
			return e
		}
	}
	return sm.insert(h, level, len(msg), g)
}

// insert gives a new pair the first empty slot in its probe range, or the
// first slot of a pair with no record in the last two windows (g is the
// latest). The new pair starts in window g-1 or later, after every window
// the evicted entry may have counted, so no (pair, window) is counted
// twice even if the evicted pair comes back. With no slot free it gets the
// overflow counter.
func (sm *sampler) insert(h uint64, level slog.Level, msgLen int, g int64) *sampleEntry {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	mask := uint64(len(sm.slots) - 1)
	floor := g // the new pair's first window; older records count there
	if g > math.MinInt64 {
		floor = g - 1
	}
	var stale []uint64
	free := -1
	for i := range uint64(sampleProbe) {
		idx := (h + i) & mask
		e := sm.slots[idx].Load()
		if e == nil {
			free = int(idx)
			break
		}
		if e.hash == h && e.level == level && e.msgLen == msgLen && e.win.Load() != evicted {
			return e // another goroutine inserted it
		}
		if p := e.win.Load(); p != nil && p.w < floor {
			stale = append(stale, idx)
		}
	}
	ne := &sampleEntry{hash: h, level: level, msgLen: msgLen}
	ne.win.Store(&sampleWindow{w: floor})
	if free >= 0 {
		sm.slots[free].Store(ne)
		return ne
	}
	for _, idx := range stale {
		e := sm.slots[idx].Load()
		if p := e.win.Load(); p.w < floor && e.win.CompareAndSwap(p, evicted) {
			sm.slots[idx].Store(ne)
			return ne
		}
	}
	return &sm.overflow
}
