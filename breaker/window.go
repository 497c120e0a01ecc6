package breaker

import (
	"sync/atomic"
	"time"
)

// A window is one generation of a breaker: its state, and the rolling count
// of the outcomes of the calls admitted in that generation. Every state
// change (and Reset, and a reclaimed half-open) starts a new window, so a
// call admitted in an older generation books its result into a window
// nobody reads any more: that is the generation guard, and it needs no check
// on the lock-free path.
//
// The counts live in slots, one per bucket period in which a call was
// admitted, each holding the outcomes of the calls admitted during it (a
// result is booked into the bucket of its call's admission, as in
// gobreaker). A slot leaves the ring when its bucket leaves the window;
// results booked into it afterwards are booked into an object nobody reads,
// which is the same as dropping them.
//
// The fields a lock-free call touches are atomic or immutable: the state
// and expiry, cur (the newest slot), and the slots' requests, successes,
// excluded and rejected counters and failing flags. Everything else is
// guarded by the breaker's mutex.
type window struct {
	// The first cache line holds what a call reads: keep it so.
	state  State
	expiry time.Time      // open: the end of the open period
	open   *RejectedError // open: the error of every refused call
	// cur is the slot of bucket curAge, if it has one. A refusal reads
	// curAge then cur, and books into cur if curAge is its own bucket: the
	// writer clears cur before it moves curAge, so cur is never older than
	// the curAge read before it. (A closed breaker's calls use the same
	// pair kept in the Breaker.)
	curAge atomic.Uint64
	cur    atomic.Pointer[slot]
	gen    uint64

	// Guarded by the breaker's mutex.
	ring    []*slot // ring[a%len(ring)]: the slot of bucket a, nil if none
	age     uint64  // the newest bucket seen (buckets since the breaker's epoch)
	runF    uint32  // id of the current failure run
	failing bool    // a failure run may be under way (see slot.failing)
	_       [19]byte
}

// current returns the slot to book a call of bucket age into without the
// lock, or nil: the newest bucket's slot, if that is age.
func (w *window) current(age uint64) *slot {
	if w.curAge.Load() != age {
		return nil
	}
	return w.cur.Load()
}

// slot holds the counts of the calls admitted during one bucket period.
type slot struct {
	// Written without the lock.
	requests  atomic.Uint32
	successes atomic.Uint32
	excluded  atomic.Uint32
	rejected  atomic.Uint32
	// failing is set, before the slot's successes are read, by every
	// failure and cleared when a success ends the failure run. A lock-free
	// success reads it after booking itself: if set, it takes the lock to
	// end the run; if clear, there was no run for it to end. (It is in the
	// slot, whose line the success has just written, not in the window.)
	failing atomic.Bool

	w   *window // the generation the slot belongs to
	age uint64

	// Guarded by the breaker's mutex.
	failures uint32
	slow     uint32
	// base is successes when the latest failure ended the success run:
	// successes − base are members of the current success run.
	base uint32
	runF uint32 // members of failure run tagF in this slot
	tagF uint32
}

func newWindow(gen uint64, st State, buckets int, age uint64) *window {
	return &window{gen: gen, state: st, ring: make([]*slot, buckets), age: age, runF: 1}
}

// advance moves the window to bucket age, dropping the slots that left it.
// It creates no slot: a bucket gets one when a call is booked in it.
func (w *window) advance(age uint64) {
	if age <= w.age {
		return
	}
	n := uint64(len(w.ring))
	if age-w.age >= n {
		clear(w.ring)
	} else {
		for a := w.age + 1; a <= age; a++ {
			w.ring[a%n] = nil
		}
	}
	w.age = age
	w.cur.Store(nil) // the lock-free path books only into the newest bucket
}

// newest returns the slot of the newest bucket, creating it.
func (w *window) newest() *slot {
	i := w.age % uint64(len(w.ring))
	s := w.ring[i]
	if s == nil {
		s = &slot{w: w, age: w.age}
		s.failing.Store(w.failing)
		w.ring[i] = s
		w.curAge.Store(w.age)
		w.cur.Store(s)
	}
	return s
}

// live reports whether s is still in the window.
func (w *window) live(s *slot) bool {
	return w.ring[s.age%uint64(len(w.ring))] == s
}

// counts sums the window. A success booked without the lock after the
// latest failure ends the failure run here (and ends it for good), so
// Counts never shows both runs under way.
func (w *window) counts() Counts {
	var c Counts
	for _, s := range w.ring {
		if s == nil {
			continue
		}
		// Results before requests: a result counted here had its request
		// counted earlier, so Requests never trails the results.
		succ := s.successes.Load()
		c.Successes += succ
		c.ConsecutiveSuccesses += succ - s.base
		c.Excluded += s.excluded.Load()
		c.Failures += s.failures
		c.Slow += s.slow
		c.Rejected += s.rejected.Load()
		c.Requests += s.requests.Load()
		if s.tagF == w.runF {
			c.ConsecutiveFailures += s.runF
		}
	}
	if c.ConsecutiveSuccesses > 0 && w.failing {
		w.endFailureRun()
		c.ConsecutiveFailures = 0
	}
	return c
}

func (w *window) endFailureRun() {
	w.runF++
	w.failing = false
	for _, s := range w.ring {
		if s != nil {
			s.failing.Store(false)
		}
	}
}

// success books a success under the lock (a slow one, or any while
// half-open, or with OnResult set).
func (w *window) success(s *slot, slow bool) {
	if !w.live(s) {
		return
	}
	s.successes.Add(1)
	if slow {
		s.slow++
	}
	if w.failing {
		w.endFailureRun()
	}
}

// failure books a failure: it ends the success run (every success counted
// so far precedes it) and joins or starts the failure run.
func (w *window) failure(s *slot, slow bool) {
	if !w.live(s) {
		return
	}
	// Set each slot's failing before reading its success counter: a
	// lock-free success that lands after the read sees it set and comes
	// back under the lock.
	w.failing = true
	ended := false
	for _, o := range w.ring {
		if o == nil {
			continue
		}
		o.failing.Store(true)
		if v := o.successes.Load(); v != o.base {
			o.base = v
			ended = true
		}
	}
	if ended { // successes in between: this failure starts a new run
		w.runF++
	}
	s.failures++
	if slow {
		s.slow++
	}
	if s.tagF != w.runF {
		s.tagF, s.runF = w.runF, 0
	}
	s.runF++
}

// excluded books an excluded outcome under the lock.
func (w *window) excluded(s *slot) {
	if w.live(s) {
		s.excluded.Add(1)
	}
}

// inFlight counts the calls admitted in the window's live buckets whose
// result is not booked yet: the calls whose results can still count.
// (Results of calls admitted earlier, or in another generation, are dropped
// anyway.) The breaker's mutex is held.
func (w *window) inFlight() int64 {
	var n int64
	for _, s := range w.ring {
		if s == nil {
			continue
		}
		done := int64(s.successes.Load()) + int64(s.excluded.Load()) + int64(s.failures)
		n += int64(s.requests.Load()) - done // requests last: a late call counts as in flight
	}
	return n
}
