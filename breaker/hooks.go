package breaker

import "time"

type eventKind uint8

const (
	evState eventKind = iota
	evReject
	evResult
)

type event struct {
	kind     eventKind
	from, to State
	err      error
	d        time.Duration
}

// unlock releases b.mu and delivers queued events, if any.
func (b *Breaker[T]) unlock() {
	pending := len(b.events) > 0 && !b.delivering
	b.mu.Unlock()
	if pending {
		b.deliver()
	}
}

// deliver calls the hooks for queued events, outside the lock, one
// goroutine at a time: events queued by other goroutines (or by a hook
// calling back in) while it runs are delivered by the same loop, so they
// arrive in the order they were queued.
func (b *Breaker[T]) deliver() {
	b.mu.Lock()
	if b.delivering {
		b.mu.Unlock()
		return
	}
	b.delivering = true
	ok := false
	defer func() {
		if !ok { // a hook panicked: let the next call deliver the rest
			b.mu.Lock()
			b.delivering = false
			b.mu.Unlock()
		}
	}()
	for len(b.events) > 0 {
		batch := b.events
		b.events = b.spare[:0]
		b.spare = nil
		b.mu.Unlock()
		for i := range batch {
			b.call(&batch[i])
		}
		clear(batch)
		b.mu.Lock()
		b.spare = batch[:0]
	}
	b.delivering = false
	ok = true
	b.mu.Unlock()
}

func (b *Breaker[T]) call(e *event) {
	h := &b.s.hooks
	switch e.kind {
	case evState:
		h.OnStateChange(b.name, e.from, e.to)
	case evReject:
		h.OnReject(b.name, e.err)
	case evResult:
		h.OnResult(b.name, e.err, e.d)
	}
}
