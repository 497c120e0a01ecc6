package breaker

import "strconv"

// State is the state of a breaker.
type State int8

const (
	// StateClosed lets every call through and counts outcomes.
	StateClosed State = iota
	// StateHalfOpen lets MaxRequests probe calls through.
	StateHalfOpen
	// StateOpen refuses every call until the open period ends.
	StateOpen
)

func (s State) String() string {
	switch s {
	case StateClosed:
		return "closed"
	case StateHalfOpen:
		return "half-open"
	case StateOpen:
		return "open"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}
