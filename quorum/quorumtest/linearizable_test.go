package quorumtest_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
	"github.com/bulwark-go/bulwark/quorum/memreplica"
	"github.com/bulwark-go/bulwark/quorum/quorumtest"
)

// checkTimeout bounds porcupine per history. A timeout (Unknown) fails the
// test: it proves nothing.
const checkTimeout = 60 * time.Second

// nemesisRun describes one recorded history.
type nemesisRun struct {
	seed        uint64
	n           int // replicas
	clients     int // concurrent clients, each with its own quorum.Client
	keys        int
	ops         int
	consistency quorum.Consistency
	repair      quorum.ReadRepair
	shared      bool // all clients share one quorum.Client
}

// runStats summarises a run, for logs and sanity checks.
type runStats struct {
	ok, notApplied, unknown, readErr int64
	readValues                       int64 // successful reads that returned a value
	crashes, pauses                  int64
}

// recordHistory runs cfg.ops operations from cfg.clients clients over
// cfg.n in-memory replicas behind Faulty wrappers, in a synctest bubble
// (fake time: 20 ms tails cost no wall time), while a nemesis pauses,
// crashes and restarts replicas. It returns the recorded operations.
func recordHistory(t *testing.T, cfg nemesisRun) ([]porcupine.Operation, runStats) {
	t.Helper()
	var ops []porcupine.Operation
	var st runStats
	synctest.Test(t, func(t *testing.T) {
		faulty := make([]*quorumtest.Faulty, cfg.n)
		replicas := make([]quorum.Replica, cfg.n)
		for i := range faulty {
			faulty[i] = quorumtest.Wrap(memreplica.New(memreplica.Options{}), quorumtest.Options{
				Name: "r" + strconv.Itoa(i),
				Seed: cfg.seed*31 + uint64(i),
			})
			// Every replica has jitter and a tail: 10 % of calls +20 ms,
			// half of them on the reply (the call landed, the answer is
			// late).
			require.NoError(t, faulty[i].SetFaults(quorumtest.Faults{
				Latency:     100 * time.Microsecond,
				Jitter:      2 * time.Millisecond,
				TailP:       0.1,
				TailDelay:   20 * time.Millisecond,
				ReplyDelayP: 0.5,
			}))
			replicas[i] = faulty[i]
		}
		newClient := func(id uint64) *quorum.Client {
			qc, err := quorum.New(replicas, quorum.Config{
				ClientID:       id,
				Consistency:    cfg.consistency,
				Repair:         cfg.repair,
				ReplicaTimeout: 15 * time.Millisecond,
			})
			require.NoError(t, err)
			return qc
		}
		clients := make([]*quorum.Client, cfg.clients)
		for i := range clients {
			if cfg.shared && i > 0 {
				clients[i] = clients[0]
				continue
			}
			clients[i] = newClient(uint64(i) + 1)
		}

		h := quorumtest.NewHistory(quorumtest.HistoryOptions{})
		var remaining atomic.Int64
		remaining.Store(int64(cfg.ops))
		done := make(chan struct{})

		// The nemesis hits one replica at a time: a pause, or a crash and
		// a restart, each lasting 5–40 ms, with 10–60 ms of calm between.
		// Crashes keep data (durable replicas): losing data on a quorum
		// member is outside what any quorum protocol survives.
		var nemesis sync.WaitGroup
		nemesisRng := rand.New(rand.NewPCG(cfg.seed, 11))
		nemesis.Go(func() {
			for {
				select {
				case <-done:
					return
				case <-time.After(time.Duration(10+nemesisRng.IntN(50)) * time.Millisecond):
				}
				f := faulty[nemesisRng.IntN(len(faulty))]
				hold := time.Duration(5+nemesisRng.IntN(35)) * time.Millisecond
				crash := nemesisRng.IntN(2) == 0
				if crash {
					f.Crash()
					st.crashes++
				} else {
					f.Pause()
					st.pauses++
				}
				select {
				case <-done:
				case <-time.After(hold):
				}
				if crash {
					f.Restart()
				} else {
					f.Resume()
				}
			}
		})

		var wg sync.WaitGroup
		for c := range cfg.clients {
			crng := rand.New(rand.NewPCG(cfg.seed, uint64(100+c)))
			wg.Go(func() {
				for i := 0; remaining.Add(-1) >= 0; i++ {
					key := "k" + strconv.Itoa(crng.IntN(cfg.keys))
					doOp(h, clients[c], c, key, fmt.Sprintf("c%d-%d", c, i), crng.IntN(10), &st)
				}
			})
		}
		wg.Wait()
		close(done)
		nemesis.Wait()
		for _, f := range faulty {
			f.Restart()
			f.Resume()
		}
		for i, qc := range clients {
			if cfg.shared && i > 0 {
				continue
			}
			require.NoError(t, qc.Close())
		}
		require.False(t, h.Overflowed())
		ops = h.Operations()
	})
	return ops, st
}

