// Package logging is a log/slog handler for debugging production one user at
// a time: a "dyed" request logs at Debug while everyone else stays at Info,
// repeated lines are sampled, a request's debug records are kept in a
// flight recorder and written only if it fails, and secrets never reach the
// log.
//
//	h := logging.NewHandler(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: slog.Level(math.MinInt)}),
//		&logging.Options{FlightBytes: 64 << 10})
//	log := slog.New(h)
//	mux.Handle("/debug/dyes", h.DyeAdmin()) // POST /debug/dyes?key=alice&ttl=10m
//	mux.Handle("/", logging.Middleware(h, func(r *http.Request) string { return r.Header.Get("X-User") })(app))
//	// in app: log.DebugContext(r.Context(), "cache miss", "item", k)
//
// (Example_service compiles this), or simply logging.New(os.Stdout, nil)
// for a JSON logger.
//
// # Dyes
//
// WithKey tags a request's context with a key; Dyes holds the dyed keys
// with an expiry. Enabled(ctx, Debug) is true for a dyed request even when
// the level is Info. With no dye set it costs one atomic load beyond the
// level check; with dyes set, a context lookup and a map lookup, and no
// clock read: Enabled says yes for a listed key and Handle checks the
// dye's expiry against the record's time (the Clock's, when set), so a
// dye that just expired costs one dropped record, not a written one.
//
// # Sampling
//
// Options.Sampling keeps, per (level, message) and per Interval (aligned to
// the epoch), the first First records and then every Thereafter-th.
// Decisions are lock-free (one compare-and-swap). At most 4096 pairs are
// counted apart; further pairs share one counter. Error and above, and
// dyed requests, are never sampled. OnDrop sees every drop.
//
// # Flight recorder
//
// With FlightBytes > 0, WithFlight (or Middleware) gives a request a buffer
// of its below-level records, bounded by an estimate of the bytes they keep
// alive (the Record struct, message, keys and string values; 64 bytes per
// opaque value). When full the oldest records go. Just before the first
// Error record logged with that context the buffer is written in order
// (preceded by a Warn line counting evicted records, if any); from then on
// the request logs at every level. Records logged concurrently on the same
// request while the buffer is being written wait for it, so they never
// overtake the older, buffered ones (a wrapped handler must therefore not
// log through the same request's context from inside Handle). A request
// that never fails drops its buffer.
//
// With RingSize > 0 the handler keeps the last RingSize written records,
// served as JSON lines by Ring.
//
// # Redaction
//
// On by default: values of denylisted keys (DefaultRedactKeys, RedactKeys)
// become "[REDACTED]" at any depth: in groups, in WithAttrs, in context
// attributes added by With, and under a WithGroup whose name is denied.
// Keys match case-insensitively with '-' and '_' equivalent. HashKeys
// values become "h:" and 24 hex digits of HMAC-SHA256 keyed by HashKey.
// LogValuers are resolved before the check. Messages are never rewritten.
//
// # Output safety
//
// New's text output (slog's TextHandler) quotes any message, key or value
// holding a space, '=', '"', a control character, U+2028, U+2029 or other
// non-printing runes, with Go escapes, so input cannot forge a line.
// NewHandler leaves formatting to the handler it wraps.
//
// # What it does not do
//
// It does not rotate files, ship logs or write asynchronously. It redacts
// attribute keys, not the insides of opaque values: a struct or map logged
// with slog.Any is formatted by the wrapped handler, fields and all; give
// such types a LogValue method that returns a group, and its keys are
// checked like any other. Sampling
// counts are exact on one goroutine and under concurrency (one word per
// pair); beyond 4096 pairs they are shared. Context attributes are placed
// inside the handler's open groups, as record attributes are.
package logging
