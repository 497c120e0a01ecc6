package quorum_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
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

type callerKey struct{}

// goroutineID is the current goroutine's id, from its stack header.
func goroutineID() uint64 {
	var b [64]byte
	n := runtime.Stack(b[:], false)
	f := bytes.Fields(b[:n])
	id, _ := strconv.ParseUint(string(f[1]), 10, 64)
	return id
}

// spotInline counts calls made on the goroutine of the operation (inline)
// and elsewhere (workers); the caller puts its goroutine id in the context.
type spotInline struct {
	quorum.Replica
	inline, workers *atomic.Int64
}

func (s spotInline) count(ctx context.Context) {
	if id, ok := ctx.Value(callerKey{}).(uint64); ok && id == goroutineID() {
		s.inline.Add(1)
	} else {
		s.workers.Add(1)
	}
}

// NonBlocking claims the promise although the wrapped Faulty can block: the
// test wants calls switching between inline and workers, whatever it costs
// the operations' latency.
func (s spotInline) NonBlocking() bool { return true }

func (s spotInline) Get(ctx context.Context, key string) (quorum.Record, error) {
	s.count(ctx)
	return s.Replica.Get(ctx, key)
}

func (s spotInline) Put(ctx context.Context, key string, rec quorum.Record) (bool, error) {
	s.count(ctx)
	return s.Replica.Put(ctx, key, rec)
}

// TestLinearizableWithInlineCalls: the porcupine histories of quorumtest
// give every replica at least 100µs of latency, so no call there is made
// inline. Here replicas answer at once (in fake time) except for a 1 % tail
// of +20 ms (half of it after the write landed) and a nemesis pausing or
// crashing one replica at a time, so calls switch between inline and
// workers all the time; porcupine must still say Ok.
func TestLinearizableWithInlineCalls(t *testing.T) {
	histories := 10
	if testing.Short() {
		histories = 4
	}
	for h := range histories {
		n := 3 + 2*(h%2)
		t.Run(fmt.Sprintf("seed=%d/n=%d", h+1, n), func(t *testing.T) {
			var ops []porcupine.Operation
			var inline, workers, okReads atomic.Int64
			synctest.Test(t, func(t *testing.T) {
				seed := uint64(h + 1)
				faulty := make([]*quorumtest.Faulty, n)
				reps := make([]quorum.Replica, n)
				for i := range faulty {
					faulty[i] = quorumtest.Wrap(memreplica.New(memreplica.Options{}), quorumtest.Options{
						Name: "r" + strconv.Itoa(i), Seed: seed*31 + uint64(i),
					})
					require.NoError(t, faulty[i].SetFaults(quorumtest.Faults{
						TailP: 0.01, TailDelay: 20 * time.Millisecond, ReplyDelayP: 0.5,
					}))
					reps[i] = spotInline{Replica: faulty[i], inline: &inline, workers: &workers}
				}
				const clients = 8
				qcs := make([]*quorum.Client, clients)
				for i := range qcs {
					qc, err := quorum.New(reps, quorum.Config{ClientID: uint64(i + 1), ReplicaTimeout: 15 * time.Millisecond})
					require.NoError(t, err)
					qcs[i] = qc
				}
				hist := quorumtest.NewHistory(quorumtest.HistoryOptions{})
				done := make(chan struct{})
				var nemesis sync.WaitGroup
				nrng := rand.New(rand.NewPCG(seed, 7))
				nemesis.Go(func() {
					for {
						select {
						case <-done:
							return
						case <-time.After(time.Duration(10+nrng.IntN(50)) * time.Millisecond):
						}
						f := faulty[nrng.IntN(n)]
						crash := nrng.IntN(2) == 0
						if crash {
							f.Crash()
						} else {
							f.Pause()
						}
						select {
						case <-done:
						case <-time.After(time.Duration(5+nrng.IntN(35)) * time.Millisecond):
						}
						f.Restart()
						f.Resume()
					}
				})
				var remaining atomic.Int64
				remaining.Store(800)
				var wg sync.WaitGroup
				for c := range clients {
					rng := rand.New(rand.NewPCG(seed, uint64(100+c)))
					wg.Go(func() {
						base := context.WithValue(context.Background(), callerKey{}, goroutineID())
						for i := 0; remaining.Add(-1) >= 0; i++ {
							ctx, cancel := context.WithTimeout(base, 60*time.Millisecond)
							key := "k" + strconv.Itoa(rng.IntN(2))
							if rng.IntN(2) == 0 {
								p := hist.Call(c, quorumtest.Input{Kind: quorumtest.KindGet, Key: key})
								v, err := qcs[c].Get(ctx, key)
								switch {
								case err == nil:
									p.Ok(quorumtest.Output{Value: string(v), Found: true})
									okReads.Add(1)
								case errors.Is(err, quorum.ErrNotFound):
									p.Ok(quorumtest.Output{})
								default:
									p.Failed()
								}
							} else {
								val := fmt.Sprintf("c%d-%d", c, i)
								p := hist.Call(c, quorumtest.Input{Kind: quorumtest.KindPut, Key: key, Value: val})
								switch err := qcs[c].Put(ctx, key, []byte(val)); {
								case err == nil:
									p.Ok(quorumtest.Output{})
								case errors.Is(err, quorum.ErrNotApplied):
									p.Failed()
								default:
									p.Unknown()
								}
							}
							cancel()
						}
					})
				}
				wg.Wait()
				close(done)
				nemesis.Wait()
				for _, qc := range qcs {
					require.NoError(t, qc.Close())
				}
				require.False(t, hist.Overflowed())
				ops = hist.Operations()
			})
			require.Positive(t, inline.Load(), "calls were made inline")
			require.Positive(t, workers.Load(), "calls were made on workers")
			require.Greater(t, okReads.Load(), int64(100), "reads saw values")
			quorumtest.RequireLinearizable(t, ops, time.Minute)
			t.Logf("%d ops, %d inline calls, %d on workers", len(ops), inline.Load(), workers.Load())
		})
	}
}
