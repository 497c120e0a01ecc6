package breaker

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
)

// DefaultMaxKeys bounds a Group when GroupConfig.MaxKeys is zero.
const DefaultMaxKeys = 10_000

// evictScan bounds the breakers one sweep examines: adding a key costs at
// most three sweeps (table, overflow, table again to promote an overflow
// key in use), however full the Group is.
const evictScan = 32

// GroupConfig configures a Group.
type GroupConfig struct {
	// Breaker configures every key's breaker; its Name is replaced by the
	// key, which the hooks receive as the name.
	Breaker Config
	// MaxKeys bounds the breakers kept in the Group's table. Zero means
	// 10,000. A Group also holds up to ⌈MaxKeys/16⌉ overflow breakers (see
	// Group).
	MaxKeys int
	// MaxOpenFraction caps the share of the Group's breakers that the
	// trip rule may hold open or half-open (Envoy's max_ejection_percent):
	// when most keys fail at once the fault is probably the caller's, and
	// opening them all would take the service down. A breaker whose trip
	// rule fires opens only if the open and half-open ones, it included,
	// then number at most max(1, ⌊MaxOpenFraction × Len⌋); otherwise it
	// stays closed and asks again at its next failed call. So slots go to
	// keys in the order their rules fire, and a refused key gets one as
	// soon as it fails again after one frees up or the Group has grown
	// enough: under a lasting fault the number open is min(failing keys,
	// max(1, ⌊MaxOpenFraction × keys⌋)) whatever order the keys arrived
	// in, and the outcome depends only on the sequence of calls (not on
	// key names, hashing or any iteration order). Trip is not refused but
	// counts. ⌊MaxOpenFraction × Len⌋ is taken on the decimal written
	// (0.29 of 100 is 29, 0.2999999999 of 10 is 2), not on float64
	// rounding. Zero means no cap; the range is [0, 1].
	MaxOpenFraction float64
}

// Group keeps one Breaker per key (a host, a method). A Group is safe for
// concurrent use; lookups of known keys take no lock and write nothing.
//
// Its table holds at most MaxKeys breakers. When the table is full, a new
// key evicts a closed breaker with no call in flight (none admitted within
// its window and not yet finished), chosen by a second-chance (CLOCK) sweep,
// an approximation of least recently used: the sweep passes over breakers
// used since its last pass (clearing their mark; a key's first call does not
// count, so keys seen once go first) and over open, half-open or busy ones,
// and takes the first other one. It examines at most 32 breakers per sweep
// and a new key costs at most three sweeps. Open and half-open breakers are
// never evicted from the table, so a dead host stays cut off.
//
// When the sweep finds nothing to evict (every breaker it examined is open,
// half-open, busy or recently used), the new key gets a breaker in the
// overflow: up to ⌈MaxKeys/16⌉ breakers outside the table, which protect new
// keys (a new dead host still trips and stays cut off) while the table is
// full of open breakers. An overflow key in use again moves into the table
// when a sweep finds room there. When the overflow is full too, a new key
// evicts an overflow breaker by the same sweep, and failing that the
// overflow's oldest, whatever its state: a Group that must remember more
// dead hosts than MaxKeys + ⌈MaxKeys/16⌉ forgets the least recent ones, and
// its hooks see that breaker change to closed. Len is therefore at most
// MaxKeys + ⌈MaxKeys/16⌉.
//
// Hooks receive the key as the name. Events of one key reach the hooks one
// at a time and in order, also across evictions: a key's new breaker
// delivers its events after those of its evicted predecessor still
// waiting, and an evicted breaker reports nothing more (a call still
// running on it when it was evicted reports no result). So a consumer
// that tracks each key's state from OnStateChange sees, per key, an
// unbroken chain of transitions that ends in the state State reports.
type Group[T any] struct {
	s       settings
	maxKeys int
	overCap int
	frac    float64
	seed    maphash.Seed
	index   keyIndex[T]

	mu       sync.Mutex // guards the lists and draining; taken only to add a key
	table    entryList[T]
	over     entryList[T]
	draining map[string]*eventQueue // queues of evicted breakers still delivering
	scanned  int                    // breakers examined by the last add, for tests
	n        atomic.Int64           // breakers held (table and overflow)
	openN    atomic.Int64           // of which open or half-open
}

