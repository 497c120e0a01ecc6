package logging

import (
	"context"
	"io"
	"log/slog"
	"math"
	"time"
)

// core is what every handler derived from one NewHandler call shares.
type core struct {
	level      slog.Leveler
	dyes       *Dyes
	rd         redactor
	sampler    *sampler
	flightN    int
	flightMode freezeMode // what kept flight records need of opaque values
	ring       *ring
	clock      Clock
	keyAttr    string
	root       *Handler // the handler NewHandler returned: no groups, no attrs
}

// Handler is a slog.Handler that adds per-request dyeing, sampling, a
// flight recorder and redaction in front of another handler. It is safe
// for concurrent use.
type Handler struct {
	c    *core
	next slog.Handler
	ops  *op // WithGroup/WithAttrs chain, replayed by Ring
	// under is what happens to every value below the open groups: set
	// once a group's name is denied (redacted) or a HashKey (hashed).
	under under
}

type op struct {
	parent *op
	group  string
	attrs  []slog.Attr
}

// NewHandler returns a Handler writing through next. A nil next discards.
//
// The Handler decides what is enabled and calls next.Handle without
// asking next.Enabled, so next's own level does not filter: slog's
// JSONHandler and TextHandler check their level only in Enabled and can be
// built with nil options. Only a handler that filters inside Handle needs a
// level at or below the lowest one you log. Options.Text does not apply
// (next formats); NewWithHandler gives a Handler over a writer, JSON or
// text.
func NewHandler(next slog.Handler, opts *Options) *Handler {
	if opts == nil {
		opts = &Options{}
	}
	if next == nil {
		next = slog.DiscardHandler
	}
	c := &core{level: opts.Level, dyes: opts.Dyes, clock: opts.Clock, flightN: opts.FlightBytes, keyAttr: opts.KeyAttr}
	if c.level == nil {
		c.level = slog.LevelInfo
	}
	if c.dyes == nil {
		c.dyes = &Dyes{Clock: opts.Clock}
	}
	if opts.NoDefaultRedact {
		c.rd.deny = newKeySet(opts.RedactKeys)
	} else {
		c.rd.deny = newKeySet(defaultRedactKeys, opts.RedactKeys)
	}
	c.rd.hash = newKeySet(opts.HashKeys)
	c.rd.hashKey = opts.HashKey
	if opts.Sampling != nil {
		c.sampler = newSampler(opts.Sampling)
	}
	c.flightMode = modeOf(next)
	if opts.RingSize > 0 {
		c.ring = &ring{entries: make([]ringEntry, opts.RingSize)}
		c.flightMode |= freezeJSON // flushed records go to the ring too
	}
	c.root = &Handler{c: c, next: next}
	return c.root
}

// New returns a logger writing JSON lines to w (text with Options.Text)
// through a Handler. The logger's Handler() is that *Handler; to get it
// typed, for DyeAdmin, Ring and Middleware, use NewWithHandler.
func New(w io.Writer, opts *Options) *slog.Logger {
	l, _ := NewWithHandler(w, opts)
	return l
}

// NewWithHandler is New that also returns the Handler, for DyeAdmin, Ring,
// Dyes and Middleware:
//
//	log, h := logging.NewWithHandler(os.Stdout, &logging.Options{Text: true})
//	mux.Handle("/debug/dyes", h.DyeAdmin())
func NewWithHandler(w io.Writer, opts *Options) (*slog.Logger, *Handler) {
	ho := &slog.HandlerOptions{Level: slog.Level(math.MinInt)}
	var next slog.Handler
	if opts != nil && opts.Text {
		next = slog.NewTextHandler(&delWriter{w: w}, ho)
	} else {
		next = slog.NewJSONHandler(&nelWriter{w: w}, ho)
	}
	h := NewHandler(next, opts)
	return slog.New(h), h
}

// Dyes returns the dye set in use.
func (h *Handler) Dyes() *Dyes { return h.c.dyes }

// Enabled reports whether a record at level would be written (or buffered)
// for ctx. At or above the level it is one Leveler call; below it, with no
// dye and no FlightBytes, one more atomic load. With FlightBytes > 0 every
// below-level call looks ctx up (a walk up its chain of values), since any
// request may carry a flight.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	c := h.c
	if level >= c.level.Level() {
		return true
	}
	if c.flightN <= 0 && c.dyes.cur.Load() == nil {
		return false // no dye, no flight: one atomic load
	}
	return h.enabledBelow(ctx)
}

func (h *Handler) enabledBelow(ctx context.Context) bool {
	c := h.c
	st := stateFrom(ctx)
	if st == nil {
		return false
	}
	if st.flight != nil && c.flightN > 0 {
		return true
	}
	return st.hasKey && c.dyes.listed(st.key)
}

