package logging

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// flight is one request's buffer of below-level records: a queue of kept
// records, oldest first, whose charged sizes sum to at most the handler's
// FlightBytes. Each record is charged what it holds (see keep), so the
// bound is on memory, not on an estimate.
type flight struct {
	mu         sync.Mutex
	head, tail *keptRecord
	bytes      int
	dropped    int
	failed     bool // an Error was logged: later records pass straight through
	failedFast atomic.Bool
	// flushed is closed once the first Error's flush is written; later
	// records wait for it so they never overtake the flushed ones.
	flushed chan struct{}
}

// add buffers r (already prepared) and evicts the oldest records beyond
// limit. It reports false when the flight has failed and r must be
// written instead.
func (f *flight) add(h *Handler, r *slog.Record, limit int) bool {
	if f.failedFast.Load() {
		return f.waitFailed()
	}
	kr := new(keptRecord)
	fits := keep(kr, h, r, h.c.flightMode, true, limit)
	f.mu.Lock()
	if f.failed {
		f.mu.Unlock()
		return f.waitFailed()
	}
	defer f.mu.Unlock()
	if !fits {
		f.dropped++
		return true
	}
	if f.tail == nil {
		f.head = kr
	} else {
		f.tail.next = kr
	}
	f.tail = kr
	f.bytes += kr.size
	for f.bytes > limit {
		old := f.head
		f.head = old.next
		old.next = nil
		f.bytes -= old.size
		f.dropped++
	}
	if f.head == nil {
		f.tail = nil
	}
	return true
}

// waitFailed waits for the first Error's flush to be written and reports
// false: the record goes straight to the output.
func (f *flight) waitFailed() bool {
	f.mu.Lock()
	done := f.flushed
	f.mu.Unlock()
	<-done
	return false
}

// take marks the flight failed and returns its records oldest first; the
// caller must close f.flushed once they are written. Later callers wait
// for that and get nothing.
func (f *flight) take() (*keptRecord, int, bool) {
	f.mu.Lock()
	if f.failed {
		done := f.flushed
		f.mu.Unlock()
		<-done
		return nil, 0, false
	}
	defer f.mu.Unlock()
	f.failed = true
	f.failedFast.Store(true)
	f.flushed = make(chan struct{})
	head, d := f.head, f.dropped
	f.head, f.tail, f.bytes, f.dropped = nil, nil, 0, 0
	return head, d, true
}

// release frees the buffer of a request that ended.
func (f *flight) release() {
	f.mu.Lock()
	f.head, f.tail, f.bytes = nil, nil, 0
	f.mu.Unlock()
}

// flush writes the buffered records, oldest first, before the first Error
// record of the request (logged at t). Evicted records are announced by one
// Warn line at the top level of the output, outside the caller's groups.
func (h *Handler) flush(ctx context.Context, f *flight, t time.Time) error {
	head, dropped, first := f.take()
	if !first {
		return nil
	}
	defer close(f.flushed)
	var firstErr error
	if dropped > 0 {
		r := slog.NewRecord(t, slog.LevelWarn, "logging: flight recorder dropped earlier records", 0)
		r.AddAttrs(slog.Int("dropped", dropped))
		firstErr = h.c.root.write(ctx, &r)
	}
	for k := head; k != nil; k = k.next {
		r := k.record()
		if err := k.h.write(ctx, &r); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}
