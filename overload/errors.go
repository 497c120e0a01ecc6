package overload

import (
	"errors"
	"strconv"
	"time"
)

// ErrShed is the outcome of every refusal by this package: errors.Is(err,
// ErrShed) holds for all of them. The concrete error is a *ShedError that says
// why, at which admission level, and when a retry may succeed.
var ErrShed = errors.New("overload: request shed")

// Reason says why a request was shed.
type Reason uint8

const (
	// ReasonLevel: the request's priority is below the admission level.
	ReasonLevel Reason = iota + 1
	// ReasonQueueFull: no slot was free and the wait queue was full of
	// requests at least as important; from Admit, the service's own queue
	// would make the request wait past its bound.
	ReasonQueueFull
	// ReasonDisplaced: the request was waiting and a more important request
	// took its place in the full queue.
	ReasonDisplaced
	// ReasonDeadline: the context's remaining time is shorter than the
	// expected wait for a slot, so the request could not finish in time.
	ReasonDeadline
	// ReasonDownstream: a Gate shed the request before sending it, because
	// the downstream's last reported level would refuse it.
	ReasonDownstream
	// ReasonRateLimit: the key's token bucket of a KeyedLimiter is empty.
	ReasonRateLimit
)

func (r Reason) String() string {
	switch r {
	case ReasonLevel:
		return "below admission level"
	case ReasonQueueFull:
		return "queue full"
	case ReasonDisplaced:
		return "displaced from queue"
	case ReasonDeadline:
		return "deadline shorter than expected wait"
	case ReasonDownstream:
		return "below downstream admission level"
	case ReasonRateLimit:
		return "rate limited"
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

// ShedError is the error of a shed request. It matches ErrShed.
//
// A ShedError returned by Controller.Acquire is shared by all requests shed
// for the same reason at the same level; treat it as read-only.
type ShedError struct {
	Reason Reason
	// Level is the admission level in force when the request was shed.
	Level Level
	// RetryAfter is a hint: the earliest time a retry may be admitted.
	RetryAfter time.Duration
	// DryRun is set when the controller runs in dry-run mode: the request
	// was reported as shed but admitted. Only hooks see such errors.
	DryRun bool
}

func (e *ShedError) Error() string {
	b := make([]byte, 0, 80)
	b = append(b, "overload: request shed: "...)
	b = append(b, e.Reason.String()...)
	if e.Reason != ReasonRateLimit {
		// A rate limit is a quota, not an admission level: no level to show.
		b = append(b, " (level "...)
		b = e.Level.appendText(b)
		b = append(b, ')')
	}
	b = append(b, ", retry after "...)
	b = append(b, e.RetryAfter.String()...)
	return string(b)
}

// Is makes errors.Is(err, ErrShed) hold.
func (e *ShedError) Is(target error) bool { return target == ErrShed }

// ParseError reports text or bytes that are not a valid Level or Priority.
type ParseError struct {
	What  string
	Input string
}

func (e *ParseError) Error() string {
	return "overload: invalid " + e.What + " " + strconv.Quote(e.Input)
}
