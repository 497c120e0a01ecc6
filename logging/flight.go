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
// flightChunk is the unit the buffer grows by, so growth never copies
// records already buffered.
const flightChunk = 32

type flight struct {
	mu      sync.Mutex
	chunks  []*[flightChunk]flightEntry
	head    int // index of the oldest live entry in chunks[0]
	tail    int // number of used entries in the last chunk
	bytes   int
	dropped int
	failed  bool // an Error was logged: later records pass straight through
	// flushed is closed once the first Error's flush is written; later
	// records wait for it so they never overtake the flushed ones.
	flushed chan struct{}
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
func (f *flight) add(h *Handler, r *slog.Record, limit int) bool {
	size := recordSize(*r)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failed {
		done := f.flushed
		f.mu.Unlock()
		<-done
		f.mu.Lock()
		return false
	}
	if size > limit {
		f.dropped++
		return true
	}
	if len(f.chunks) == 0 || f.tail == flightChunk {
		f.chunks = append(f.chunks, new([flightChunk]flightEntry))
		f.tail = 0
	}
	f.chunks[len(f.chunks)-1][f.tail] = flightEntry{h: h, r: r.Clone(), size: size}
	f.tail++
	f.bytes += size
	for f.bytes > limit {
		c := f.chunks[0]
		f.bytes -= c[f.head].size
		c[f.head] = flightEntry{}
		f.head++
		f.dropped++
		if f.head == flightChunk || (len(f.chunks) == 1 && f.head == f.tail) {
			f.chunks[0] = nil
			f.chunks = f.chunks[1:]
			f.head = 0
			if len(f.chunks) == 0 {
				f.tail = 0
			}
		}
	}
	return true
}

// ordered returns the live entries oldest first.
func (f *flight) ordered() []flightEntry {
	var out []flightEntry
	for i, c := range f.chunks {
		lo, hi := 0, flightChunk
		if i == 0 {
			lo = f.head
		}
		if i == len(f.chunks)-1 {
			hi = f.tail
		}
		out = append(out, c[lo:hi]...)
	}
	return out
}

// take marks the flight failed and returns its records in order; the
// caller must close f.flushed once they are written. Later callers wait
// for that and get nothing.
func (f *flight) take() ([]flightEntry, int, bool) {
	f.mu.Lock()
	if f.failed {
		done := f.flushed
		f.mu.Unlock()
		<-done
		return nil, 0, false
	}
	defer f.mu.Unlock()
	f.failed = true
	f.flushed = make(chan struct{})
	out := f.ordered()
	d := f.dropped
	f.chunks, f.head, f.tail, f.bytes, f.dropped = nil, 0, 0, 0, 0
	return out, d, true
}

// release frees the buffer of a request that ended.
func (f *flight) release() {
	f.mu.Lock()
	f.chunks, f.head, f.tail, f.bytes = nil, 0, 0, 0
	f.mu.Unlock()
}

func (h *Handler) flush(ctx context.Context, f *flight, errRec slog.Record) error {
	es, dropped, first := f.take()
	if !first {
		return nil
	}
	defer close(f.flushed)
	if dropped > 0 {
		r := slog.NewRecord(errRec.Time, slog.LevelWarn, "flight recorder dropped earlier records", 0)
		r.AddAttrs(slog.Int("dropped", dropped))
		if err := h.write(ctx, &r); err != nil {
			return err
		}
	}
	for _, e := range es {
		if err := e.h.write(ctx, &e.r); err != nil {
			return err
		}
	}
	return nil
}
