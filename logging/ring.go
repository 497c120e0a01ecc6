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
	entries []flightEntry
	next    int
	full    bool
}

func (rg *ring) add(h *Handler, r *slog.Record) {
	c := r.Clone()
	rg.mu.Lock()
	rg.entries[rg.next] = flightEntry{h: h, r: c}
	rg.next++
	if rg.next == len(rg.entries) {
		rg.next, rg.full = 0, true
	}
	rg.mu.Unlock()
}

// snapshot returns the records oldest first.
func (rg *ring) snapshot() []flightEntry {
	rg.mu.Lock()
	defer rg.mu.Unlock()
	var out []flightEntry
	if rg.full {
		out = append(out, rg.entries[rg.next:]...)
	}
	return append(out, rg.entries[:rg.next]...)
}

// Ring serves the last RingSize written records as JSON lines, newest
// last, whatever the wrapped handler's format. With RingSize = 0 it
// answers 404.
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
		_, _ = w.Write(buf.Bytes())
	})
}

// writeJSONLines formats entries as JSON lines through slog's JSONHandler
// with each entry's handler attributes and groups.
func writeJSONLines(buf *bytes.Buffer, es []flightEntry) {
	jh := slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.Level(math.MinInt)})
	cache := map[*Handler]slog.Handler{}
	for _, e := range es {
		hh, ok := cache[e.h]
		if !ok {
			hh = e.h.replay(jh)
			cache[e.h] = hh
		}
		_ = hh.Handle(context.Background(), e.r)
	}
}
