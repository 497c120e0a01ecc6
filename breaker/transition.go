package breaker

import (
	"strconv"
	"time"
)

// Transition describes a state change, for Hooks.OnTransition.
type Transition struct {
	From, To State
	// Reason is why the breaker changed state.
	Reason Reason
	// At is when it changed, by the breaker's Clock.
	At time.Time
	// RetryAt is the end of the open period when To is StateOpen (zero
	// otherwise).
	RetryAt time.Time
	// Counts are the counts of the generation that ended, as they stood at
	// the transition: for a trip, the window the trip rule saw (the call
	// that tripped it included); for a half-open breaker, its probes.
	Counts Counts
}

// Reason is why a breaker changed state.
type Reason uint8

const (
	// ReasonTripRule: the trip rule fired after a failed or slow call
	// (closed → open).
	ReasonTripRule Reason = iota + 1
	// ReasonProbeFailed: a half-open probe failed (half-open → open).
	ReasonProbeFailed
	// ReasonProbeSlow: a half-open probe succeeded but ran longer than
	// SlowCall (half-open → open).
	ReasonProbeSlow
	// ReasonProbesSucceeded: MaxRequests probes in a row succeeded
	// (half-open → closed).
	ReasonProbesSucceeded
	// ReasonOpenPeriodEnded: the open period is over (open → half-open).
	ReasonOpenPeriodEnded
	// ReasonTrip: Trip was called (→ open).
	ReasonTrip
	// ReasonReset: Reset was called (→ closed).
	ReasonReset
	// ReasonEvicted: a Group dropped the key's open or half-open breaker
	// from its full overflow (→ closed; see Group).
	ReasonEvicted
)

func (r Reason) String() string {
	switch r {
	case ReasonTripRule:
		return "trip rule"
	case ReasonProbeFailed:
		return "probe failed"
	case ReasonProbeSlow:
		return "probe slow"
	case ReasonProbesSucceeded:
		return "probes succeeded"
	case ReasonOpenPeriodEnded:
		return "open period ended"
	case ReasonTrip:
		return "manual trip"
	case ReasonReset:
		return "manual reset"
	case ReasonEvicted:
		return "evicted"
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}
