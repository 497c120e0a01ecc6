// Package quorumtest is the test kit of package quorum: a fault-injecting
// wrapper for any Replica, a recorder of client histories, a
// linearizability check of those histories with porcupine, and a
// conformance suite for Replica implementations.
//
// # Problem
//
// Quorum systems fail in the corners: a replica that answers late, a write
// that failed but landed, a delete that comes back, a read that goes back in
// time. Last-write-wins quorums without read write-back look correct in
// happy-path tests and break under tail delays within milliseconds. Finding
// that takes faults that can be scripted and repeated, a record of what
// clients saw, and a checker that decides whether some sequential order
// explains it.
//
// # Faults
//
// Wrap returns a *Faulty around any quorum.Replica. Random faults (Faults:
// fixed Latency, Jitter, a tail of TailP calls delayed by TailDelay, errors
// before the call with ErrorP, lost replies with LostReplyP) are drawn from a
// generator seeded by Options.Seed. A delay sits before the call (a slow
// request: a caller that gives up leaves the replica untouched) or, for a
// share ReplyDelayP, after it (a slow reply: the put landed although the
// caller saw an error). State faults are set by hand: SetDown (fails at
// once), Pause and Resume (calls block, as under SIGSTOP), Crash and Restart
// (in-flight calls fail; data survives), Forget and Wipe (data loss, served
// by an empty store inside the wrapper, so it works over any Replica).
// Options.After injects the timer; the default, time.After, becomes fake
// time inside a testing/synctest bubble. Delays are bounded by
// MaxFaultDelay. Faulty forwards quorum.Zoned and quorum.Versioner, and
// implements quorum.HealthReporter when Options.ReportHealth is set.
//
// # Histories and linearizability
//
// A History records operations: Call before an operation, then Ok with its
// output, Unknown when the outcome is unknown (a timeout,
// quorum.ErrIndeterminate: the operation is then modelled as possibly
// having taken effect at any time after its call — never as a success, never
// as not having happened), or Failed when it certainly had no effect. The
// default clock is a sequence number, which orders events exactly as
// linearizability requires and works in synctest bubbles.
//
// Check runs github.com/anishathalye/porcupine over Model, a key-value
// register (get, put, delete) partitioned by key, so that each key is checked
// on its own. Its result is porcupine's: Ok, Illegal, or Unknown when the
// timeout expired. Unknown proves nothing: RequireLinearizable fails on it,
// and on Illegal, and draws the history with porcupine's visualizer into
// t.ArtifactDir() (kept with go test -artifacts).
//
// # Conformance
//
// TestReplica(t, newReplica) checks an implementation against the Replica
// contract, as testing/slogtest checks slog handlers: a missing key is a zero
// Record; only strictly newer versions store, ordered by Counter then Writer
// over all 64 bits (2^53+1 is not 2^53); the zero Version never stores;
// tombstones are versioned records; values are copied in and out; keys and
// values are binary-safe; and set-if-newer is atomic, both when eight
// writers put the same version at once (exactly one may report it stored)
// and under eight concurrent writers and two readers. CheckReplica returns
// the same findings as an error.
//
// # Example
//
// [ExampleWrap] wraps a replica, injects faults and reads through them;
// [ExampleHistory] records a history of a quorum client and checks it with
// porcupine. Both are compiled and run by go test (example_test.go).
//
// # Performance
//
// A Faulty call without delays costs a mutex and a few random draws. The
// check's cost grows linearly with history length and exponentially with the
// number of operations concurrent on one key: keep at most about 8 clients
// per key. A 1,000-operation history over a handful of keys checks in
// milliseconds.
//
// # What it does not do
//
// It injects faults between a client and a replica, not inside the store: no
// torn writes, no bit flips, no clock skew (versions in package quorum do not
// use clocks). It does not model partial network partitions between clients;
// give each client its own Faulty wrappers for that. Check decides
// linearizability of single-key registers only; it does not check
// transactions or compare-and-set.
package quorumtest
