package quorum

import "context"

// Version orders the writes of one key. Versions are compared by Counter,
// then by Writer, so two clients that read the same highest counter and both
// write Counter+1 still produce distinct, totally ordered versions.
// The zero Version is older than every version a Client writes.
type Version struct {
	Counter uint64 // highest counter seen in the read phase, plus one
	Writer  uint64 // the writing client's id, breaking ties between writers
}

// Compare returns -1 if v is older than w, 0 if they are equal and +1 if v is
// newer.
func (v Version) Compare(w Version) int {
	switch {
	case v.Counter < w.Counter:
		return -1
	case v.Counter > w.Counter:
		return 1
	case v.Writer < w.Writer:
		return -1
	case v.Writer > w.Writer:
		return 1
	}
	return 0
}

// Newer reports whether v is strictly newer than w.
func (v Version) Newer(w Version) bool { return v.Compare(w) > 0 }

// IsZero reports whether v is the zero Version (a key never written).
func (v Version) IsZero() bool { return v == Version{} }

// Record is what a replica stores for one key.
type Record struct {
	Value   []byte
	Version Version
	Deleted bool // a versioned tombstone: the key was deleted at Version
}

// Replica is one copy of the data. Adapters for real stores implement it;
// quorum/memreplica and quorum/redisreplica are two, and quorum/quorumtest
// wraps any Replica with injected faults.
//
// A Client calls a Replica concurrently. The Value that Get returns belongs
// to the caller (the Client hands it to its own caller), and Put must not
// keep rec.Value after it returns (copy it). ctx is a context made for the
// call's operation (the caller's values and a deadline; see the package
// doc), never shared with another operation, so deriving contexts from it
// and keeping them after the call returned is safe. A Put error wrapping
// ErrNotStored tells the Client that the record was certainly not stored;
// any other error leaves the write indeterminate. A replica may be called
// on the caller's goroutine (see Config.InlineBelow).
type Replica interface {
	// Get returns the stored record; a missing key is a zero Record and a nil error.
	Get(ctx context.Context, key string) (Record, error)
	// Put stores rec only if rec.Version is newer than the stored one, atomically,
	// and reports whether it stored it. An older version is not an error.
	Put(ctx context.Context, key string, rec Record) (stored bool, err error)
}

// Zoned is implemented by a replica that knows its zone (IDC, data centre).
// The client reads Zone once, in New. Replicas that do not implement it are
// in the zone "".
type Zoned interface {
	Zone() string
}

// HealthReporter is implemented by a replica that knows whether it is
// reachable (a health checker, an open circuit breaker). The client calls
// Healthy at the start of every operation, so it must be cheap (an atomic
// load) and safe for concurrent use. An unhealthy replica is not contacted;
// when too few are healthy the operation fails at once with an error
// matching ErrNoQuorum and ErrNotApplied.
type HealthReporter interface {
	Healthy() bool
}

// Versioner is implemented by a replica that can return a key's stored
// version without its value. Writes use it for their version read, which then
// moves no values; Version of a missing key is the zero Version.
type Versioner interface {
	Version(ctx context.Context, key string) (Version, error)
}

// NonBlocking is implemented by a replica whose calls never block: they
// return within microseconds, hold no lock across I/O and never wait for
// anything (an in-process map, as quorum/memreplica). Only such a replica
// may be called on the operation's own goroutine (see Config.InlineBelow),
// because an inline call cannot be timed out: the client could not return
// by the caller's deadline while one blocks. A replica that does not
// implement it, or reports false, is always called on a worker.
type NonBlocking interface {
	NonBlocking() bool
}

// StoreIdentifier is implemented by a replica that can name the store it
// writes to, so that New can refuse two replicas over one store (two
// adapters over one Redis database would otherwise let one server
// acknowledge a write as two copies). StoreID returns the same string for
// two replicas exactly when they share their data — for a network store,
// typically its address, database and key prefix — and "" when unknown.
// Wrappers should forward the identity of the replica they wrap (or expose
// it with an Inner() Replica method, which New follows).
type StoreIdentifier interface {
	StoreID() string
}
