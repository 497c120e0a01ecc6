package quorum

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// Client reads and writes versioned records on N replicas. It is safe for
// concurrent use. Each replica call runs on a worker goroutine the Client
// owns (at most Config.MaxInFlight per replica; workers idle for a reaping
// period exit), so Close must be called to release them.
type Client struct {
	s        settings
	replicas []replicaState
	zones    int // number of distinct zones
	hedges   budget
	ops      sync.Pool
	floors   versionFloors

	closed atomic.Bool
	mu     sync.Mutex // guards spawning workers against Close
	done   chan struct{}
	wg     sync.WaitGroup
}

type replicaState struct {
	r      Replica
	ver    Versioner      // nil if not implemented
	health HealthReporter // nil if not implemented
	zone   string
	zoneID int
	local  bool
	jobs   chan job
	reap   chan struct{} // a parked worker that receives from it exits
	active atomic.Int32  // worker goroutines
	busy   atomic.Int32  // workers running a call
	peak   atomic.Int32  // most busy workers since the last reaping
	fast   atomic.Int32  // calls in a row faster than InlineBelow, capped
	calls  atomic.Int32  // calls handed to workers and not finished
	// progress is when (unix ns) a call last succeeded, or a call was
	// handed to a worker while none was in flight: a replica with calls in
	// flight and no progress for long hangs (see congested).
	progress atomic.Int64
	// putCalls and putProgress are calls and progress of Puts alone: a
	// replica whose writes hang while its reads answer hangs for writes.
	// putProgress also starts again when a Put is handed over with
	// congestedAt or more in flight as the first since a Put succeeded
	// (putAnswered): see dispatch.
	putCalls    atomic.Int32
	putProgress atomic.Int64
	putAnswered atomic.Bool
	lastOK      atomic.Int64 // unix ns of the last successful call (New's time before any)
	// goodEnd and goodPutEnd are when (unix ns) a call, and a Put, last
	// answered well (successful within ReplicaTimeout); 0 before any. A
	// call sent before that says nothing about the replica now (see
	// replicaState.demote).
	goodEnd    atomic.Int64
	goodPutEnd atomic.Int64
	lat        latency

	nonBlocking bool // implements NonBlocking and reports true: may be inlined
	cond        condition
}

// New returns a Client over replicas, after validating cfg against
// N = len(replicas) (see Config for defaults). The slice order matters for the
// MasterSlave and DualWrite tiers: replicas[0] is the master (primary) and
// replicas[1] the slave (secondary). Hooks and errors name replicas by index.
//
// The replicas must be distinct stores: two adapters over one database would
// let one server count as two acknowledgements. New refuses, with ErrConfig
// naming both indexes, the same replica twice and two replicas reporting the
// same StoreIdentifier.StoreID (redisreplica reports address, database and
// prefix; memreplica its own pointer), also through wrappers that forward
// StoreID or expose an Inner() Replica method, as quorumtest.Faulty does. It
// cannot detect other duplicates (a wrapper that hides its replica, or two
// network addresses of one server).
func New(replicas []Replica, cfg Config) (*Client, error) {
	zones := make([]string, len(replicas))
	nonBlocking := make([]bool, len(replicas))
	if err := checkReplicas(replicas, zones, nonBlocking); err != nil {
		return nil, err
	}
	s, err := cfg.settings(len(replicas), zones)
	if err != nil {
		return nil, err
	}
	if s.id == 0 {
		var b [8]byte
		for s.id == 0 {
			if _, err := rand.Read(b[:]); err != nil {
				return nil, fmt.Errorf("quorum: client id: %w", err)
			}
			s.id = binary.LittleEndian.Uint64(b[:])
		}
	}
	c := &Client{
		s:        s,
		replicas: make([]replicaState, len(replicas)),
		done:     make(chan struct{}),
	}
	c.hedges.init(s.hedge.Budget*float64(s.r), s.hedge.Burst)
	c.floors.seed = maphash.MakeSeed()
	ids := map[string]int{}
	for i, r := range replicas {
		rs := &c.replicas[i]
		rs.r = r
		rs.ver, _ = r.(Versioner)
		rs.health, _ = r.(HealthReporter)
		rs.nonBlocking = nonBlocking[i]
		rs.zone = zones[i]
		id, ok := ids[rs.zone]
		if !ok {
			id = len(ids)
			ids[rs.zone] = id
		}
		rs.zoneID = id
		rs.local = s.localZone != "" && rs.zone == s.localZone
		rs.lastOK.Store(time.Now().UnixNano())
		rs.jobs = make(chan job)
		rs.reap = make(chan struct{})
	}
	c.zones = len(ids)
	n := len(replicas)
	c.ops.New = func() any { return newOp(c, n) }
	c.wg.Add(1)
	go c.reaper()
	return c, nil
}

// ID returns the client's id, the Writer of the versions it writes.
func (c *Client) ID() uint64 { return c.s.id }

// N returns the number of replicas.
func (c *Client) N() int { return c.s.n }

