package overload

import "time"

// Clock is the time source of a Controller, Gate or KeyedLimiter. Tests
// inject a fake one; nil means the real time.Now.
type Clock interface {
	Now() time.Time
}

// clockSource is the one time helper of the package's types: wall time from
// the injected Clock (or time.Now) and a monotonic nanosecond count since the
// owner was built.
type clockSource struct {
	clock Clock
	epoch time.Time
}

func newClockSource(c Clock) clockSource {
	s := clockSource{clock: c}
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

// nanotime is the time in ns since the owner was built (monotonic with the
// real clock).
func (s *clockSource) nanotime() int64 {
	if s.clock == nil {
		return int64(time.Since(s.epoch))
	}
	return int64(s.clock.Now().Sub(s.epoch))
}