// doOp runs one operation and records it: 50 % reads, 40 % writes, 10 %
// deletes.
func doOp(h *quorumtest.History, qc *quorum.Client, client int, key, value string, dice int, st *runStats) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Millisecond)
	defer cancel()
	switch {
	case dice < 5:
		p := h.Call(client, quorumtest.Input{Kind: quorumtest.KindGet, Key: key})
		val, err := qc.Get(ctx, key)
		switch {
		case err == nil:
			p.Ok(quorumtest.Output{Value: string(val), Found: true})
			atomic.AddInt64(&st.ok, 1)
			atomic.AddInt64(&st.readValues, 1)
		case errors.Is(err, quorum.ErrNotFound):
			p.Ok(quorumtest.Output{})
			atomic.AddInt64(&st.ok, 1)
		default:
			p.Failed() // a failed read returned nothing to check
			atomic.AddInt64(&st.readErr, 1)
		}
	default:
		in := quorumtest.Input{Kind: quorumtest.KindPut, Key: key, Value: value}
		if dice == 9 {
			in = quorumtest.Input{Kind: quorumtest.KindDelete, Key: key}
		}
		p := h.Call(client, in)
		var err error
		if in.Kind == quorumtest.KindPut {
			err = qc.Put(ctx, key, []byte(value))
		} else {
			err = qc.Delete(ctx, key)
		}
		switch {
		case err == nil:
			p.Ok(quorumtest.Output{})
			atomic.AddInt64(&st.ok, 1)
		case errors.Is(err, quorum.ErrNotApplied):
			p.Failed()
			atomic.AddInt64(&st.notApplied, 1)
		default:
			// ErrIndeterminate, a timeout, anything else: it may have
			// landed.
			p.Unknown()
			atomic.AddInt64(&st.unknown, 1)
		}
	}
}

func historyCount(t *testing.T) int {
	if testing.Short() {
		return 10
	}
	return 50
}

// raceStride is the step between the histories the long linearizability
// tests record under the race detector, which makes them about five times
// slower: every fifth of them, which still has every shape of the full set
// (N, keys). The race detector looks for data races, which those exercise
// on every code path; the full set checks linearizability in every build
// without it — CI runs both (`go test -race ./...`, then `go test ./...`).
func raceStride() int {
	if raceEnabled {
		return 5
	}
	return 1
}

// TestLinearizableUnderFaults records 50 histories of 1,000 operations
// (half over 3 replicas, half over 5; 8 clients, 1–4 keys, so at most 8
// clients per key) under tail delays, pauses, crashes and restarts, and
// requires porcupine to say Ok for every one (10 of them under the race
// detector, see raceStride).
func TestLinearizableUnderFaults(t *testing.T) {
	histories := historyCount(t)
	for i := 0; i < histories; i += raceStride() {
		n := 3
		if i%2 == 1 {
			n = 5
		}
		cfg := nemesisRun{
			seed:        uint64(i + 1),
			n:           n,
			clients:     8,
			keys:        1 + i%4,
			ops:         1000,
			consistency: quorum.Linearizable,
		}
		t.Run(fmt.Sprintf("seed=%d/n=%d/keys=%d", cfg.seed, cfg.n, cfg.keys), func(t *testing.T) {
			ops, st := recordHistory(t, cfg)
			require.Len(t, ops, cfg.ops-int(st.readErr)-int(st.notApplied), "every operation recorded")
			// A history proves something only if reads saw values.
			require.Greater(t, st.readValues, int64(cfg.ops/5), "successful reads that returned a value")
			require.Positive(t, st.crashes+st.pauses, "the nemesis must have acted")
			start := time.Now()
			quorumtest.RequireLinearizable(t, ops, checkTimeout)
			t.Logf("ok %d, not applied %d, unknown %d, failed reads %d; %d crashes, %d pauses; checked in %v",
				st.ok, st.notApplied, st.unknown, st.readErr, st.crashes, st.pauses, time.Since(start))
		})
	}
}

// TestQuorumWithoutWriteBackIsNotLinearizable runs the Quorum level with
// read repair off under the same faults and requires porcupine to find a
// violation: proof that the check above can fail.
func TestQuorumWithoutWriteBackIsNotLinearizable(t *testing.T) {
	const maxHistories = 20
	for i := range maxHistories {
		cfg := nemesisRun{
			seed:        uint64(1000 + i),
			n:           3,
			clients:     8,
			keys:        4,
			ops:         1000,
			consistency: quorum.Quorum,
			repair:      quorum.RepairOff,
		}
		ops, st := recordHistory(t, cfg)
		start := time.Now()
		res := quorumtest.Check(ops, checkTimeout)
		t.Logf("seed %d: %s in %v (ok %d, unknown %d)", cfg.seed, res, time.Since(start), st.ok, st.unknown)
		switch res {
		case porcupine.Illegal:
			return
		case porcupine.Unknown:
			t.Fatalf("seed %d: check timed out after %v: Unknown proves nothing", cfg.seed, checkTimeout)
		}
	}
	t.Fatalf("no violation found in %d histories at the Quorum level without write-back", maxHistories)
}
