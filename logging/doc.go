// Package logging is a log/slog handler for debugging production one user at
// a time: a "dyed" request logs at Debug while everyone else stays at Info,
// repeated lines are sampled, a request's debug records are kept in a
// flight recorder and written only if it fails, and the values of
// denylisted keys never reach the output.
//
//	log, h := logging.NewWithHandler(os.Stdout, &logging.Options{FlightBytes: 64 << 10, KeyAttr: "user"})
//	mux.Handle("/debug/dyes", h.DyeAdmin()) // curl -d key=alice -d ttl=10m host/debug/dyes
//	mux.Handle("/", logging.Middleware(h, func(r *http.Request) string { return r.Header.Get("X-User") })(app))
//	// in app: log.DebugContext(r.Context(), "cache miss", "item", k)
//
// (Example_service compiles this.) NewWithHandler writes JSON lines, or
// text with Options.Text; New is the same without the Handler; NewHandler
// wraps any slog.Handler.
//
// # Dyes
//
// WithKey tags a request's context with a key; Dyes holds the dyed keys
// with an expiry. Enabled(ctx, Debug) is true for a dyed request even when
// the level is Info. With no dye set and FlightBytes = 0 a below-level
// Enabled costs one atomic load beyond the level check. With dyes set it
// adds a context lookup and a map lookup, and no clock read: Enabled says
// yes for a listed key and Handle checks the dye's expiry against the
// set's Clock, or the record's time when it has none, so a dye that just
// expired costs one dropped record, not a written one. With FlightBytes >
// 0 every below-level Enabled looks the context up, since any request may
// carry a flight; the lookup walks the context's chain of values, so it
// costs more the deeper the context.
//
// WithKey adds no attribute by itself. Options.KeyAttr names an attribute
// that carries the key on every record of the request, so a dyed or
// flushed line says whose request it was (list it in HashKeys too to keep
// users joinable but unreadable).
//
// # Sampling
//
// Options.Sampling keeps, per (level, message) and per Interval (windows
// aligned to the epoch), the first First records and then every
// Thereafter-th. A record is counted in its own window, or in its pair's
// current window if that is later: a record stamped earlier than one
// already counted (loggers racing at a window boundary) never reopens an
// old window, so no window keeps more than First plus its Thereafter
// share, on one goroutine or many. Decisions are lock-free (an atomic add;
// an allocation when a pair moves to a new window). Pairs are counted in a
// table of 8192 slots, each pair in one of 16 slots from its hash; a pair
// that finds none free shares one overflow counter, and a slot whose pair
// logged nothing for two windows goes to the next new pair. Messages are
// not kept: pairs are told apart by a seeded 64-bit hash, the level and
// the message's length (two messages colliding on all three would share a
// count). Error and above, and dyed requests, are never sampled. OnDrop
// sees every drop.
//
// # Flight recorder
//
// With FlightBytes > 0, WithFlight (or Middleware) gives a request a buffer
// of its below-level records. The memory the buffer keeps alive is at most
// FlightBytes: each record is charged for what it holds, rounded up past
// the allocator's size classes: about 110 bytes of fixed fields, 40 bytes
// per attribute, its strings (copied into one block, so a short string cut
// from a long one does not pin the long one), and its opaque values as
// formatted (see Kept records). The benchmark's five-attribute line costs
// 400 bytes, an empty record 128. When full the oldest records go; a record
// bigger than FlightBytes is dropped. WithFlight itself costs about 180
// bytes per request outside the budget.
//
// Just before the first Error-or-above record logged with that context,
// whatever the handler's level, the buffer is written in order (preceded
// by a Warn line "logging: flight recorder dropped earlier records" at the
// top level, outside the caller's groups, when records were evicted); from
// then on the request logs at every level. Flushed records keep their own
// times, so they come after lines written in between: sort by time to
// interleave them. Records logged concurrently on the same request while
// the buffer is being written wait for it, so they never overtake the
// buffered ones (a wrapped handler must therefore not log through the same
// request's context from inside Handle). A request that never fails drops
// its buffer.
//
// With RingSize > 0 the handler keeps the last RingSize written records,
// served as JSON lines by Ring. The ring is bounded by count, not bytes: a
// record holding a large value keeps it.
//
// # Kept records
//
// A record kept after Handle returns (in a flight buffer or the ring) has
// its opaque values (slog.Any of a map, slice, struct, pointer, error)
// formatted at log time, on the logging goroutine: the output shows the
// value as it was when logged, and a later flush or Ring request never
// reads memory the caller may be changing (a map read while it is written
// is a fatal error in Go, which no recover catches). The value is replaced
// by a stand-in that marshals to the JSON and text the value had and
// prints (String, %+v) as it printed; errors stay errors, with their
// message and %+v text. slog's JSONHandler and TextHandler write exactly
// what the live value would have; a ReplaceAttr or handler that looks at
// a value's concrete type sees the stand-in. Byte slices are copied;
// numbers, strings and other scalars are kept as they are.
//
// # Redaction
//
// On by default: values of denylisted keys (DefaultRedactKeys, RedactKeys)
// become "[REDACTED]" at any depth: in groups, in WithAttrs, in context
// attributes added by With, and under a WithGroup whose name is denied.
// Keys match case-insensitively with '-' and '_' equivalent. HashKeys
// values become "h:" and 24 hex digits of HMAC-SHA256 keyed by HashKey, of
// the value's text: a string's or []byte's bytes, a TextMarshaler's text,
// an error's message. Under a hashed key (a group, or a WithGroup of that
// name) every value is hashed one by one; a key both denied and hashed is
// redacted. LogValuers are resolved before the check. Messages are never
// rewritten.
//
// # Output safety
//
// New's text output (slog's TextHandler) quotes any message, key or value
// holding a space, '=', '"', a control character (DEL included), U+2028,
// U+2029 or other non-printing runes, with Go escapes, so input cannot
// forge a line. New's JSON output is slog's, which escapes control
// characters, U+2028 and U+2029, plus an escape of U+0085, so each record
// is one line for \n readers and Unicode-aware ones (Python's splitlines)
// alike; the Ring's output is the same. A record attribute named "level" or
// "msg" is written as given, after the built-in ones, as slog does: a JSON
// reader that keeps the last duplicate key sees it. NewHandler leaves
// formatting to the handler it wraps.
//
// # What it does not do
//
// It does not rotate files, ship logs or write asynchronously. It redacts
// by attribute key only: a secret inside a message, inside the text of an
// error logged under an ordinary key, or inside an opaque value (a struct
// or map logged with slog.Any is formatted fields and all) is written; give
// such types a LogValue method that returns a group, and its keys are
// checked like any other. Context attributes are placed inside the
// handler's open groups, as record attributes are.
package logging
