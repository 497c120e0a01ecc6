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
// shape, with indexes, for example "releases.chat-v2.rules[2].when[1].value";
// it is empty for the config as a whole (a top-level null, trailing data, a
// syntax error before the first field). For a syntax error it names the
// object or array being read, whose next value broke the text. ParseConfig also locates the error
// in the text: Offset is its byte offset and Line and Col (1-based, Col in
// bytes) its line and column; errors New finds in a compiled Config have
// Offset -1 and Line 0.
type ConfigError struct {
	Path   string
	Reason string
	Offset int64
	Line   int
	Col    int
}

func (e *ConfigError) Error() string {
	s := "grayroute: invalid config: "
	if e.Path != "" {
		s += e.Path + ": "
	}
	s += e.Reason
	if e.Line > 0 {
		s += " (line " + strconv.Itoa(e.Line) + ", col " + strconv.Itoa(e.Col) + ", byte " + strconv.FormatInt(e.Offset, 10) + ")"
	}
	return s
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

func cfgErr(path, reason string) error { return &ConfigError{Path: path, Reason: reason, Offset: -1} }
