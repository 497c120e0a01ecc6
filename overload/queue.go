package overload

// waiter is one request waiting for a slot. Its fields other than ch are
// guarded by Controller.mu.
type waiter struct {
	key        uint16
	enqueued   int64 // controller nanotime at enqueue
	state      waitState
	prev, next *waiter
	ch         chan struct{} // receives one value when state leaves waiting
}

type waitState uint8

const (
	waiting waitState = iota
	granted
	displaced
)

// waitList is an intrusive FIFO of waiters. It is not synchronised; the
// Controller guards it with its mutex.
type waitList struct {
	head, tail *waiter
	n          int
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
}

func (q *waitList) popFront() *waiter {
	w := q.head
	if w != nil {
		q.remove(w)
	}
	return w
}

// leastImportant returns the waiter with the largest key, the latest to
// arrive among equals, scanning from the back. The queue is bounded, and this
// runs only when it is full.
func (q *waitList) leastImportant() *waiter {
	var worst *waiter
	for w := q.tail; w != nil; w = w.prev {
		if worst == nil || w.key > worst.key {
			worst = w
		}
	}
	return worst
}
