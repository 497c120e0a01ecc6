package metrics

import (
	"errors"
	"time"
)

// ErrUnknownMetric is returned for a metric name, or label values, that the
// registry does not hold.
var ErrUnknownMetric = errors.New("metrics: unknown metric")

// ErrNoHistory is returned by History for a series that has no history: it
// has not yet closed an interval with activity, or the history budget was
// spent before it needed one (bulwark_metrics_overflow_total{reason="history"}
// counts those).
var ErrNoHistory = errors.New("metrics: no history")

// ErrRunning is returned by Run when another Run of the same registry is
// still running.
var ErrRunning = errors.New("metrics: Run is already running on this registry")

// ErrInvalidRule matches every error AddRule returns for a rule it refuses;
// the concrete error is a *RuleError naming the field.
var ErrInvalidRule = errors.New("metrics: invalid rule")

// RuleError says which field of a Rule AddRule refused and why.
type RuleError struct {
	Rule   string
	Field  string
	Reason string
	// Err is ErrUnknownMetric when the rule names a metric the registry
	// does not hold, else nil.
	Err error
}

func (e *RuleError) Error() string {
	return "metrics: invalid rule " + quote(e.Rule) + ": " + e.Field + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalidRule) hold.
func (e *RuleError) Is(target error) bool { return target == ErrInvalidRule }

// Unwrap returns ErrUnknownMetric for a rule on an unknown metric.
func (e *RuleError) Unwrap() error { return e.Err }

// Clock is the registry's time source; nil means time.Now. Tests inject a
// fake one (metricstest.Clock) and drive Tick themselves.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
