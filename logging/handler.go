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
	level   slog.Leveler
	dyes    *Dyes
	rd      redactor
	sampler *sampler
	flightN int
	ring    *ring
	clock   Clock
}

// Handler is a slog.Handler that adds per-request dyeing, sampling, a
// flight recorder and redaction in front of another handler. It is safe
// for concurrent use.
type Handler struct {
	c    *core
	next slog.Handler
	ops  *op // WithGroup/WithAttrs chain, replayed by Ring
	// denied is true once an open group's name is denylisted: every value
	// under it is redacted.
	denied bool
}

type op struct {
	parent *op
	group  string
	attrs  []slog.Attr
}

// NewHandler returns a Handler writing through next. next should accept
// every level (the Handler decides what is enabled): give slog's handlers
// a Level of math.MinInt or lower than any you log. A nil next discards.
func NewHandler(next slog.Handler, opts *Options) *Handler {
	if opts == nil {
		opts = &Options{}
	}
	if next == nil {
		next = slog.DiscardHandler
	}
	c := &core{level: opts.Level, dyes: opts.Dyes, clock: opts.Clock, flightN: opts.FlightBytes}
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
	if opts.RingSize > 0 {
		c.ring = &ring{entries: make([]flightEntry, opts.RingSize)}
	}
	return &Handler{c: c, next: next}
}

// New returns a logger writing JSON lines to w (text with Options.Text)
// through a Handler.
func New(w io.Writer, opts *Options) *slog.Logger {
	ho := &slog.HandlerOptions{Level: slog.Level(math.MinInt)}
	var next slog.Handler
	if opts != nil && opts.Text {
		next = slog.NewTextHandler(&delWriter{w: w}, ho)
	} else {
		next = slog.NewJSONHandler(w, ho)
	}
	return slog.New(NewHandler(next, opts))
}

// Dyes returns the dye set in use.
func (h *Handler) Dyes() *Dyes { return h.c.dyes }

// Enabled reports whether a record at level would be written (or buffered)
// for ctx. At or above the level it is one Leveler call; below it, with no
// dye and no FlightBytes, one more atomic load.
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

// isDyed checks the dye's expiry at the record's time (the Clock's when
// set), so no clock is read for it.
func (c *core) isDyed(st *reqState, r slog.Record) bool {
	if st == nil || !st.hasKey || !c.dyes.active() {
		return false
	}
	var now time.Time
	switch {
	case c.clock != nil:
		now = c.clock.Now()
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

// Handle writes, samples or buffers r.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	c := h.c
	st := stateFrom(ctx)
	if r.Level < c.level.Level() {
		switch {
		case c.isDyed(st, r):
		case st != nil && st.flight != nil && c.flightN > 0:
			h.prepare(&r, st)
			if st.flight.add(h, &r, c.flightN) {
				return nil
			}
		default:
			return nil // not enabled: the caller skipped Enabled
		}
		h.prepare(&r, st)
		return h.write(ctx, &r)
	}
	if r.Level < slog.LevelError {
		if c.sampler != nil && !c.isDyed(st, r) && !c.sampler.keep(r.Level, r.Message, c.nowNanos(r)) {
			return nil
		}
	} else if st != nil && st.flight != nil && c.flightN > 0 {
		if err := h.flush(ctx, st.flight, r); err != nil {
			return err
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

// prepare adds the context's attributes and redacts. A record that needs
// no change is left as is.
func (h *Handler) prepare(r *slog.Record, st *reqState) {
	rd := &h.c.rd
	need := h.denied || (st != nil && len(st.attrs) > 0)
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
	if st != nil {
		for _, a := range st.attrs {
			nr.AddAttrs(rd.rewrite(a, h.denied))
		}
	}
	r.Attrs(func(a slog.Attr) bool {
		nr.AddAttrs(rd.rewrite(a, h.denied))
		return true
	})
	*r = nr
}

// WithAttrs returns a handler whose records carry attrs, redacted now.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	red := h.c.rd.rewriteAll(attrs, h.denied)
	h2 := *h
	h2.next = h.next.WithAttrs(red)
	h2.ops = &op{parent: h.ops, attrs: red}
	return &h2
}

// WithGroup returns a handler that nests later attributes under name. If
// name is denylisted every value under it is redacted.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.next = h.next.WithGroup(name)
	h2.ops = &op{parent: h.ops, group: name}
	h2.denied = h.denied || h.c.rd.deny.match(name)
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
