package logging

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"
)

// ring keeps the last n written records of the process.
type ring struct {
	mu      sync.Mutex
	entries []ringEntry
	next    int
	full    bool
}

// ringEntry is a written record, its opaque values frozen. Attributes are
// held inline up to ringInline, so keeping a typical line allocates
// nothing.
type ringEntry struct {
	h     *Handler
	time  time.Time
	msg   string
	level slog.Level
	pc    uintptr
	n     int
	front [ringInline]slog.Attr
	back  []slog.Attr
}

const ringInline = 6

func (e *ringEntry) record() slog.Record {
	r := slog.NewRecord(e.time, e.level, e.msg, e.pc)
	r.AddAttrs(e.front[:min(e.n, ringInline)]...)
	r.AddAttrs(e.back...)
	return r
}

// add keeps r with its opaque values frozen as JSON (the ring's only
// format), so a later GET never formats a value the caller still holds.
func (rg *ring) add(h *Handler, r *slog.Record) {
	e := ringEntry{h: h, time: r.Time, msg: r.Message, level: r.Level, pc: r.PC}
	k := keeper{mode: freezeRing}
	r.Attrs(func(a slog.Attr) bool {
		switch a.Value.Kind() {
		case slog.KindAny, slog.KindGroup, slog.KindLogValuer:
			a.Value = k.value(a.Value)
		}
		if e.n < ringInline {
			e.front[e.n] = a
		} else {
			e.back = append(e.back, a)
		}
		e.n++
		return true
	})
	rg.mu.Lock()
	rg.entries[rg.next] = e
	rg.next++
	if rg.next == len(rg.entries) {
		rg.next, rg.full = 0, true
	}
	rg.mu.Unlock()
}

// snapshot returns the records oldest first.
func (rg *ring) snapshot() []ringEntry {
	rg.mu.Lock()
	defer rg.mu.Unlock()
	var out []ringEntry
	if rg.full {
		out = append(out, rg.entries[rg.next:]...)
	}
	return append(out, rg.entries[:rg.next]...)
}

// Ring serves the last RingSize written records as JSON lines, newest
// last, whatever the wrapped handler's format: 200 for GET, 405 for other
// methods, 404 when RingSize = 0. Opaque values (slog.Any of a map, a
// struct, a pointer) show as they were when logged: they are formatted as
// JSON when the record is kept.
func (h *Handler) Ring() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.c.ring == nil {
			http.Error(w, "logging: ring disabled (RingSize = 0)", http.StatusNotFound)
			return
		}
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			http.Error(w, "logging: method not allowed", http.StatusMethodNotAllowed)
			return
		}
		var buf bytes.Buffer
		writeJSONLines(&buf, h.c.ring.snapshot())
		w.Header().Set("Content-Type", "application/x-ndjson")
		_, _ = w.Write(escapeNEL(buf.Bytes()))
	})
}

// writeJSONLines formats records as JSON lines through slog's JSONHandler
// with each record's handler attributes and groups.
func writeJSONLines(buf *bytes.Buffer, es []ringEntry) {
	jh := slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.Level(math.MinInt)})
	cache := map[*Handler]slog.Handler{}
	for i := range es {
		e := &es[i]
		hh, ok := cache[e.h]
		if !ok {
			hh = e.h.replay(jh)
			cache[e.h] = hh
		}
		_ = hh.Handle(context.Background(), e.record())
	}
}
