package breaker

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxKeys bounds a Group when GroupConfig.MaxKeys is zero.
const DefaultMaxKeys = 10_000

// GroupConfig configures a Group.
type GroupConfig struct {
	// Breaker configures every key's breaker; its Name is replaced by the
	// key, which the hooks receive as the name.
	Breaker Config
	// MaxKeys bounds the breakers kept. Zero means 10,000.
	MaxKeys int
	// MaxOpenFraction lets a key's breaker open only while fewer than this
	// share of the kept breakers are open or half-open (Envoy's
	// max_ejection_percent): when most keys fail at once the fault is
	// probably the caller's, and opening them all would take the service
	// down. One breaker may always open. Zero means no cap; the range is
	// [0, 1].
	MaxOpenFraction float64
}

const groupShards = 64

// Group keeps one Breaker per key (a host, a method), at most MaxKeys of
// them. When it is full, a new key evicts the least recently used closed
// breaker that has no call in flight; open and half-open breakers are never
// evicted, so a dead host stays cut off. When every kept breaker is open or
// busy, a new key gets a breaker that is not kept. A Group is safe for
// concurrent use; lookups of kept keys take only a shard's read lock.
type Group[T any] struct {
	s       settings
	maxKeys int
	frac    float64
	seed    maphash.Seed
	shards  [groupShards]groupShard[T]

	lru   sync.Mutex // guards the recency list; taken only to add a key
	head  entry[T]   // sentinel of the recency list, oldest first
	n     atomic.Int64
	openN atomic.Int64
}

type groupShard[T any] struct {
	mu sync.RWMutex
	m  map[string]*entry[T]
	_  [64 - 8]byte // keep shards' locks on separate cache lines
}

type entry[T any] struct {
	key        string
	b          Breaker[T] // inline: one allocation, one cache miss less
	prev, next *entry[T]
	stamp      time.Time // the breaker's lastUse when the entry was last placed
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
	g := &Group[T]{s: s, maxKeys: cfg.MaxKeys, frac: cfg.MaxOpenFraction, seed: maphash.MakeSeed()}
	if g.maxKeys == 0 {
		g.maxKeys = DefaultMaxKeys
	}
	for i := range g.shards {
		g.shards[i].m = make(map[string]*entry[T])
	}
	g.head.next, g.head.prev = &g.head, &g.head
	return g, nil
}

// Execute runs fn through key's breaker (see Breaker.Execute).
func (g *Group[T]) Execute(ctx context.Context, key string, fn func(context.Context) (T, error)) (T, error) {
	return g.breaker(key).Execute(ctx, fn)
}

// State returns key's state; a key without a breaker is closed.
func (g *Group[T]) State(key string) State {
	if e := g.lookup(key); e != nil {
		return e.b.State()
	}
	return StateClosed
}

// Len returns the number of breakers kept.
func (g *Group[T]) Len() int { return int(g.n.Load()) }

func (g *Group[T]) shard(key string) *groupShard[T] {
	return &g.shards[maphash.String(g.seed, key)%groupShards]
}

func (g *Group[T]) lookup(key string) *entry[T] {
	sh := g.shard(key)
	sh.mu.RLock()
	e := sh.m[key]
	sh.mu.RUnlock()
	return e
}

func (g *Group[T]) breaker(key string) *Breaker[T] {
	if e := g.lookup(key); e != nil {
		return &e.b
	}
	return g.add(key)
}

func (g *Group[T]) add(key string) *Breaker[T] {
	g.lru.Lock()
	defer g.lru.Unlock()
	if e := g.lookup(key); e != nil {
		return &e.b
	}
	if int(g.n.Load()) >= g.maxKeys && !g.evict() {
		b := new(Breaker[T]) // every kept breaker is open or busy: not kept
		b.init(&g.s, key, nil)
		return b
	}
	e := &entry[T]{key: key}
	b := &e.b
	b.init(&g.s, key, g)
	e.stamp = b.lastUse
	sh := g.shard(key)
	sh.mu.Lock()
	sh.m[key] = e
	sh.mu.Unlock()
	e.prev, e.next = g.head.prev, &g.head
	g.head.prev.next = e
	g.head.prev = e
	g.n.Add(1)
	return b
}

// evict drops the least recently used closed idle breaker (a second-chance
// walk from the oldest entry), reporting whether it found one. g.lru is held.
func (g *Group[T]) evict() bool {
	for range 2 * g.n.Load() {
		e := g.head.next
		b := &e.b
		b.mu.Lock()
		switch {
		case b.state != StateClosed || b.inflight > 0:
		case b.lastUse.After(e.stamp):
			e.stamp = b.lastUse
		default:
			b.evicted = true
			b.mu.Unlock()
			g.unlink(e)
			sh := g.shard(e.key)
			sh.mu.Lock()
			delete(sh.m, e.key)
			sh.mu.Unlock()
			g.n.Add(-1)
			return true
		}
		b.mu.Unlock()
		g.unlink(e) // to the back of the list
		e.prev, e.next = g.head.prev, &g.head
		g.head.prev.next = e
		g.head.prev = e
	}
	return false
}

func (g *Group[T]) unlink(e *entry[T]) {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
}

// The gate: how many kept breakers are open or half-open.

func (g *Group[T]) acquire() bool {
	for {
		o := g.openN.Load()
		if g.frac > 0 && float64(o) >= g.frac*float64(g.n.Load()) && o > 0 {
			return false
		}
		if g.openN.CompareAndSwap(o, o+1) {
			return true
		}
	}
}

func (g *Group[T]) force()   { g.openN.Add(1) }
func (g *Group[T]) release() { g.openN.Add(-1) }

// groupCapacity is the most breakers a Group with the given MaxKeys holds.
func groupCapacity(maxKeys int) int {
	if maxKeys == 0 {
		return DefaultMaxKeys
	}
	return maxKeys
}
