// Package memreplica is an in-memory [quorum.Replica].
//
// # Problem
//
// Tests, examples, benchmarks and caches that need a quorum.Client without a
// server need a replica that keeps the contract exactly: atomic set-if-newer
// on versions, a missing key as the zero Record, tombstones as records.
//
// # Model
//
// A Replica is a map of records split into 16 shards, each behind its own
// RWMutex; Put compares versions and stores under the shard's lock, so it is
// atomic. Values are copied in and out: neither the client nor the caller
// ever shares a slice with the replica. It implements [quorum.Zoned]
// (Options.Zone) and [quorum.Versioner] (a write's version read copies no
// value).
//
// It is bounded: at most Options.MaxKeys keys (default [DefaultMaxKeys],
// 1,048,576; negative for no bound), tombstones included, since a delete
// keeps a versioned tombstone. Put of a new key beyond the bound fails with
// [ErrFull]; existing keys still update. Reset forgets everything, like a
// restart of a process without persistence.
//
// # Example
//
//	reps := []quorum.Replica{
//		memreplica.New(memreplica.Options{Zone: "a"}),
//		memreplica.New(memreplica.Options{Zone: "b"}),
//		memreplica.New(memreplica.Options{Zone: "c"}),
//	}
//	c, err := quorum.New(reps, quorum.Config{MinWriteZones: 2})
//
// # Performance
//
// A Put or Get is a hash, a shard lock and one copy of the value (one
// allocation); calls never block, so they ignore their context.
//
// # What it does not do
//
// Nothing is persisted, and nothing is collected: tombstones stay until
// Reset. Faults (latency, errors, data loss) are quorumtest's job: wrap a
// Replica with quorumtest's fault injector.
package memreplica
