package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/quorum"
	"github.com/bulwark-go/bulwark/quorum/memreplica"
	"github.com/bulwark-go/bulwark/quorum/quorumtest"
	"github.com/bulwark-go/bulwark/quorum/redisreplica"
	"github.com/redis/go-redis/v9"
)

// zones are the three data centres. One replica in each (in memory, or a
// redis-server with -redis) and MinWriteZones = 2: every acknowledged
// write is in two zones, and the two zones left after losing any one still
// make W = 2 for writes and R = 2 for reads.
var zones = []string{"zone-a", "zone-b", "zone-c"}

// store is the quorum client over its replicas. Each replica sits behind a
// quorumtest fault wrapper so the scenario can take a whole zone down (the
// wrapper works over any Replica, Redis included).
type store struct {
	client   *quorum.Client
	qcfg     quorum.Config // as used, defaults filled in (the banner prints it)
	replicas []*quorumtest.Faulty
	wrapped  []*replica
	redis    []*redis.Client
}

func newStore(redisAddrs []string, tel *telemetry, weak bool) (*store, error) {
	s := &store{}
	var reps []quorum.Replica
	if len(redisAddrs) == 0 {
		for i, z := range zones {
			s.replicas = append(s.replicas, quorumtest.Wrap(memreplica.New(memreplica.Options{Zone: z}), quorumtest.Options{Name: z, Seed: uint64(i + 1)}))
		}
	} else {
		if len(redisAddrs) != len(zones) {
			return nil, fmt.Errorf("-redis needs three servers, one per zone, got %d", len(redisAddrs))
		}
		// A fresh prefix per run: leftovers of earlier runs are never read
		// (and are left in place: delete bulwark-service:* by hand).
		var run [6]byte
		_, _ = rand.Read(run[:])
		prefix := "bulwark-service:" + hex.EncodeToString(run[:]) + ":"
		for i, addr := range redisAddrs {
			rdb := redis.NewClient(redisreplica.ClientOptions(addr))
			s.redis = append(s.redis, rdb)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := rdb.Ping(ctx).Err()
			cancel()
			if err != nil {
				s.close()
				return nil, fmt.Errorf("redis %s: %w", addr, err)
			}
			z := zones[i]
			r := redisreplica.New(rdb, redisreplica.Options{Prefix: prefix, Zone: z})
			s.replicas = append(s.replicas, quorumtest.Wrap(r, quorumtest.Options{Name: z + "/" + addr, Seed: uint64(i + 1)}))
		}
	}
	for _, f := range s.replicas {
		r := &replica{Faulty: f, inline: len(redisAddrs) == 0}
		s.wrapped = append(s.wrapped, r)
		reps = append(reps, r)
	}
	zoneOf := func(i int) string { return s.replicas[i].Zone() }
	qcfg := quorum.Config{
		W:              2,
		R:              2,
		Consistency:    quorum.Linearizable,
		MinWriteZones:  2,
		LocalZone:      zones[0],
		ReplicaTimeout: 250 * time.Millisecond,
		Hooks: quorum.Hooks{
			ReplicaLatency: func(i int, _ quorum.Op, d time.Duration, err error) {
				tel.replicaLat.With(zoneOf(i)).Observe(d.Seconds())
				if err != nil && !errors.Is(err, context.Canceled) {
					tel.replicaErr.With(zoneOf(i)).Inc()
				}
			},
			Repair: func(i int, err error) {
				if err == nil { // a repair the replica refused or never got repaired nothing
					tel.repairs.With(zoneOf(i)).Inc()
				}
			},
		},
	}
	if weak { // a mutant (wiring.weakQuorum): the zone-lost phase must catch it
		qcfg.W, qcfg.MinWriteZones, qcfg.Consistency = 1, 1, quorum.Weak
	}
	c, err := quorum.New(reps, qcfg)
	if err != nil {
		s.close()
		return nil, err
	}
	s.client, s.qcfg = c, qcfg
	return s, nil
}

// describe says how writes and reads are acknowledged, from the config in use.
func (s *store) describe() string {
	return fmt.Sprintf("W=%d R=%d, each write in ≥ %d zones, %v reads", s.qcfg.W, s.qcfg.R, max(1, s.qcfg.MinWriteZones), s.qcfg.Consistency)
}

// othersReadOnly makes every replica outside zone refuse writes (on) or
// take them again, as Redis replicas do for a moment after a failover
// (READONLY) or with a full disk: reads work, writes fail. Writes that need
// two zones then fail; a store acknowledging a write on one replica keeps
// acknowledging them, in zone alone.
func (s *store) othersReadOnly(zone string, on bool) {
	for _, r := range s.wrapped {
		if r.Zone() != zone {
			r.readOnly.Store(on)
		}
	}
}

// replica is one replica as the quorum client sees it: behind its fault
// wrapper, and able to refuse writes (read-only). An in-memory replica is
// marked non-blocking, so the quorum client calls it on the request's
// goroutine instead of handing each call to a worker: the wrapper injects
// no delays here (the scenario only crashes, wipes and write-protects
// replicas, which fail calls at once), so a call is a mutex and a map
// access, as memreplica's own.
type replica struct {
	*quorumtest.Faulty
	inline   bool
	readOnly atomic.Bool
}

func (r *replica) NonBlocking() bool { return r.inline }

var errReadOnly = fmt.Errorf("replica is read-only: %w", quorum.ErrNotStored)

func (r *replica) Put(ctx context.Context, key string, rec quorum.Record) (bool, error) {
	if r.readOnly.Load() {
		return false, fmt.Errorf("%s: %w", r.Name(), errReadOnly)
	}
	return r.Faulty.Put(ctx, key, rec)
}

// loseZone takes every replica of zone down, data included: calls in
// flight fail, new calls fail, and what the replicas stored is gone, as
// when a data centre burns.
func (s *store) loseZone(zone string) int {
	n := 0
	for _, f := range s.replicas {
		if f.Zone() == zone {
			f.Crash()
			f.Wipe()
			n++
		}
	}
	return n
}

// restoreZone brings the zone's replicas back, empty: read repair and the
// linearizable reads' write-back fill them again.
func (s *store) restoreZone(zone string) {
	for _, f := range s.replicas {
		if f.Zone() == zone {
			f.Restart()
		}
	}
}

func (s *store) close() error {
	var errs []error
	if s.client != nil {
		errs = append(errs, s.client.Close())
	}
	for _, r := range s.redis {
		errs = append(errs, r.Close())
	}
	return errors.Join(errs...)
}
