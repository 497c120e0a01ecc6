package logging

import (
	"context"
	"log/slog"
	"sync"
	"unsafe"
)

// recordOverhead is the fixed cost charged per buffered record: the
// Record struct itself.
const recordOverhead = int(unsafe.Sizeof(slog.Record{}))

// flight is one request's buffer of below-level records.
type flight struct {
	mu      sync.Mutex
	entries []flightEntry
	head    int // entries[head:] are live
	bytes   int
	dropped int
	failed  bool // an Error was logged: later records pass straight through
}

type flightEntry struct {
	h    *Handler
	r    slog.Record
	size int
}

// recordSize estimates the bytes a buffered record keeps alive.
func recordSize(r slog.Record) int {
	n := recordOverhead + len(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		n += attrSize(a)
		return true
	})
	return n
}

func attrSize(a slog.Attr) int {
	n := int(unsafe.Sizeof(a)) + len(a.Key)
	switch a.Value.Kind() {
	case slog.KindString:
		n += len(a.Value.String())
	case slog.KindGroup:
		for _, c := range a.Value.Group() {
			n += attrSize(c)
		}
	case slog.KindAny, slog.KindLogValuer:
		n += 64 // unknown; a flat estimate
	}
	return n
}

// add buffers r (already redacted) and evicts the oldest records beyond
// limit. It reports false when the flight has failed and r must be
// written instead.
func (f *flight) add(h *Handler, r slog.Record, limit int) bool {
	size := recordSize(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failed {
		return false
	}
	if size > limit {
		f.dropped++
		return true
	}
	f.entries = append(f.entries, flightEntry{h: h, r: r.Clone(), size: size})
	f.bytes += size
	for f.bytes > limit {
		f.bytes -= f.entries[f.head].size
		f.entries[f.head] = flightEntry{}
		f.head++
		f.dropped++
	}
	if f.head > len(f.entries)/2 && f.head > 16 {
		n := copy(f.entries, f.entries[f.head:])
		clear(f.entries[n:])
		f.entries = f.entries[:n]
		f.head = 0
	}
	return true
}

// take marks the flight failed and returns its records in order.
func (f *flight) take() ([]flightEntry, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failed {
		return nil, 0
	}
	f.failed = true
	out := f.entries[f.head:]
	d := f.dropped
	f.entries, f.head, f.bytes, f.dropped = nil, 0, 0, 0
	return out, d
}

// release frees the buffer of a request that ended.
func (f *flight) release() {
	f.mu.Lock()
	f.entries, f.head, f.bytes = nil, 0, 0
	f.mu.Unlock()
}

func (h *Handler) flush(ctx context.Context, f *flight, errRec slog.Record) error {
	es, dropped := f.take()
	if dropped > 0 {
		r := slog.NewRecord(errRec.Time, slog.LevelWarn, "flight recorder dropped earlier records", 0)
		r.AddAttrs(slog.Int("dropped", dropped))
		if err := h.write(ctx, r); err != nil {
			return err
		}
	}
	for _, e := range es {
		if err := e.h.write(ctx, e.r); err != nil {
			return err
		}
	}
	return nil
}