type entry[T any] struct {
	// The key and the breaker's first fields, which every call reads,
	// share a cache line.
	key        string
	b          Breaker[T] // inline: one allocation, one cache miss less
	prev, next *entry[T]

	// What the sweep saw when it last passed, to tell whether the breaker
	// was used since without the calls writing a mark. Guarded by g.mu.
	fresh   bool // not yet passed by the sweep
	seenW   *window
	seenS   *slot
	seenReq uint32
	_       [52]byte // a multiple of 64 bytes: the first line stays whole
}

// usedSince reports whether e's breaker admitted a call since the sweep
// last passed it, and remembers what it sees now. e.b.mu is held.
func (e *entry[T]) usedSince(w *window) bool {
	cur := w.cur.Load()
	if e.fresh {
		// A new key's first call is no use yet (a key seen once goes
		// first, as in CLOCK's probation); before it, the key is kept.
		if cur == nil {
			return true
		}
		e.fresh, e.seenW, e.seenS, e.seenReq = false, w, cur, 1
	}
	used := w != e.seenW || (cur != nil && cur != e.seenS) ||
		(e.seenS != nil && e.seenS.requests.Load() != e.seenReq)
	e.seenW = w
	if cur != nil {
		e.seenS = cur
	}
	if e.seenS != nil {
		e.seenReq = e.seenS.requests.Load()
	}
	return used
}

// entryList is a circular list in sweep order, oldest first.
type entryList[T any] struct {
	head entry[T]
	n    int
}

func (l *entryList[T]) init() { l.head.next, l.head.prev = &l.head, &l.head }

func (l *entryList[T]) pushBack(e *entry[T]) {
	e.prev, e.next = l.head.prev, &l.head
	l.head.prev.next = e
	l.head.prev = e
	l.n++
}

func (l *entryList[T]) remove(e *entry[T]) {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
	l.n--
}

// overflowCap is the size of a Group's overflow for MaxKeys max: ⌈max/16⌉.
func overflowCap(maxKeys int) int { return maxKeys/16 + min(maxKeys%16, 1) }

// groupCapacity is the most breakers a Group with the given MaxKeys holds.
func groupCapacity(maxKeys int) int {
	if maxKeys == 0 {
		maxKeys = DefaultMaxKeys
	}
	if c := overflowCap(maxKeys); maxKeys <= math.MaxInt-c {
		return maxKeys + c
	}
	return math.MaxInt
}

// NewGroup returns a Group, or an error naming an impossible field.
func NewGroup[T any](cfg GroupConfig) (*Group[T], error) {
	s, err := cfg.Breaker.settings()
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.MaxKeys < 0:
		return nil, fmt.Errorf("breaker: negative MaxKeys %d", cfg.MaxKeys)
	case math.IsNaN(cfg.MaxOpenFraction) || cfg.MaxOpenFraction < 0 || cfg.MaxOpenFraction > 1:
		return nil, fmt.Errorf("breaker: MaxOpenFraction %v outside [0, 1]", cfg.MaxOpenFraction)
	}
	g := &Group[T]{s: s, maxKeys: cfg.MaxKeys, frac: cfg.MaxOpenFraction, seed: maphash.MakeSeed(),
		draining: make(map[string]*eventQueue)}
	if g.maxKeys == 0 {
		g.maxKeys = DefaultMaxKeys
	}
	g.overCap = overflowCap(g.maxKeys)
	g.index.init(func(key string) uint64 { return maphash.String(g.seed, key) })
	g.table.init()
	g.over.init()
	return g, nil
}

// Execute runs fn through key's breaker (see Breaker.Execute).
func (g *Group[T]) Execute(ctx context.Context, key string, fn func(context.Context) (T, error)) (T, error) {
	return g.breaker(key).Execute(ctx, fn)
}

// ExecuteFallback runs fn through key's breaker with a fallback (see
// Breaker.ExecuteFallback).
func (g *Group[T]) ExecuteFallback(ctx context.Context, key string, fn func(context.Context) (T, error), fallback func(ctx context.Context, err error) (T, error)) (T, error) {
	return g.breaker(key).ExecuteFallback(ctx, fn, fallback)
}

