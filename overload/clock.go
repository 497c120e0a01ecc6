package overload

import "time"

// Clock is the time source of a Controller, Gate or KeyedLimiter. Tests
// inject a fake one; nil means the real time.Now.
type Clock interface {
	Now() time.Time
}
