package breaker

// window is the rolling count of outcomes: a ring of buckets, each holding the
// outcomes of the calls admitted during one BucketPeriod. A result is booked
// into the bucket of its call's admission, as in gobreaker, and dropped when
// that bucket has left the window. It is not synchronised: the breaker's
// mutex guards it.
type window struct {
	buckets []bucket
	age     uint64 // index of the current bucket since the breaker's epoch
	total   Counts // sums of buckets; the Consecutive fields are the runs

	// Each run (of successes or failures) has an id; a bucket remembers how
	// many members of the current run it holds, so that when it leaves the
	// window the run loses exactly those members.
	runS, runF uint64
}

type bucket struct {
	requests, successes, failures, slow, excluded, rejected uint32
	runS, runF                                              uint32 // members of the current runs
	tagS, tagF                                              uint64 // run ids runS/runF belong to
}

func newWindow(n int) window {
	return window{buckets: make([]bucket, n), runS: 1, runF: 1}
}

// advance moves the window to age, clearing the buckets that left it.
func (w *window) advance(age uint64) {
	if age <= w.age {
		return
	}
	n := uint64(len(w.buckets))
	if age-w.age >= n {
		w.clear()
		w.age = age
		return
	}
	for a := w.age + 1; a <= age; a++ {
		w.expire(&w.buckets[a%n])
	}
	w.age = age
}

func (w *window) expire(b *bucket) {
	t := &w.total
	t.Requests -= b.requests
	t.Successes -= b.successes
	t.Failures -= b.failures
	t.Slow -= b.slow
	t.Excluded -= b.excluded
	t.Rejected -= b.rejected
	if b.tagS == w.runS {
		t.ConsecutiveSuccesses -= b.runS
	}
	if b.tagF == w.runF {
		t.ConsecutiveFailures -= b.runF
	}
	*b = bucket{}
}

// clear empties the window (a new generation).
func (w *window) clear() {
	clear(w.buckets)
	w.total = Counts{}
	w.runS++
	w.runF++
	// Bucket tags are zero after clear; the run ids never are.
	if w.runS == 0 {
		w.runS = 1
	}
	if w.runF == 0 {
		w.runF = 1
	}
}

func (w *window) cur() *bucket { return &w.buckets[w.age%uint64(len(w.buckets))] }

func (w *window) request() {
	w.cur().requests++
	w.total.Requests++
}

func (w *window) reject() {
	w.cur().rejected++
	w.total.Rejected++
}

// at returns the bucket of a call admitted at age, or nil if it left the
// window.
func (w *window) at(age uint64) *bucket {
	n := uint64(len(w.buckets))
	if age > w.age || w.age-age >= n {
		return nil
	}
	return &w.buckets[age%n]
}

func (w *window) success(age uint64, slow bool) {
	b := w.at(age)
	if b == nil {
		return
	}
	b.successes++
	w.total.Successes++
	if slow {
		b.slow++
		w.total.Slow++
	}
	if w.total.ConsecutiveFailures != 0 {
		w.runF++
		w.total.ConsecutiveFailures = 0
	}
	if b.tagS != w.runS {
		b.tagS, b.runS = w.runS, 0
	}
	b.runS++
	w.total.ConsecutiveSuccesses++
}

func (w *window) failure(age uint64, slow bool) {
	b := w.at(age)
	if b == nil {
		return
	}
	b.failures++
	w.total.Failures++
	if slow {
		b.slow++
		w.total.Slow++
	}
	if w.total.ConsecutiveSuccesses != 0 {
		w.runS++
		w.total.ConsecutiveSuccesses = 0
	}
	if b.tagF != w.runF {
		b.tagF, b.runF = w.runF, 0
	}
	b.runF++
	w.total.ConsecutiveFailures++
}

func (w *window) excluded(age uint64) {
	b := w.at(age)
	if b == nil {
		return
	}
	b.excluded++
	w.total.Excluded++
}