// Allow is the two-step form of Execute for key (see Breaker.Allow).
func (g *Group[T]) Allow(ctx context.Context, key string) (done func(err error), err error) {
	return g.breaker(key).Allow(ctx)
}

// State returns key's state; a key without a breaker is closed.
func (g *Group[T]) State(key string) State {
	if e := g.lookup(key); e != nil {
		return e.b.State()
	}
	return StateClosed
}

// Counts returns the counts of key's breaker (see Breaker.Counts); a key
// without a breaker has zero Counts.
func (g *Group[T]) Counts(key string) Counts {
	if e := g.lookup(key); e != nil {
		return e.b.Counts()
	}
	return Counts{}
}

// Trip opens key's breaker now, creating it if the key has none (see
// Breaker.Trip). A tripped breaker counts against MaxOpenFraction but is
// not refused by it, and like every open breaker it is never evicted from
// the table.
func (g *Group[T]) Trip(key string) { g.breaker(key).Trip() }

// Reset closes key's breaker now and clears its counts (see
// Breaker.Reset); a key without a breaker is left alone.
func (g *Group[T]) Reset(key string) {
	if e := g.lookup(key); e != nil {
		e.b.Reset()
	}
}

// Len returns the number of breakers held, in the table and the overflow.
func (g *Group[T]) Len() int { return int(g.n.Load()) }

func (g *Group[T]) lookup(key string) *entry[T] {
	return g.index.lookup(key, maphash.String(g.seed, key))
}

func (g *Group[T]) breaker(key string) *Breaker[T] {
	h := maphash.String(g.seed, key)
	if e := g.index.lookup(key, h); e != nil {
		return &e.b
	}
	return g.add(key, h)
}

func (g *Group[T]) add(key string, h uint64) *Breaker[T] {
	g.mu.Lock()
	if e := g.index.lookup(key, h); e != nil {
		g.mu.Unlock()
		return &e.b
	}
	g.scanned = 0
	var dropped *eventQueue // a force-evicted breaker's queue, to deliver
	list := &g.table
	if g.table.n >= g.maxKeys {
		if v := g.sweep(&g.table, false); v != nil {
			g.evict(&g.table, v)
		} else {
			list = &g.over
			if g.over.n >= g.overCap {
				if v := g.sweep(&g.over, true); v != nil { // nil: a promotion made room
					dropped = g.evict(&g.over, v)
				}
			}
		}
	}
	e := &entry[T]{key: key}
	q := g.draining[key]
	switch {
	case q != nil: // the key's evicted breaker still has events: take them over
		delete(g.draining, key)
		q.mu.Lock()
		q.orphan = false
		q.mu.Unlock()
	case g.s.hooks.any():
		q = newEventQueue(key, &g.s.hooks)
		q.release = g.forget
	}
	e.b.init(&g.s, key, g, q)
	e.fresh = true // not evictable before its first call; that call is no use yet
	g.index.insert(e, h)
	list.pushBack(e)
	g.n.Add(1)
	g.mu.Unlock()
	if dropped != nil {
		dropped.deliver()
	}
	return &e.b
}

