package breaker

import (
	"sync"
	"sync/atomic"
	"time"
)

// MaxQueuedEvents bounds the events waiting for the hooks of one breaker
// (one key of a Group) while a hook runs. Past it, result and reject events
// are dropped and each state change is merged into the last one queued (see
// Hooks).
const MaxQueuedEvents = 256

type eventKind uint8

const (
	evNone eventKind = iota // a state change merged away
	evState
	evReject
	evResult
)

type event struct {
	kind     eventKind
	from, to State
	why      Reason
	err      error
	d        time.Duration
	at       time.Time
	retryAt  time.Time
	counts   Counts
	// stateDone: OnStateChange has seen this event (it exited its
	// goroutine before OnTransition could).
	stateDone bool
}

func (e *event) transition() Transition {
	return Transition{From: e.from, To: e.to, Reason: e.why, At: e.at, RetryAt: e.retryAt, Counts: e.counts}
}

func (h *Hooks) any() bool {
	return h.OnStateChange != nil || h.OnTransition != nil || h.OnReject != nil || h.OnResult != nil
}

// eventQueue holds the events of one breaker (in a Group, of one key:
// a key's new breaker takes over the queue of its evicted predecessor while
// events are still waiting in it) and delivers them to the hooks outside
// every lock, one at a time, in order. Whichever call finds events waiting
// and nobody delivering becomes the deliverer and drains the queue,
// including events queued meanwhile by other calls or by the hooks.
type eventQueue struct {
	name  string
	hooks *Hooks
	n     atomic.Int32 // len(events), read without the lock

	mu         sync.Mutex
	events     []event
	spare      []event
	lastState  int // index in events of the last state change, -1 if none
	delivering bool
	// orphan marks the queue of an evicted breaker; release (set by the
	// Group) forgets it once it runs dry, unless a new breaker of the key
	// took it over.
	orphan  bool
	release func(*eventQueue)
}

func newEventQueue(name string, h *Hooks) *eventQueue {
	return &eventQueue{name: name, hooks: h, lastState: -1}
}

// push queues e if its hook is set. The caller holds the breaker's mutex,
// so events queue in the order they happened.
func (q *eventQueue) push(e event) {
	switch {
	case e.kind == evState && q.hooks.OnStateChange == nil && q.hooks.OnTransition == nil,
		e.kind == evReject && q.hooks.OnReject == nil,
		e.kind == evResult && q.hooks.OnResult == nil:
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.events) >= MaxQueuedEvents {
		if e.kind != evState {
			return // full: results and rejects are dropped
		}
		if q.lastState >= 0 { // merge: from→a, a→to is from→to
			last := &q.events[q.lastState]
			from := last.from
			*last = e // the latest reason, time and counts
			last.from = from
			if last.from == last.to { // back where it started: nothing to report
				if q.lastState == len(q.events)-1 {
					q.events = q.events[:q.lastState]
				} else {
					last.kind = evNone
				}
				q.lastState = -1
				for i := len(q.events) - 1; i >= 0; i-- {
					if q.events[i].kind == evState {
						q.lastState = i
						break
					}
				}
			}
			q.n.Store(int32(len(q.events)))
			return
		}
		// No state change queued to merge into: queue this one past the
		// bound (once; later ones merge into it).
	}
	q.events = append(q.events, e)
	if e.kind == evState {
		q.lastState = len(q.events) - 1
	}
	q.n.Store(int32(len(q.events)))
}

// deliver calls the hooks for the queued events unless another goroutine
// is delivering. A hook that panics does not stop the delivery: the rest of
// the queue is delivered, then the first panic is re-raised on this
// goroutine. A hook that exits its goroutine (runtime.Goexit) hands the
// events not yet delivered back to the queue for the next call.
func (q *eventQueue) deliver() {
	if q.n.Load() == 0 {
		return
	}
	q.mu.Lock()
	if q.delivering || len(q.events) == 0 {
		q.mu.Unlock()
		return
	}
	q.delivering = true
	var (
		batch      []event
		i          int
		normal     bool
		first      bool // in the first hook of batch[i]
		firstPanic any
		panicked   bool
	)
	defer func() {
		if normal {
			return
		}
		// runtime.Goexit in a hook: the events after batch[i] go back to
		// the front of the queue.
		q.mu.Lock()
		from := i + 1
		if first && batch[i].kind == evState && q.hooks.OnTransition != nil {
			batch[i].stateDone = true // OnTransition still has to see it
			from = i
		}
		rest := append(batch[from:len(batch):len(batch)], q.events...)
		q.events = rest
		q.lastState = -1
		for j := len(rest) - 1; j >= 0; j-- {
			if rest[j].kind == evState {
				q.lastState = j
				break
			}
		}
		q.n.Store(int32(len(q.events)))
		q.delivering = false
		q.mu.Unlock()
	}()
	for len(q.events) > 0 {
		batch = q.events
		q.events = q.spare[:0]
		q.spare = nil
		q.lastState = -1
		q.n.Store(0)
		q.mu.Unlock()
		for i = 0; i < len(batch); i++ {
			first = true
			if !batch[i].stateDone {
				if p, ok := q.call(&batch[i], false); !ok && !panicked {
					firstPanic, panicked = p, true
				}
			}
			first = false
			if batch[i].kind == evState && q.hooks.OnTransition != nil {
				if p, ok := q.call(&batch[i], true); !ok && !panicked {
					firstPanic, panicked = p, true
				}
			}
		}
		clear(batch)
		q.mu.Lock()
		q.spare = batch[:0]
		batch = nil
	}
	q.delivering = false
	orphan := q.orphan
	q.mu.Unlock()
	normal = true
	if orphan && q.release != nil {
		q.release(q)
	}
	if panicked {
		panic(firstPanic)
	}
}

// call runs the hook of e (of a state change: OnStateChange, or with
// transition set OnTransition), reporting a panic instead of propagating
// it.
func (q *eventQueue) call(e *event, transition bool) (panicked any, ok bool) {
	defer func() {
		if !ok {
			panicked = recover()
		}
	}()
	h := q.hooks
	switch e.kind {
	case evState:
		if transition {
			h.OnTransition(q.name, e.transition())
		} else if h.OnStateChange != nil {
			h.OnStateChange(q.name, e.from, e.to)
		}
	case evReject:
		h.OnReject(q.name, e.err)
	case evResult:
		h.OnResult(q.name, e.err, e.d)
	}
	return nil, true
}

// idle reports whether nothing is queued or being delivered; q.mu is held.
func (q *eventQueue) idle() bool { return !q.delivering && len(q.events) == 0 }