// isDyed checks the dye's expiry against the clock the Dyes set was filled
// with: its own Clock when it has one, else the record's time (which came
// from time.Now, as the expiry did), so no clock is read for it.
func (c *core) isDyed(st *reqState, r slog.Record) bool {
	if st == nil || !st.hasKey || !c.dyes.active() {
		return false
	}
	var now time.Time
	switch {
	case c.dyes.Clock != nil:
		now = c.dyes.Clock.Now()
	case !r.Time.IsZero():
		now = r.Time
	default:
		now = time.Now()
	}
	return c.dyes.dyedAt(st.key, now)
}

func (c *core) nowNanos(r slog.Record) int64 {
	if c.clock != nil {
		return c.clock.Now().UnixNano()
	}
	if !r.Time.IsZero() {
		return r.Time.UnixNano()
	}
	return time.Now().UnixNano()
}

// Handle writes, samples or buffers r. Each record is prepared (context
// attributes added, redacted, hashed) exactly once.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	c := h.c
	st := stateFrom(ctx)
	var fl *flight
	if st != nil && st.flight != nil && c.flightN > 0 {
		fl = st.flight
	}
	switch {
	case fl != nil && r.Level >= slog.LevelError:
		// The flight's trigger, whatever the handler's level: the buffer
		// first, then the record.
		if err := h.flush(ctx, fl, r.Time); err != nil {
			return err
		}
	case r.Level < c.level.Level():
		switch {
		case c.isDyed(st, r):
		case fl != nil:
			h.prepare(&r, st)
			if fl.add(h, &r, c.flightN) {
				return nil
			}
			return h.write(ctx, &r) // the flight failed: log at every level
		default:
			return nil // not enabled: the caller skipped Enabled
		}
	case r.Level < slog.LevelError && c.sampler != nil:
		if !c.isDyed(st, r) && !c.sampler.keep(r.Level, r.Message, c.nowNanos(r)) {
			return nil
		}
	}
	h.prepare(&r, st)
	return h.write(ctx, &r)
}

// write sends an already prepared record to the ring and next.
func (h *Handler) write(ctx context.Context, r *slog.Record) error {
	if h.c.ring != nil {
		h.c.ring.add(h, r)
	}
	return h.next.Handle(ctx, *r)
}

// prepare adds the request's key (KeyAttr) and context attributes and
// redacts. A record that needs no change is left as is.
func (h *Handler) prepare(r *slog.Record, st *reqState) {
	c := h.c
	rd := &c.rd
	keyAttr := c.keyAttr != "" && st != nil && st.hasKey
	need := h.under != underNone || keyAttr || (st != nil && len(st.attrs) > 0)
	if !need {
		r.Attrs(func(a slog.Attr) bool {
			switch a.Value.Kind() {
			case slog.KindGroup, slog.KindLogValuer:
				need = rd.needs(a)
			default: // the common case, without the recursive call
				need = rd.deny.match(a.Key) || rd.hash.match(a.Key)
			}
			return !need
		})
		if !need {
			return
		}
	}
	nr := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	if keyAttr {
		nr.AddAttrs(rd.rewrite(slog.String(c.keyAttr, st.key), h.under))
	}
	if st != nil {
		for _, a := range st.attrs {
			nr.AddAttrs(rd.rewrite(a, h.under))
		}
	}
	r.Attrs(func(a slog.Attr) bool {
		nr.AddAttrs(rd.rewrite(a, h.under))
		return true
	})
	*r = nr
}

// WithAttrs returns a handler whose records carry attrs, redacted now.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	red := h.c.rd.rewriteAll(attrs, h.under)
	h2 := *h
	h2.next = h.next.WithAttrs(red)
	kept := red
	if h.c.ring != nil {
		// The ring formats these again at each GET: freeze them now.
		k := keeper{mode: freezeRing}
		kept = make([]slog.Attr, len(red))
		for i, a := range red {
			kept[i] = k.attr(a)
		}
	}
	h2.ops = &op{parent: h.ops, attrs: kept}
	return &h2
}

// WithGroup returns a handler that nests later attributes under name. If
// name is denylisted every value under it is redacted; if it is a HashKey
// every value under it is hashed.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.next = h.next.WithGroup(name)
	h2.ops = &op{parent: h.ops, group: name}
	h2.under = h.c.rd.below(h.under, name)
	return &h2
}

// replay applies h's WithGroup/WithAttrs chain to base.
func (h *Handler) replay(base slog.Handler) slog.Handler {
	var chain []*op
	for o := h.ops; o != nil; o = o.parent {
		chain = append(chain, o)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		if chain[i].group != "" {
			base = base.WithGroup(chain[i].group)
		} else {
			base = base.WithAttrs(chain[i].attrs)
		}
	}
	return base
}
