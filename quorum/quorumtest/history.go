package quorumtest

import (
	"sync"
	"sync/atomic"

	"github.com/anishathalye/porcupine"
)

// Kind is the kind of a client operation in a History.
type Kind uint8

// The operations of the key-value register model.
const (
	KindGet Kind = iota + 1
	KindPut
	KindDelete
)

func (k Kind) String() string {
	switch k {
	case KindGet:
		return "get"
	case KindPut:
		return "put"
	case KindDelete:
		return "delete"
	}
	return "invalid"
}

// Input is what a client asked for. Value is the value a put writes; give
// every put a distinct value, so that a read shows which put it saw.
type Input struct {
	Kind  Kind
	Key   string
	Value string
}

// Output is what a client got back.
type Output struct {
	// Value and Found are a get's result: Found is false for a missing or
	// deleted key.
	Value string
	Found bool
	// Unknown marks an outcome the client could not learn (a timeout, an
	// indeterminate write): the operation may or may not have taken effect.
	Unknown bool
}

// DefaultMaxOps bounds a History when HistoryOptions.MaxOps is zero.
const DefaultMaxOps = 1 << 20

// HistoryOptions configure NewHistory. The zero value is usable.
type HistoryOptions struct {
	// Clock returns the current time as an int64 that never decreases.
	// Default: a sequence number private to the History, incremented at
	// every call and return. It orders events exactly as linearizability
	// needs (an operation that returned before another was called gets a
	// smaller timestamp), is immune to clock steps, and works unchanged in
	// testing/synctest bubbles, where many events share one fake instant.
	Clock func() int64
	// MaxOps bounds the number of recorded operations; default
	// DefaultMaxOps. Operations past the bound are not recorded and
	// Overflowed reports it.
	MaxOps int
}

// History records client operations for a linearizability check. It is safe
// for concurrent use by any number of clients.
//
// Every operation is recorded with Call before it starts and completed with
// exactly one of Pending.Ok, Pending.Unknown or Pending.Failed. An operation
// whose effect is unknown (a timeout, quorum.ErrIndeterminate) must be
// completed with Unknown: it is then modelled as possibly having happened at
// any time after its call, never as a success, and never as not having
// happened.
type History struct {
	clock  func() int64
	seq    atomic.Int64
	maxOps int

	mu         sync.Mutex
	ops        []porcupine.Operation
	unknown    []bool // parallel to ops: the return time is infinity
	overflowed bool
}

// NewHistory returns an empty History.
func NewHistory(opts HistoryOptions) *History {
	h := &History{clock: opts.Clock, maxOps: opts.MaxOps}
	if h.maxOps <= 0 {
		h.maxOps = DefaultMaxOps
	}
	if h.clock == nil {
		h.clock = func() int64 { return h.seq.Add(1) }
	}
	return h
}

// Pending is an operation that was called and has not completed. Its methods
// are safe to call from the goroutine that made the call; completing an
// operation twice, or completing a nil Pending, does nothing.
type Pending struct {
	h    *History
	idx  int // -1: not recorded (overflow)
	done atomic.Bool
}

// Call records that client called the operation in and returns the handle
// that completes it. Clients are numbered from zero; a client has at most
// one operation pending at a time.
func (h *History) Call(client int, in Input) *Pending {
	now := h.clock()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.ops) >= h.maxOps {
		h.overflowed = true
		return &Pending{h: h, idx: -1}
	}
	if client < 0 {
		client = 0
	}
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Call: now, Return: -1})
	h.unknown = append(h.unknown, false)
	return &Pending{h: h, idx: len(h.ops) - 1}
}

// Ok records that the operation returned out. An out with Unknown set is
// recorded as by Unknown.
func (p *Pending) Ok(out Output) {
	if out.Unknown {
		p.Unknown()
		return
	}
	p.complete(out, false, false)
}

// Unknown records that the operation's outcome is unknown: a write may or may
// not have been applied, a read returned nothing usable.
func (p *Pending) Unknown() { p.complete(Output{Unknown: true}, true, false) }

// Failed records that the operation certainly had no effect (for example a
// write that failed with quorum.ErrNotApplied, or a read that returned an
// error): it is dropped from the history.
func (p *Pending) Failed() { p.complete(Output{}, false, true) }

func (p *Pending) complete(out Output, unknown, drop bool) {
	if p == nil || p.idx < 0 || !p.done.CompareAndSwap(false, true) {
		return
	}
	now := p.h.clock()
	h := p.h
	h.mu.Lock()
	defer h.mu.Unlock()
	op := &h.ops[p.idx]
	if drop {
		op.Input = nil // dropped when exported
		return
	}
	op.Output = out
	op.Return = now
	h.unknown[p.idx] = unknown
}

// Len returns the number of recorded operations, pending ones included.
func (h *History) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ops)
}

// Overflowed reports whether operations were left out because of MaxOps. A
// check of an overflowed history proves nothing about the missing part.
func (h *History) Overflowed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.overflowed
}

// Operations returns a copy of the history in porcupine's form. Failed
// operations are left out. Operations with an unknown outcome, and those
// still pending, return "at infinity": after every other event, so the
// checker may place their effect anywhere after their call, or nowhere.
func (h *History) Operations() []porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	var last int64
	for _, op := range h.ops {
		last = max(last, op.Call, op.Return)
	}
	infinity := last + 1
	out := make([]porcupine.Operation, 0, len(h.ops))
	for i, op := range h.ops {
		if op.Input == nil {
			continue
		}
		if op.Return < 0 || h.unknown[i] {
			op.Return = infinity
			op.Output = Output{Unknown: true}
		}
		out = append(out, op)
	}
	return out
}
