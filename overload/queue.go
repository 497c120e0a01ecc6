package overload

import "math/bits"

// waiter is one request waiting for a slot. Its fields other than ch are
// guarded by Controller.mu.
type waiter struct {
	key          uint16
	enqueued     int64 // controller nanotime at enqueue
	state        waitState
	prev, next   *waiter       // arrival order, all classes
	cprev, cnext *waiter       // arrival order within the business class
	ch           chan struct{} // receives one value when state leaves waiting
}

type waitState uint8

const (
	waiting waitState = iota
	granted
	displaced
)

// waitList is the slot queue: every waiter is in one list in arrival order
// and in one list per business class, with a bitmap of the non-empty
// classes, so the oldest waiter and the oldest of the most important class
// are both found in O(1). It is not synchronised; the Controller guards it
// with its mutex.
type waitList struct {
	head, tail *waiter
	n          int
	class      [256]struct{ head, tail *waiter }
	nonEmpty   [4]uint64 // bit b of word w: class 64w+b has waiters
}

func (q *waitList) pushBack(w *waiter) {
	w.prev, w.next = q.tail, nil
	if q.tail == nil {
		q.head = w
	} else {
		q.tail.next = w
	}
	q.tail = w
	q.n++
	b := w.key >> 8
	cl := &q.class[b]
	w.cprev, w.cnext = cl.tail, nil
	if cl.tail == nil {
		cl.head = w
		q.nonEmpty[b>>6] |= 1 << (b & 63)
	} else {
		cl.tail.cnext = w
	}
	cl.tail = w
}

func (q *waitList) remove(w *waiter) {
	if w.prev == nil {
		q.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		q.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.prev, w.next = nil, nil
	q.n--
	b := w.key >> 8
	cl := &q.class[b]
	if w.cprev == nil {
		cl.head = w.cnext
	} else {
		w.cprev.cnext = w.cnext
	}
	if w.cnext == nil {
		cl.tail = w.cprev
	} else {
		w.cnext.cprev = w.cprev
	}
	w.cprev, w.cnext = nil, nil
	if cl.head == nil {
		q.nonEmpty[b>>6] &^= 1 << (b & 63)
	}
}

// mostImportantClass returns the oldest waiter of the most important
// business class with waiters, or nil.
func (q *waitList) mostImportantClass() *waiter {
	for i, m := range q.nonEmpty {
		if m != 0 {
			return q.class[i<<6|bits.TrailingZeros64(m)].head
		}
	}
	return nil
}

// leastImportant returns the waiter with the largest key, the latest to
// arrive among equals: a scan of the least important business class from
// its back. The queue is bounded, and this runs only when it is full.
func (q *waitList) leastImportant() *waiter {
	for i := len(q.nonEmpty) - 1; i >= 0; i-- {
		if m := q.nonEmpty[i]; m != 0 {
			var worst *waiter
			for w := q.class[i<<6|(63-bits.LeadingZeros64(m))].tail; w != nil; w = w.cprev {
				if worst == nil || w.key > worst.key {
					worst = w
				}
			}
			return worst
		}
	}
	return nil
}
