package logging

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"net/http"
	"sync"
)

// ring keeps the last n written records of the process.
type ring struct {
	mu      sync.Mutex
	entries []keptRecord
	next    int
	full    bool
}

// add keeps r with its opaque values frozen as JSON (the ring's only
// format), so a later GET never formats a value the caller still holds.
func (rg *ring) add(h *Handler, r *slog.Record) {
	var k keptRecord
	keep(&k, h, r, freezeJSON, false, 0)
	rg.mu.Lock()
	rg.entries[rg.next] = k
	rg.next++
	if rg.next == len(rg.entries) {
		rg.next, rg.full = 0, true
	}
	rg.mu.Unlock()
}

// snapshot returns the records oldest first.
func (rg *ring) snapshot() []keptRecord {
	rg.mu.Lock()
	defer rg.mu.Unlock()
	var out []keptRecord
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
func writeJSONLines(buf *bytes.Buffer, ks []keptRecord) {
	jh := slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.Level(math.MinInt)})
	cache := map[*Handler]slog.Handler{}
	for i := range ks {
		k := &ks[i]
		hh, ok := cache[k.h]
		if !ok {
			hh = k.h.replay(jh)
			cache[k.h] = hh
		}
		_ = hh.Handle(context.Background(), k.record())
	}
}
