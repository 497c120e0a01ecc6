package breaker

import (
	"time"

	"github.com/sony/gobreaker/v2"
)

// sentinel is an exported error value that also matches its gobreaker twin,
// so code written against gobreaker keeps working.
type sentinel struct {
	msg  string
	twin error
}

func (e *sentinel) Error() string        { return e.msg }
func (e *sentinel) Is(target error) bool { return target == e.twin }

var (
	// ErrOpen is the error of a call refused because the breaker is open.
	// errors.Is(err, gobreaker.ErrOpenState) holds too.
	ErrOpen error = &sentinel{"breaker: open", gobreaker.ErrOpenState}
	// ErrTooManyRequests is the error of a call refused because half-open
	// already admitted MaxRequests probes. errors.Is(err,
	// gobreaker.ErrTooManyRequests) holds too.
	ErrTooManyRequests error = &sentinel{"breaker: too many requests while half-open", gobreaker.ErrTooManyRequests}
)

// RejectedError is the error of a refused call. It matches ErrOpen (State
// open) or ErrTooManyRequests (State half-open). Rejected calls of one open
// period share one RejectedError: treat it as read-only.
type RejectedError struct {
	// Name is the breaker's name (a Group's key).
	Name string
	// State is the state that refused the call.
	State State
	// RetryAt is when the open period ends (zero while half-open); the
	// message gives it in UTC.
	RetryAt time.Time
}

func (e *RejectedError) Error() string {
	msg := "breaker: open"
	if e.State == StateHalfOpen {
		msg = "breaker: too many requests while half-open"
	}
	if e.Name != "" {
		msg += " (" + e.Name + ")"
	}
	if !e.RetryAt.IsZero() {
		// An absolute time: the error may be logged long after it was made.
		msg += ", retry after " + e.RetryAt.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	return msg
}

// Is makes errors.Is match ErrOpen or ErrTooManyRequests and their gobreaker
// twins.
func (e *RejectedError) Is(target error) bool {
	if e.State == StateOpen {
		return target == ErrOpen || target == gobreaker.ErrOpenState
	}
	return target == ErrTooManyRequests || target == gobreaker.ErrTooManyRequests
}
