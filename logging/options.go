package logging

import (
	"log/slog"
	"time"
)

// Clock is the time source for dye expiry and, when set, sampling windows.
// Tests inject a fake one; nil means time.Now.
type Clock interface {
	Now() time.Time
}

// Options configure a Handler. A nil *Options, like a zero field, means the
// documented default.
type Options struct {
	// Level is the minimum level written for requests that are not dyed.
	// nil means slog.LevelInfo. A *slog.LevelVar changes it at run time.
	Level slog.Leveler
	// Text selects logfmt-style text output in New and NewWithHandler
	// (JSON by default). NewHandler ignores it: the wrapped handler formats.
	Text bool
	// RedactKeys are added to the default denylist.
	RedactKeys []string
	// NoDefaultRedact drops the default denylist (RedactKeys still apply).
	NoDefaultRedact bool
	// HashKeys are keys whose values are replaced by a keyed hash of their
	// text, so that equal values stay joinable but unreadable. Under such a
	// key (a group, or a WithGroup of that name) every value is hashed. A
	// key that is also redacted is redacted.
	HashKeys []string
	// HashKey keys the hash. The zero key works but anyone can then
	// recompute hashes of guessed values: set a secret one.
	HashKey [16]byte
	// Sampling, when non-nil, thins records below Error per (level, message).
	Sampling *Sampling
	// Dyes is the dye set consulted by Enabled; nil means a set of its own
	// (see Handler.Dyes) using Clock. A set passed here judges expiry by its
	// own Clock (nil: the record's time), the one its Add used.
	Dyes *Dyes
	// FlightBytes > 0 enables WithFlight buffers holding at most that many
	// bytes of records per request (see the package doc for what a record
	// costs).
	FlightBytes int
	// RingSize > 0 keeps the last RingSize written records for Ring.
	RingSize int
	// Clock is the time source (nil: time.Now; sampling then uses the
	// record's own time). It is also the Clock of the handler's own Dyes
	// set; a Dyes set passed in Options.Dyes keeps its own Clock.
	Clock Clock
	// KeyAttr, when set, adds the request's WithKey key to every record
	// logged with that context, under this attribute name, so a dyed or
	// flushed line says whose request it was. It is redacted and hashed
	// like any attribute: list it in HashKeys to keep users joinable but
	// unreadable. Empty (the default) adds nothing.
	KeyAttr string
}

// Sampling thins repeated records: per (level, message) and per Interval,
// the first First records are written, then every Thereafter-th one.
// Records at Error or above and records of dyed requests are never sampled.
type Sampling struct {
	// First records per Interval are kept. 0 means 100; negative means none.
	First int
	// After First, every Thereafter-th record is kept. 0 means 100; negative
	// means none.
	Thereafter int
	// Interval is the window length; windows are aligned to multiples of
	// Interval since the Unix epoch. A record stamped before one already
	// counted for its (level, message) counts in that later window. 0 means
	// 1 s.
	Interval time.Duration
	// OnDrop, if set, is called once for every dropped record with
	// dropped = 1, on the logging goroutine and outside every lock. Sum
	// it into a counter to see a flood the log hides.
	OnDrop func(level slog.Level, msg string, dropped int)
}

// LevelNever returns a level above every record's, for a handler that
// writes only dyed requests, flights (a flight request's Error still
// flushes its buffer and is written) and audit lines.
func LevelNever() slog.Leveler { return slog.Level(1 << 30) }
