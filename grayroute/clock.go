package grayroute

import "time"

// Clock is the time source of a Planner. Tests inject a fake one; nil means
// the real time.Now.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