// Close stops the client. It waits for every replica call in flight —
// including asynchronous read repairs, master-slave slave writes and write
// stragglers, each bounded by the replica timeout — and for the worker
// goroutines to exit. Operations after Close fail with ErrClosed; operations
// running across Close may fail with an error matching both ErrNoQuorum and
// ErrClosed. Close is idempotent.
func (c *Client) Close() error {
	if c == nil || c.replicas == nil {
		return nil
	}
	c.mu.Lock()
	if !c.closed.Load() {
		c.closed.Store(true)
		close(c.done)
	}
	c.mu.Unlock()
	c.wg.Wait()
	return nil
}

// Call overrides the client's settings for one call; zero fields keep the
// client's.
type Call struct {
	Consistency Consistency
	Tier        Tier
	Repair      ReadRepair
}

// With returns a Caller whose operations use call. It does not allocate.
func (c *Client) With(call Call) Caller { return Caller{c: c, call: call} }

// Caller is a Client with per-call settings, from Client.With.
type Caller struct {
	c    *Client
	call Call
}

// Get returns the newest value of key, or ErrNotFound if the key was never
// written or was deleted. The returned slice belongs to the caller.
func (c *Client) Get(ctx context.Context, key string) ([]byte, error) {
	v, _, err := c.read(ctx, key, Call{})
	return v, err
}

// GetVersion is Get that also returns the version read (on ErrNotFound, the
// tombstone's version, or the zero Version if the key was never written).
func (c *Client) GetVersion(ctx context.Context, key string) ([]byte, Version, error) {
	return c.read(ctx, key, Call{})
}

// Put writes value under key with a version newer than every version of key
// on the replicas it read. On error, errors.Is tells ErrNotApplied (nothing
// stored, safe to retry) from ErrIndeterminate (may have been stored).
// Put copies value; the caller may reuse it when Put returns.
func (c *Client) Put(ctx context.Context, key string, value []byte) error {
	_, err := c.write(ctx, key, value, false, Call{})
	return err
}

// PutVersion is Put that returns the version written.
func (c *Client) PutVersion(ctx context.Context, key string, value []byte) (Version, error) {
	return c.write(ctx, key, value, false, Call{})
}

// Delete writes a versioned tombstone for key: later reads return
// ErrNotFound, and repair spreads the tombstone instead of resurrecting older
// values. Tombstones are never collected. Errors are as for Put.
func (c *Client) Delete(ctx context.Context, key string) error {
	_, err := c.write(ctx, key, nil, true, Call{})
	return err
}

// DeleteVersion is Delete that returns the tombstone's version.
func (c *Client) DeleteVersion(ctx context.Context, key string) (Version, error) {
	return c.write(ctx, key, nil, true, Call{})
}

// Get is Client.Get with the Caller's settings.
func (c Caller) Get(ctx context.Context, key string) ([]byte, error) {
	v, _, err := c.c.read(ctx, key, c.call)
	return v, err
}

// GetVersion is Client.GetVersion with the Caller's settings.
func (c Caller) GetVersion(ctx context.Context, key string) ([]byte, Version, error) {
	return c.c.read(ctx, key, c.call)
}

// Put is Client.Put with the Caller's settings.
func (c Caller) Put(ctx context.Context, key string, value []byte) error {
	_, err := c.c.write(ctx, key, value, false, c.call)
	return err
}

// PutVersion is Client.PutVersion with the Caller's settings.
func (c Caller) PutVersion(ctx context.Context, key string, value []byte) (Version, error) {
	return c.c.write(ctx, key, value, false, c.call)
}

// Delete is Client.Delete with the Caller's settings.
func (c Caller) Delete(ctx context.Context, key string) error {
	_, err := c.c.write(ctx, key, nil, true, c.call)
	return err
}

// DeleteVersion is Client.DeleteVersion with the Caller's settings.
func (c Caller) DeleteVersion(ctx context.Context, key string) (Version, error) {
	return c.c.write(ctx, key, nil, true, c.call)
}

// resolved is the effective settings of one call.
type resolved struct {
	consistency Consistency
	tier        Tier
	repair      ReadRepair
}

func (c *Client) resolve(call Call) (resolved, error) {
	r := resolved{consistency: c.s.consistency, tier: c.s.tier, repair: c.s.repair}
	if call.Consistency != 0 {
		if call.Consistency > Weak {
			return r, fmt.Errorf("%w: unknown consistency %d", ErrConfig, call.Consistency)
		}
		r.consistency = call.Consistency
	}
	if call.Tier != 0 {
		if call.Tier > DualWrite {
			return r, fmt.Errorf("%w: unknown tier %d", ErrConfig, call.Tier)
		}
		r.tier = call.Tier
	}
	if call.Repair != 0 {
		if call.Repair > RepairOff {
			return r, fmt.Errorf("%w: unknown read repair %d", ErrConfig, call.Repair)
		}
		r.repair = call.Repair
	}
	if r.consistency != Weak && c.s.w+c.s.r <= c.s.n {
		return r, fmt.Errorf("%w: W+R=%d does not exceed N=%d, %v needs it", ErrConfig, c.s.w+c.s.r, c.s.n, r.consistency)
	}
	if r.tier != QuorumTier && c.s.n < 2 {
		return r, fmt.Errorf("%w: tier %v needs two replicas", ErrConfig, r.tier)
	}
	return r, nil
}
