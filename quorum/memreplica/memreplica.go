package memreplica

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"

	"github.com/bulwark-go/bulwark/quorum"
)

// ErrFull is returned by Put of a new key when the replica holds MaxKeys
// keys. The record was certainly not stored, so it matches
// quorum.ErrNotStored: a write refused by it alone is quorum.ErrNotApplied.
var ErrFull error = fullError{}

type fullError struct{}

func (fullError) Error() string        { return "memreplica: full" }
func (fullError) Is(target error) bool { return target == quorum.ErrNotStored }

// DefaultMaxKeys is the bound used when Options.MaxKeys is zero.
const DefaultMaxKeys = 1 << 20

// Options configure a Replica. The zero Options are usable.
type Options struct {
	// Zone is reported by Zone (quorum.Zoned). Empty means no zone.
	Zone string
	// MaxKeys bounds the number of keys; zero means DefaultMaxKeys,
	// negative means unbounded.
	MaxKeys int
}

const shards = 16

// Replica is an in-memory quorum.Replica, safe for concurrent use. It also
// implements quorum.Zoned and quorum.Versioner.
type Replica struct {
	zone  string
	max   int
	seed  maphash.Seed
	mu    sync.Mutex // guards count across shards
	count int
	shard [shards]shard
}

type shard struct {
	mu sync.RWMutex
	m  map[string]quorum.Record
}

// StoreID identifies the Replica by its pointer, so that quorum.New refuses
// the same Replica twice, also behind wrappers that forward StoreID.
func (r *Replica) StoreID() string { return fmt.Sprintf("memreplica %p", r) }

// New returns an empty Replica.
func New(opts Options) *Replica {
	r := &Replica{zone: opts.Zone, max: opts.MaxKeys, seed: maphash.MakeSeed()}
	if r.max == 0 {
		r.max = DefaultMaxKeys
	}
	for i := range r.shard {
		r.shard[i].m = make(map[string]quorum.Record)
	}
	return r
}

func (r *Replica) shardOf(key string) *shard {
	return &r.shard[maphash.String(r.seed, key)%shards]
}

// Get returns a copy of key's record; a missing key is the zero Record.
func (r *Replica) Get(ctx context.Context, key string) (quorum.Record, error) {
	s := r.shardOf(key)
	s.mu.RLock()
	rec := s.m[key]
	s.mu.RUnlock()
	if rec.Value != nil {
		rec.Value = append(make([]byte, 0, len(rec.Value)), rec.Value...)
	}
	return rec, nil
}

// Version returns key's stored version without copying its value.
func (r *Replica) Version(ctx context.Context, key string) (quorum.Version, error) {
	s := r.shardOf(key)
	s.mu.RLock()
	v := s.m[key].Version
	s.mu.RUnlock()
	return v, nil
}

// Put stores a copy of rec if rec.Version is newer than the stored version.
func (r *Replica) Put(ctx context.Context, key string, rec quorum.Record) (bool, error) {
	s := r.shardOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	old, exists := s.m[key]
	if exists && !rec.Version.Newer(old.Version) {
		return false, nil
	}
	if !exists && !rec.Version.Newer(quorum.Version{}) {
		return false, nil
	}
	if !exists && r.max > 0 {
		r.mu.Lock()
		full := r.count >= r.max
		if !full {
			r.count++
		}
		r.mu.Unlock()
		if full {
			return false, ErrFull
		}
	}
	if rec.Value != nil {
		rec.Value = append(make([]byte, 0, len(rec.Value)), rec.Value...)
	}
	s.m[key] = rec
	return true, nil
}

// Zone returns the zone given in Options.
func (r *Replica) Zone() string { return r.zone }

// Len returns the number of keys held, tombstones included.
func (r *Replica) Len() int {
	n := 0
	for i := range r.shard {
		s := &r.shard[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// Reset forgets every key, like a restart without persistence.
func (r *Replica) Reset() {
	// Lock order: shards in index order, then mu (Put holds one shard, then mu).
	for i := range r.shard {
		r.shard[i].mu.Lock()
	}
	r.mu.Lock()
	for i := range r.shard {
		clear(r.shard[i].m)
	}
	r.count = 0
	r.mu.Unlock()
	for i := range r.shard {
		r.shard[i].mu.Unlock()
	}
}

// NonBlocking implements quorum.NonBlocking: a call takes a shard lock for
// a map access and a copy, never waits for anything else, so the quorum
// client may call it on the operation's goroutine.
func (r *Replica) NonBlocking() bool { return true }
