// Package redisreplica stores a quorum.Replica in Redis through
// github.com/redis/go-redis/v9.
//
// # Problem
//
// A quorum client needs each replica to store a record only if its version
// is newer than the stored one, atomically: a read-compare-write done from
// the client races with other writers, and a plain SET lets a delayed old
// write overwrite a newer one. Redis runs a Lua script without interleaving
// other commands, so one script makes set-if-newer atomic.
//
// # Model
//
// Each key is a Redis hash under Options.Prefix + key with four fields:
// "v" (the value), "c" and "w" (the version's counter and writer) and "d"
// ("1" for a tombstone). Counters and writers are stored as 20-digit
// zero-padded decimals and compared byte by byte in Lua: Lua numbers are
// doubles and cannot tell 2^53 from 2^53+1, and Lua's string "<" depends on
// the server's locale. Equal or older versions are not stored; a hash with a
// version the script did not write is reported as ErrCorrupt on reads and
// never overwritten.
//
// Get is one HMGET; Put is one EVALSHA (falling back to EVAL after a script
// cache flush); Version (quorum.Versioner) reads the version without the
// value. A Put error says whether the record certainly was not stored: error
// replies, refused connections and a closed client match
// quorum.ErrNotStored; timeouts and dropped connections do not, because the
// script may have run.
//
// Options.Zone reports the replica's zone (quorum.Zoned) for zone-aware
// quorums. The Replica does not own the go-redis client: close it yourself.
//
// # Example
//
//	rdb := redis.NewClient(redisreplica.ClientOptions("10.0.1.5:6379"))
//	r := redisreplica.New(rdb, redisreplica.Options{Prefix: "users:", Zone: "idc-a"})
//	client, err := quorum.New([]quorum.Replica{r, r2, r3}, quorum.Config{MinWriteZones: 2})
//
// ClientOptions sets go-redis up to fail fast and log little when a server
// is gone (one dial attempt, a pool of 4, no command retries, context
// deadlines honoured): the quorum client, not go-redis, decides what a
// failure costs. See its doc for each option and why.
//
// Use one Redis server (or one Cluster) per replica. Redis replicas fed by
// Redis's own asynchronous replication are not independent copies: a quorum
// over a master and its replicas loses acknowledged writes on failover.
//
// # Performance
//
// One round trip per call; the script does one HMGET and at most one HSET.
// Against redis-server 7.0 on loopback a three-replica W=2 write takes about
// 0.1 ms at p50 (see the quorum anchors' measurements).
//
// # Testing
//
// The package's tests run the quorumtest conformance kit against
// github.com/alicebob/miniredis/v2 (which runs the same Lua) in every
// `go test ./...`. When a redis-server binary is in PATH they also run it
// against a real server. Two longer tests run only with BULWARK_REDIS=1 and
// without -short, and then fail instead of skipping when redis-server is
// missing. The kill test: three redis-server processes, one SIGKILLed during
// 10 s of quorum writes, zero acknowledged writes lost. The failover test:
// sequential reads while the server read most is killed and restarted
// empty, or stopped (SIGSTOP) and continued; from 1 s after the failure the
// read p50 stays within 1.5× of a control client's over three untouched
// servers, the server is read again within 3 s of coming back, and go-redis
// logs at most 2 × PoolSize "failed to dial" lines per outage (figures in
// BENCHMARKS.md):
//
//	BULWARK_REDIS=1 go test -race -run RealRedis -v ./quorum/redisreplica
//
// A server without persistence (no AOF or RDB, as in these tests) comes
// back empty after a restart, which is worse than a lost server until read
// repair, write-back and later writes refilled it: with W+R = N+1 one such
// server can hide acknowledged writes (see the quorum package doc,
// Durability). Use AOF (appendonly yes) where servers restart.
//
// # What it does not do
//
// It never deletes hashes: tombstones stay until removed by hand, as in
// the quorum client. It has no TTLs, no health checking (wrap it with a
// breaker that implements quorum.HealthReporter), and no retries of its own.
package redisreplica
