package redisreplica

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwark-go/bulwark/quorum"
)

// Client is the part of go-redis a Replica uses. *redis.Client,
// *redis.ClusterClient and *redis.Ring implement it.
type Client interface {
	redis.Scripter
	HMGet(ctx context.Context, key string, fields ...string) *redis.SliceCmd
}

// Options configure New. The zero Options are usable.
type Options struct {
	// Prefix is prepended to every key, so that several replicas (or other
	// data) can share one Redis database. Default: none.
	Prefix string
	// Zone is the replica's zone (IDC), reported to the quorum client through
	// quorum.Zoned. Default: "" (no zone).
	Zone string
}

// Field names of the hash that holds one record.
const (
	fieldCounter = "c"
	fieldWriter  = "w"
	fieldDeleted = "d"
	fieldValue   = "v"
)

// versionWidth is the number of decimal digits of the largest uint64
// (18446744073709551615). Counters and writers are stored zero-padded to
// this width, so that comparing the strings byte by byte compares the
// numbers exactly; Lua's numbers are doubles and lose integers above 2^53.
const versionWidth = 20

// setIfNewer stores a record only if its version is newer than the stored
// one, in one atomic step (Redis runs a script without interleaving other
// commands). KEYS[1] is the hash; ARGV is counter, writer (both zero-padded
// to 20 digits), deleted ("1" or "0") and value. It returns 1 when it stored
// the record and 0 when the stored version is the same or newer, and an
// error, storing nothing, when the hash holds a version it did not write.
//
// The comparison walks the bytes with string.byte instead of using Lua's
// string "<", which goes through strcoll and so depends on the server's
// locale.
const setIfNewer = `
local function greater(a, b)
  if #a ~= #b then return #a > #b end
  for i = 1, #a do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x > y end
  end
  return false
end
local function valid(s)
  return s and #s == 20 and not string.find(s, '[^0-9]')
end
local cur = redis.call('HMGET', KEYS[1], 'c', 'w')
local c, w = cur[1], cur[2]
if not c and not w then
  c = '00000000000000000000'
  w = c
elseif not valid(c) or not valid(w) then
  return redis.error_reply('CORRUPT redisreplica: malformed version in ' .. KEYS[1])
end
local nc, nw = ARGV[1], ARGV[2]
if greater(nc, c) or (nc == c and greater(nw, w)) then
  redis.call('HSET', KEYS[1], 'c', nc, 'w', nw, 'd', ARGV[3], 'v', ARGV[4])
  return 1
end
return 0
`

// Replica is a quorum.Replica stored in Redis: each key is a hash with the
// value, the version's counter and writer, and the tombstone flag, written by
// an atomic set-if-newer Lua script. It is safe for concurrent use and owns
// no goroutine; the go-redis client it uses stays the caller's to close.
type Replica struct {
	c      Client
	prefix string
	zone   string
	script *redis.Script
}

var _ interface {
	quorum.Replica
	quorum.Zoned
	quorum.Versioner
	quorum.StoreIdentifier
} = (*Replica)(nil)

// New returns a Replica over c.
func New(c Client, opts Options) *Replica {
	return &Replica{c: c, prefix: opts.Prefix, zone: opts.Zone, script: redis.NewScript(setIfNewer)}
}

// StoreID names the keyspace the replica writes, so that quorum.New refuses
// two replicas over one Redis database: the server address and database
// number (from a *redis.Client's or *redis.ClusterClient's Options; the
// client's pointer for other clients) and the prefix. Two prefixes where one
// starts the other ("a" and "ab") can still collide on some keys; choose
// prefixes that do not.
func (r *Replica) StoreID() string {
	switch c := r.c.(type) {
	case interface{ Options() *redis.Options }:
		if o := c.Options(); o != nil {
			return fmt.Sprintf("redis %s/%s db %d prefix %q", o.Network, o.Addr, o.DB, r.prefix)
		}
	case interface{ Options() *redis.ClusterOptions }:
		if o := c.Options(); o != nil && len(o.Addrs) > 0 {
			addrs := slices.Sorted(slices.Values(o.Addrs))
			return fmt.Sprintf("redis cluster %s prefix %q", strings.Join(addrs, ","), r.prefix)
		}
	}
	if v := reflect.ValueOf(r.c); v.IsValid() && v.Kind() == reflect.Pointer && !v.IsNil() {
		return fmt.Sprintf("redis client %p prefix %q", r.c, r.prefix)
	}
	return ""
}

func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}

// ErrNilClient is returned by every call of a Replica made with a nil Client.
var ErrNilClient = errors.New("redisreplica: nil client")

// Zone implements quorum.Zoned.
func (r *Replica) Zone() string { return r.zone }

// Get implements quorum.Replica with one HMGET.
func (r *Replica) Get(ctx context.Context, key string) (quorum.Record, error) {
	ctx = orBackground(ctx)
	if r.c == nil {
		return quorum.Record{}, ErrNilClient
	}
	vals, err := r.c.HMGet(ctx, r.prefix+key, fieldCounter, fieldWriter, fieldDeleted, fieldValue).Result()
	if err != nil {
		return quorum.Record{}, fmt.Errorf("redisreplica: get %q: %w", key, err)
	}
	if len(vals) != 4 {
		return quorum.Record{}, fmt.Errorf("redisreplica: get %q: %d fields, want 4", key, len(vals))
	}
	ver, ok, err := parseVersion(vals[0], vals[1])
	if err != nil {
		return quorum.Record{}, fmt.Errorf("redisreplica: get %q: %w", key, err)
	}
	if !ok {
		return quorum.Record{}, nil
	}
	rec := quorum.Record{Version: ver}
	switch d := vals[2].(type) {
	case string:
		rec.Deleted = d == "1"
	case nil:
	default:
		return quorum.Record{}, fmt.Errorf("redisreplica: get %q: deleted flag of type %T", key, d)
	}
	switch v := vals[3].(type) {
	case string:
		rec.Value = []byte(v)
	case nil:
	default:
		return quorum.Record{}, fmt.Errorf("redisreplica: get %q: value of type %T", key, v)
	}
	return rec, nil
}

