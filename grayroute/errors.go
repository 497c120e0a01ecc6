package grayroute

import (
	"errors"
	"strconv"
)

// ErrInvalidConfig matches every error New, Update, ForceUpdate, ParseConfig,
// LoadConfig and Impact return for a configuration that cannot be compiled.
// The concrete error is a *ConfigError naming the offending path.
var ErrInvalidConfig = errors.New("grayroute: invalid config")

// ErrReshuffle matches the error Update returns when the new configuration
// would move an existing release's users between buckets (its salt, hash
// version or variant order changed). ForceUpdate applies such a change.
var ErrReshuffle = errors.New("grayroute: update would reshuffle users")

// ErrBadState matches the error NewPlanner returns when its StateFile exists
// but cannot be read as a plan state.
var ErrBadState = errors.New("grayroute: bad planner state")

// ConfigError is an invalid configuration. Path names the field in the JSON
// shape, for example "releases.chat-v2.rules[2].when[1].value"; it is empty
// for errors of the JSON text itself.
type ConfigError struct {
	Path   string
	Reason string
}

func (e *ConfigError) Error() string {
	if e.Path == "" {
		return "grayroute: invalid config: " + e.Reason
	}
	return "grayroute: invalid config: " + e.Path + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalidConfig) hold.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// ReshuffleError says which release an update would reshuffle and why. It
// matches ErrReshuffle.
type ReshuffleError struct {
	Release string
	// Field is "salt", "hash" or "variants".
	Field string
	Old   string
	New   string
}

func (e *ReshuffleError) Error() string {
	return "grayroute: update would reshuffle users: releases." + e.Release + "." + e.Field +
		" changed from " + strconv.Quote(e.Old) + " to " + strconv.Quote(e.New) + " (use ForceUpdate)"
}

// Is makes errors.Is(err, ErrReshuffle) hold.
func (e *ReshuffleError) Is(target error) bool { return target == ErrReshuffle }

func cfgErr(path, reason string) error { return &ConfigError{Path: path, Reason: reason} }
