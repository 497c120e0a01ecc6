package grayroute

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

// MaxConfigSize bounds the JSON text ParseConfig and LoadConfig accept.
const MaxConfigSize = 64 << 20

// Config is the whole routing configuration: one entry per release. Its JSON
// form is what ParseConfig reads; the zero Config routes nothing (every
// release is unknown).
type Config struct {
	// Releases maps a release name to its rules. Names are 1 to 64 of
	// [A-Za-z0-9._-], because they travel in the Bulwark-Gray header.
	Releases map[string]Release `json:"releases"`
	// Attrs, when non-empty, lists every request attribute conditions may
	// name; a condition naming another attribute is a config error (typos in
	// attribute names otherwise fail silently, never matching).
	Attrs []string `json:"attrs,omitempty"`
	// Hooks are taken from the Config given to New; Update and ForceUpdate
	// ignore them.
	Hooks Hooks `json:"-"`
}

// Release is one gray release: its variants and the ordered rules that pick
// one for a request.
type Release struct {
	// Salt seeds the bucket hash. Empty means the release name. Two releases
	// with different salts bucket independently; the same salt puts the same
	// keys in the same buckets. It must not contain a NUL byte.
	Salt string `json:"salt,omitempty"`
	// Hash names the bucket algorithm; empty means "v1", the only one.
	Hash string `json:"hash,omitempty"`
	// Variants lists the release's variants (1 to 255, same charset as
	// release names). A split lays its weights out in this order.
	Variants []string `json:"variants"`
	// Default is the variant when no rule matches; empty means Variants[0].
	Default string `json:"default,omitempty"`
	// Sticky, when positive, keeps up to this many keys that a split sent to
	// a canary variant in the canary when a config change shrinks its share
	// ("once in, stay in"); a rollback clears them. 0 turns it off. At most
	// 10,000,000.
	Sticky int `json:"sticky,omitempty"`
	// Rules are tried in order; the first that matches decides.
	Rules []Rule `json:"rules,omitempty"`
	// Plan, when set, ramps the canary's share of every split between the
	// plan's canary and control (see Planner).
	Plan *Plan `json:"plan,omitempty"`
}

// Rule matches a request when its key is in Keys (if Keys is set) and every
// condition in When holds, and then decides by Variant or by Split.
type Rule struct {
	// Name identifies the rule in decisions; empty means "rules[i]".
	Name string `json:"name,omitempty"`
	// Keys is a whitelist of request keys; nil means any key.
	Keys []string `json:"keys,omitempty"`
	// When holds conditions that must all be true.
	When []Condition `json:"when,omitempty"`
	// Variant is the fixed outcome; exactly one of Variant and Split is set.
	Variant string `json:"variant,omitempty"`
	// Split maps variants to weights in basis points summing to 10,000;
	// the request's bucket (stable hash of salt and key) picks one.
	Split map[string]int `json:"split,omitempty"`
}

// Condition is one test on a request attribute (or, for key_tail and
// key_range, on the request key).
//
// Operators and their operands:
//
//	eq neq prefix suffix contains        value (string compare; a missing attribute is "")
//	in not_in                            values
//	num_lt num_lte num_gt num_gte        value, a decimal number
//	version_lt version_lte version_gt
//	version_gte version_eq               value, a version (see the package doc)
//	key_tail                             values, 1 to 19 decimal digits each; no attr
//	key_range                            min and max, unsigned integers; no attr
//
// A number or version attribute that is missing or does not parse fails
// every numeric or version condition, including the "not" directions.
type Condition struct {
	Attr   string  `json:"attr,omitempty"`
	Op     string  `json:"op"`
	Value  *Value  `json:"value,omitempty"`
	Values []Value `json:"values,omitempty"`
	Min    *Value  `json:"min,omitempty"`
	Max    *Value  `json:"max,omitempty"`
}

// Value is an operand. In JSON it may be a string or a number; a number keeps
// its literal text ("8", "1.5e3").
type Value string

// UnmarshalJSON accepts a JSON string or number.
func (v *Value) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = Value(s)
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return err
	}
	n, ok := x.(json.Number)
	if !ok {
		return errors.New("grayroute: a value must be a string or a number")
	}
	*v = Value(n)
	return nil
}

// Plan is a staged ramp of the canary's share, gated on health.
type Plan struct {
	// Steps are the shares to walk through, strictly increasing.
	Steps []PlanStep `json:"steps"`
	// Canary and Control name the two variants compared; both must be
	// variants of the release, and every split naming the canary must also
	// name the control.
	Canary  string `json:"canary"`
	Control string `json:"control"`
	Gate    Gate   `json:"gate,omitempty"`
	// Epoch has no effect but changing it: a rolled-back plan stays at 0
	// until its steps, canary, control or epoch change, and bumping Epoch
	// restarts it from step 0. Gate and RollbackAll edits do not restart
	// it: they apply to the plan in progress, rollback included.
	Epoch int `json:"epoch,omitempty"`
	// RollbackAll makes a rollback also switch off every rule whose fixed
	// variant is the canary (staff whitelists, key_tail segments; Explain
	// no longer lists them) and, if the release default is the canary, use
	// the control instead, and Middleware ignores a trusted incoming
	// decision for the canary, so that no request reaches the canary. By
	// default a rollback only sets the canary's share of the planned splits
	// to 0, and such rules keep sending their requests to the canary.
	RollbackAll bool `json:"rollback_all,omitempty"`
}

// PlanStep is one stage of a Plan.
type PlanStep struct {
	// Share is the canary's weight in basis points (1..10,000), at most the
	// canary plus control weight of every split it drives.
	Share int `json:"share"`
	// Dwell is the least time spent in the step before advancing.
	Dwell Duration `json:"dwell,omitempty"`
	// MinSamples is the least number of canary requests (since the step
	// began) before the gate is judged.
	MinSamples int64 `json:"min_samples,omitempty"`
}

// Gate is the canary-versus-control test of a Plan. Zero fields mean the
// defaults.
type Gate struct {
	// MaxErrorRateIncrease is the largest allowed canary error rate minus the
	// control's (default 0.01, one percentage point). Negative: error.
	// Thresholds compare as decimals: ParseConfig refuses more than 15
	// significant digits; a value set in Go counts as its shortest decimal.
	MaxErrorRateIncrease float64 `json:"max_error_rate_increase,omitempty"`
	// MaxP99Ratio is the largest allowed canary p99 over the control's
	// (default 1.2; must be at least 1). Ignored while the control's p99 is 0.
	MaxP99Ratio float64 `json:"max_p99_ratio,omitempty"`
}

// Default gate thresholds.
const (
	DefaultMaxErrorRateIncrease = 0.01
	DefaultMaxP99Ratio          = 1.2
)

// Duration is a time.Duration written in JSON as a Go duration string ("10m").
type Duration time.Duration

// UnmarshalJSON reads a duration string such as "90s" or "1h30m".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("grayroute: a duration must be a string such as \"10m\"")
	}
	x, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("grayroute: bad duration %q", s)
	}
	*d = Duration(x)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(time.Duration(d).String())), nil
}

// LoadConfig reads and parses a JSON config file.
func LoadConfig(path string) (Config, error) {
	data, err := readLimited(path)
	if err != nil {
		return Config{}, err
	}
	return ParseConfig(data)
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("grayroute: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("grayroute: %w", err)
	}
	return data, nil
}
