package breaker

// Counts are the outcomes of calls admitted within the rolling window (or,
// after a state change, since it). Requests counts admitted calls, including
// those still running; Rejected counts refused calls. A slow call is counted
// both as slow and as a success or failure; an excluded call is never
// slow (see Config.SlowCall).
//
// ConsecutiveSuccesses and ConsecutiveFailures are the length of the
// trailing run of that outcome, in completion order, counting only members
// whose calls were admitted within the window. A run ends when the opposite
// outcome completes, and stays ended when that outcome's call later leaves
// the window: if X succeeds between the failures Y and Z, the failure run is
// 1 (Z) even after X has left the window and only failures remain in it.
// An excluded outcome does not end a run, and neither does a result whose
// call had already left the window when it completed (it is dropped).
type Counts struct {
	Requests             uint32
	Successes            uint32
	Failures             uint32
	Slow                 uint32
	Excluded             uint32
	Rejected             uint32
	ConsecutiveSuccesses uint32
	ConsecutiveFailures  uint32
}

// TripRule decides from the window's Counts whether a closed breaker opens.
// It is called under the breaker's lock after each failed or slow call, so
// it must be fast and must not call into the breaker.
type TripRule func(Counts) bool

var defaultTrip = Any(ConsecutiveFailures(5), FailureRate(0.5, 20))

// ConsecutiveFailures trips after n failures in a row (n = 0 behaves as 1).
func ConsecutiveFailures(n uint32) TripRule {
	n = max(n, 1)
	return func(c Counts) bool { return c.ConsecutiveFailures >= n }
}

// FailureRate trips when at least minRequests calls finished as a success
// or failure in the window and the failed share is ratio or more. ratio is
// clamped to [0, 1] (NaN counts as 1): 0 trips on the first failure once
// minRequests is reached, 1 only when every call failed.
func FailureRate(ratio float64, minRequests uint32) TripRule {
	ratio = clampRatio(ratio)
	minRequests = max(minRequests, 1)
	return func(c Counts) bool {
		done := uint64(c.Successes) + uint64(c.Failures)
		return done >= uint64(minRequests) && c.Failures > 0 && float64(c.Failures) >= ratio*float64(done)
	}
}

// SlowCallRate trips when at least minRequests calls finished as a success
// or failure in the window and the slow share is ratio or more (see
// Config.SlowCall). ratio is clamped as in FailureRate.
func SlowCallRate(ratio float64, minRequests uint32) TripRule {
	ratio = clampRatio(ratio)
	minRequests = max(minRequests, 1)
	return func(c Counts) bool {
		done := uint64(c.Successes) + uint64(c.Failures)
		return done >= uint64(minRequests) && c.Slow > 0 && float64(c.Slow) >= ratio*float64(done)
	}
}

// Any trips when one of rules trips. Nil rules are skipped; Any() never
// trips.
func Any(rules ...TripRule) TripRule {
	rs := make([]TripRule, 0, len(rules))
	for _, r := range rules {
		if r != nil {
			rs = append(rs, r)
		}
	}
	return func(c Counts) bool {
		for _, r := range rs {
			if r(c) {
				return true
			}
		}
		return false
	}
}

func clampRatio(r float64) float64 {
	switch {
	case r != r || r > 1:
		return 1
	case r < 0:
		return 0
	}
	return r
}
