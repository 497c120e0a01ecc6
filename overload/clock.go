package overload

import (
	"sync/atomic"
	"time"
)

// Clock is the time source of a Controller, Gate or KeyedLimiter. Tests
// inject a fake one; nil means the real time.Now.
//
// An injected clock need not be monotonic: the Controller and the Gate
// never see their time run backwards. A backward step of more than
// backStepTolerance re-anchors their time at the last value seen (time
// then moves on from there as the clock does); a smaller one (readings
// taken concurrently and compared out of order) reads as no time passing.
type Clock interface {
	Now() time.Time
}

// backStepTolerance is the largest backward step of an injected clock read
// as jitter (time stands still) rather than as a step (time re-anchors).
const backStepTolerance = int64(time.Millisecond)

// clockSource is the one time helper of the package's types: wall time from
// the injected Clock (or time.Now) and a monotonic nanosecond count since the
// owner was built.
type clockSource struct {
	clock Clock
	epoch time.Time
	mono  *monoState // non-nil with an injected clock
}

// monoState keeps an injected clock's nanotime non-decreasing.
type monoState struct {
	last   atomic.Int64 // largest nanotime returned
	offset atomic.Int64 // added to the raw reading after backward steps
}

func newClockSource(c Clock) clockSource {
	s := clockSource{clock: c}
	if c != nil {
		s.mono = &monoState{}
	}
	s.epoch = s.now()
	return s
}

// now is the wall time.
func (s *clockSource) now() time.Time {
	if s.clock == nil {
		return time.Now()
	}
	return s.clock.Now()
}

// nanotime is the time in ns since the owner was built, never decreasing.
func (s *clockSource) nanotime() int64 {
	if s.clock == nil {
		return int64(time.Since(s.epoch)) // monotonic reading
	}
	raw := int64(s.clock.Now().Sub(s.epoch))
	m := s.mono
	if m == nil { // built without newClockSource
		return raw
	}
	for {
		off := m.offset.Load()
		t := satAdd(raw, off)
		last := m.last.Load()
		if t >= last {
			if t == last || m.last.CompareAndSwap(last, t) {
				return t
			}
			continue
		}
		if last-t <= backStepTolerance {
			return last // jitter: no time passed
		}
		// A real step backwards: re-anchor so this reading is the last one.
		m.offset.CompareAndSwap(off, satAdd(off, last-t))
	}
}

// satAdd returns a+b saturated to the int64 range.
func satAdd(a, b int64) int64 {
	s := a + b
	switch {
	case b > 0 && s < a:
		return 1<<63 - 1
	case b < 0 && s > a:
		return -1 << 63
	}
	return s
}