// sweep advances l's hand by at most evictScan breakers, clearing their
// used marks, and returns the first closed breaker with no call in flight
// and not used since the hand last passed it. Failing that, when the hand
// went round the whole list, it returns the first closed one with no call
// in flight (plain CLOCK's pick on its second lap); when force is set (the
// overflow must make room), the first closed one with no call in flight,
// else the first closed one, else the first examined; but the first
// overflow breaker it finds in use again is moved into the table instead,
// if a sweep of the table finds room, and then it returns nil. Otherwise it
// returns nil. g.mu is held.
func (g *Group[T]) sweep(l *entryList[T], force bool) *entry[T] {
	var idle, busy, first *entry[T]
	promoted := false
	for range min(evictScan, l.n) {
		e := l.head.next
		b := &e.b
		g.scanned++
		b.mu.Lock()
		w := b.w.Load()
		closed := w.state == StateClosed
		inflight := w.inFlight()
		used := e.usedSince(w)
		b.mu.Unlock()
		if closed && inflight == 0 && !used {
			return e
		}
		if force && !promoted && closed && inflight == 0 && used {
			// A key of the overflow that is in use again: move it into the
			// table if the table's sweep finds room, so that keys in
			// steady use do not churn through the small overflow.
			promoted = true
			if v := g.sweep(&g.table, false); v != nil {
				g.evict(&g.table, v)
				l.remove(e)
				g.table.pushBack(e)
				return nil
			}
		}
		if first == nil {
			first = e
		}
		if closed && inflight == 0 && idle == nil {
			idle = e
		}
		if closed && busy == nil {
			busy = e
		}
		l.remove(e) // to the back: the hand moves on
		l.pushBack(e)
	}
	switch {
	case force && idle != nil, force && busy != nil:
		return cmpOr(idle, busy)
	case force:
		return first
	case idle != nil && l.n <= evictScan:
		// The hand went round the whole list: this is the breaker plain
		// CLOCK would take on its second lap.
		return idle
	}
	return nil
}

func cmpOr[T any](a, b *entry[T]) *entry[T] {
	if a != nil {
		return a
	}
	return b
}

// evict drops e from the Group. Only the overflow evicts a breaker that is
// not closed: its hooks see it close, since its key now has no breaker (or
// a new, closed one). evict returns e's event queue if that has events to
// deliver. g.mu is held.
func (g *Group[T]) evict(l *entryList[T], e *entry[T]) *eventQueue {
	b := &e.b
	b.mu.Lock()
	if w := b.w.Load(); w.state != StateClosed {
		ev := event{kind: evState, from: w.state, to: StateClosed, why: ReasonEvicted, at: b.now()}
		if b.s.hooks.OnTransition != nil {
			ev.counts = w.counts()
		}
		b.push(ev)
	}
	if b.gateHeld {
		b.gateHeld = false
		g.release()
	}
	b.evicted = true
	q := b.q
	if q != nil {
		q.mu.Lock()
		if q.idle() {
			q = nil
		} else {
			q.orphan = true
			g.draining[e.key] = q
		}
		b.q.mu.Unlock()
	}
	b.mu.Unlock()
	l.remove(e)
	g.index.remove(e)
	g.n.Add(-1)
	return q
}

// forget drops the queue of an evicted breaker that ran dry, unless the
// key's new breaker took it over.
func (g *Group[T]) forget(q *eventQueue) {
	g.mu.Lock()
	if g.draining[q.name] == q {
		q.mu.Lock()
		if q.orphan && q.idle() {
			delete(g.draining, q.name)
		}
		q.mu.Unlock()
	}
	g.mu.Unlock()
}

// The gate: how many breakers are open or half-open.

// acquire lets a breaker open while the open or half-open ones, it
// included, number at most max(1, ⌊MaxOpenFraction × Len⌋): a cap on the
// share, never exceeded by rounding up (with 0.1, the second of 11 may not
// open), and one breaker may always open.
func (g *Group[T]) acquire() bool {
	for {
		o := g.openN.Load()
		if g.frac > 0 && o > 0 && o+1 > openCap(g.frac, g.n.Load()) {
			return false
		}
		if g.openN.CompareAndSwap(o, o+1) {
			return true
		}
	}
}

// openCap is ⌊frac × n⌋ (at least 1) as the decimal fraction written: the
// largest k with k/n ≤ frac, where k/n is rounded as the float64 literal
// of a decimal is, so 0.29 of 100 is 29 (0.29 × 100 is 28.999… in
// float64) and 0.2999999999 of 10 is 2.
func openCap[N int32 | int64 | int](frac float64, n N) N {
	if n <= 0 {
		return 1
	}
	k := N(math.Floor(frac * float64(n)))
	for k > 0 && float64(k)/float64(n) > frac {
		k--
	}
	for k < n && float64(k+1)/float64(n) <= frac {
		k++
	}
	return max(1, k)
}

func (g *Group[T]) force()   { g.openN.Add(1) }
func (g *Group[T]) release() { g.openN.Add(-1) }