// Version implements quorum.Versioner: it reads the version without the
// value.
func (r *Replica) Version(ctx context.Context, key string) (quorum.Version, error) {
	ctx = orBackground(ctx)
	if r.c == nil {
		return quorum.Version{}, ErrNilClient
	}
	vals, err := r.c.HMGet(ctx, r.prefix+key, fieldCounter, fieldWriter).Result()
	if err != nil {
		return quorum.Version{}, fmt.Errorf("redisreplica: version %q: %w", key, err)
	}
	if len(vals) != 2 {
		return quorum.Version{}, fmt.Errorf("redisreplica: version %q: %d fields, want 2", key, len(vals))
	}
	ver, _, err := parseVersion(vals[0], vals[1])
	if err != nil {
		return quorum.Version{}, fmt.Errorf("redisreplica: version %q: %w", key, err)
	}
	return ver, nil
}

// ErrCorrupt matches the error of a read that found a hash this package did
// not write.
var ErrCorrupt = errors.New("redisreplica: corrupt record")

// parseVersion decodes the counter and writer fields; ok is false for a
// missing record.
func parseVersion(c, w any) (quorum.Version, bool, error) {
	if c == nil && w == nil {
		return quorum.Version{}, false, nil
	}
	cs, ok1 := c.(string)
	ws, ok2 := w.(string)
	if !ok1 || !ok2 {
		return quorum.Version{}, false, fmt.Errorf("%w: version fields %T, %T", ErrCorrupt, c, w)
	}
	cn, err1 := strconv.ParseUint(cs, 10, 64)
	wn, err2 := strconv.ParseUint(ws, 10, 64)
	if err1 != nil || err2 != nil || len(cs) != versionWidth || len(ws) != versionWidth {
		return quorum.Version{}, false, fmt.Errorf("%w: version %q, %q", ErrCorrupt, cs, ws)
	}
	return quorum.Version{Counter: cn, Writer: wn}, true, nil
}

// padded formats n zero-padded to versionWidth digits.
func padded(n uint64) string {
	var buf [versionWidth]byte
	for i := range buf {
		buf[i] = '0'
	}
	s := strconv.AppendUint(buf[:0:0], n, 10)
	copy(buf[versionWidth-len(s):], s)
	return string(buf[:])
}

// Put implements quorum.Replica with the set-if-newer script. An error that
// certainly stored nothing (the connection could not be made, or Redis
// rejected the script) matches quorum.ErrNotStored; any other error (a
// timeout, a connection lost mid-call) leaves the write's outcome unknown.
func (r *Replica) Put(ctx context.Context, key string, rec quorum.Record) (bool, error) {
	ctx = orBackground(ctx)
	if r.c == nil {
		return false, fmt.Errorf("%w: %w", ErrNilClient, quorum.ErrNotStored)
	}
	del := "0"
	if rec.Deleted {
		del = "1"
	}
	n, err := r.script.Run(ctx, r.c, []string{r.prefix + key},
		padded(rec.Version.Counter), padded(rec.Version.Writer), del, rec.Value).Int64()
	if err != nil {
		if notStored(err) {
			return false, fmt.Errorf("redisreplica: put %q: %w: %w", key, quorum.ErrNotStored, err)
		}
		return false, fmt.Errorf("redisreplica: put %q: %w", key, err)
	}
	return n == 1, nil
}

// notStored reports errors after which Redis certainly did not run the
// script to completion: an error reply (the script failed before HSET, which
// can only fail as HMGET already did), a connection that was never made, or
// no connection to send on.
func notStored(err error) bool {
	if errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrClosed) {
		return true
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// ClientOptions returns go-redis options for a replica's server at addr,
// chosen so that a quorum client learns quickly that the server is gone
// and the process log is not flooded while it stays gone:
//
//   - DialerRetries 1: go-redis dials 5 times 100 ms apart by default, so
//     every call to a killed server cost 400 ms and printed "failed to dial
//     after 5 attempts"; with one attempt a refused connection fails at once
//     and logs one line per failed dial, and once PoolSize dials in a row
//     have failed the pool returns the last dial error without dialing (or
//     logging) until a background dial succeeds.
//   - PoolSize 4: that silence starts after 4 failed dials instead of
//     10 × GOMAXPROCS; the quorum client's own concurrency per replica is
//     bounded by Config.MaxInFlight, and a pool of 4 sustains tens of
//     thousands of calls per second on loopback.
//   - MaxRetries -1: no command retries; the quorum client asks another
//     replica instead, which is faster than retrying the failed one.
//   - DialTimeout 250 ms, ContextTimeoutEnabled: a hanging server fails a
//     call by the quorum client's context deadline, not go-redis's 5 s.
//
// The quorum client then demotes the replica on its first failed call and
// only probes it (at most once every 100 ms to 1 s) until it answers.
func ClientOptions(addr string) *redis.Options {
	return &redis.Options{
		Addr:                  addr,
		DialerRetries:         1,
		PoolSize:              4,
		MaxRetries:            -1,
		DialTimeout:           250 * time.Millisecond,
		ContextTimeoutEnabled: true,
	}
}
