package logging

import (
	"hash/maphash"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
)

// maxSampled bounds the distinct (level, message) pairs counted apart;
// further pairs share one overflow counter.
const maxSampled = 4096

type sampleEntry struct {
	hash  uint64
	level slog.Level
	msg   string
	state atomic.Uint64 // window<<32 | count in window
}

type sampler struct {
	first, thereafter int64
	interval          int64
	onDrop            func(slog.Level, string, int)
	seed              maphash.Seed
	slots             []atomic.Pointer[sampleEntry] // 2 × maxSampled, open addressing
	n                 atomic.Int64
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
	sm.slots = make([]atomic.Pointer[sampleEntry], 2*maxSampled)
	return sm
}

func (sm *sampler) entry(level slog.Level, msg string) *sampleEntry {
	h := maphash.String(sm.seed, msg) ^ uint64(int64(level))*0x9e3779b97f4a7c15
	mask := uint64(len(sm.slots) - 1)
	for i, probes := h&mask, 0; probes < len(sm.slots); i, probes = (i+1)&mask, probes+1 {
		e := sm.slots[i].Load()
		if e == nil {
			if sm.n.Add(1) > maxSampled {
				sm.n.Add(-1)
				return &sm.overflow
			}
			ne := &sampleEntry{hash: h, level: level, msg: strings.Clone(msg)}
			if sm.slots[i].CompareAndSwap(nil, ne) {
				return ne
			}
			sm.n.Add(-1)
			e = sm.slots[i].Load()
		}
		if e.hash == h && e.level == level && e.msg == msg {
			return e
		}
	}
	return &sm.overflow
}

// keep counts the record in its window and reports whether it is written.
func (sm *sampler) keep(level slog.Level, msg string, now int64) bool {
	e := sm.entry(level, msg)
	w := uint64(now/sm.interval) & 0xffffffff
	if now < 0 {
		w = uint64((now-sm.interval+1)/sm.interval) & 0xffffffff
	}
	var n int64
	for {
		old := e.state.Load()
		var nw uint64
		if old>>32 != w || old == 0 {
			nw = w<<32 | 1
		} else if old&0xffffffff == 0xffffffff {
			nw = old // saturated
		} else {
			nw = old + 1
		}
		if e.state.CompareAndSwap(old, nw) {
			n = int64(nw & 0xffffffff)
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
