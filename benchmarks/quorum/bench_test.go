// Package quorumbench measures bulwark/quorum over in-memory replicas: the
// client's own cost per operation, p99 with one slow replica, and hedged
// against unhedged reads with one tail-heavy replica, each next to a plain
// quorum fan-out (the pattern of dskit's ring.DoUntilQuorum, written out
// below) on the same replicas in the same run. See the quorum section of BENCHMARKS.md.
package quorumbench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/quorum"
	"github.com/bulwark-go/bulwark/quorum/memreplica"
)

// delayed is an in-memory replica with a fixed latency and a tail: tailP of
// its calls take tail longer. A caller that gives up stops waiting at once.
type delayed struct {
	inner *memreplica.Replica
	base  time.Duration
	tailP float64
	tail  time.Duration
	mu    sync.Mutex
	rng   *rand.Rand
	calls atomic.Int64 // Get and Version calls

	scheduled bool          // tail drawn from the read index (withRead), not rng
	seed      uint64        // of the schedule
	tailMax   time.Duration // if > tail, a scheduled tail is drawn from [tail, tailMax)
	zone      string
}

func (d *delayed) Zone() string { return d.zone }

func newDelayed(seed uint64, base time.Duration, tailP float64, tail time.Duration) *delayed {
	return &delayed{
		inner: memreplica.New(memreplica.Options{}),
		base:  base, tailP: tailP, tail: tail,
		rng: rand.New(rand.NewPCG(seed, 1)),
	}
}

// readKey is the context key of a read's index: a replica with a tail
// schedule (see withRead) draws its tail from the index, not from its own
// call sequence, so every client reading index j meets the same fault.
type readKey struct{}

func withRead(ctx context.Context, j uint64) context.Context {
	return context.WithValue(ctx, readKey{}, j)
}

// splitmix64 is a fixed hash of the read index to a uniform number.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func (d *delayed) wait(ctx context.Context) error {
	dur := d.base
	if d.tailP > 0 {
		if d.scheduled {
			// Calls without a read index (the preload) get no tail.
			if j, ok := ctx.Value(readKey{}).(uint64); ok && float64(splitmix64(j^d.seed)>>11)/(1<<53) < d.tailP {
				dur += d.tail
				if d.tailMax > d.tail {
					u := float64(splitmix64(j^d.seed^0x5bd1e995)>>11) / (1 << 53)
					dur += time.Duration(u * float64(d.tailMax-d.tail))
				}
			}
		} else {
			d.mu.Lock()
			if d.rng.Float64() < d.tailP {
				dur += d.tail
			}
			d.mu.Unlock()
		}
	}
	if dur == 0 {
		return nil
	}
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *delayed) Get(ctx context.Context, key string) (quorum.Record, error) {
	d.calls.Add(1)
	if err := d.wait(ctx); err != nil {
		return quorum.Record{}, err
	}
	return d.inner.Get(ctx, key)
}

func (d *delayed) Version(ctx context.Context, key string) (quorum.Version, error) {
	d.calls.Add(1)
	if err := d.wait(ctx); err != nil {
		return quorum.Version{}, err
	}
	return d.inner.Version(ctx, key)
}

func (d *delayed) Put(ctx context.Context, key string, rec quorum.Record) (bool, error) {
	if err := d.wait(ctx); err != nil {
		return false, err
	}
	return d.inner.Put(ctx, key, rec)
}

// fanout is the peer: the quorum fan-out most Go services write by hand, as
// in dskit's ring.DoUntilQuorum — call every replica (or, with hedge > 0,
// the first `need` and one more after hedge), return at `need` successes,
// no read-phase versions, no write-back, no repair. Versions come from a
// local counter, so it is only correct with a single writer; it is here to
// price the plumbing, not as a safe alternative.
type fanout struct {
	replicas []quorum.Replica
	w, r     int
	hedge    time.Duration
	counter  atomic.Uint64
}

type answer struct {
	rec quorum.Record
	err error
}

func (f *fanout) Put(ctx context.Context, key string, value []byte) error {
	rec := quorum.Record{Value: value, Version: quorum.Version{Counter: f.counter.Add(1), Writer: 1}}
	ch := make(chan error, len(f.replicas))
	for _, r := range f.replicas {
		go func() {
			_, err := r.Put(context.WithoutCancel(ctx), key, rec) // stragglers finish
			ch <- err
		}()
	}
	ok, failed := 0, 0
	for range f.replicas {
		if err := <-ch; err != nil {
			failed++
		} else if ok++; ok == f.w {
			return nil
		}
		if failed > len(f.replicas)-f.w {
			break
		}
	}
	return quorum.ErrNoQuorum
}

func (f *fanout) Get(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan answer, len(f.replicas))
	call := func(r quorum.Replica) {
		rec, err := r.Get(ctx, key)
		ch <- answer{rec, err}
	}
	sent := len(f.replicas)
	if f.hedge > 0 {
		sent = f.r
	}
	for _, r := range f.replicas[:sent] {
		go call(r)
	}
	var hedge <-chan time.Time
	if sent < len(f.replicas) {
		t := time.NewTimer(f.hedge)
		defer t.Stop()
		hedge = t.C
	}
	var newest quorum.Record
	ok, done := 0, 0
	for done < sent {
		select {
		case a := <-ch:
			done++
			if a.err != nil {
				continue
			}
			if a.rec.Version.Newer(newest.Version) {
				newest = a.rec
			}
			if ok++; ok == f.r {
				return newest.Value, nil
			}
		case <-hedge:
			hedge = nil
			go call(f.replicas[sent])
			sent++
		}
	}
	return nil, quorum.ErrNoQuorum
}

// store is what both clients offer.
type store interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Put(ctx context.Context, key string, value []byte) error
}

const keys = 64

// keyNames is every key name back to back, so that naming a key in a timed
// loop allocates nothing (the allocs/op columns are the clients' own).
const keyNames = "" +
	"key-00key-01key-02key-03key-04key-05key-06key-07" +
	"key-08key-09key-10key-11key-12key-13key-14key-15" +
	"key-16key-17key-18key-19key-20key-21key-22key-23" +
	"key-24key-25key-26key-27key-28key-29key-30key-31" +
	"key-32key-33key-34key-35key-36key-37key-38key-39" +
	"key-40key-41key-42key-43key-44key-45key-46key-47" +
	"key-48key-49key-50key-51key-52key-53key-54key-55" +
	"key-56key-57key-58key-59key-60key-61key-62key-63"

func keyName(i int) string {
	i %= keys
	return keyNames[6*i : 6*i+6]
}

func TestKeyNames(t *testing.T) {
	for i := range 2 * keys {
		if got, want := keyName(i), fmt.Sprintf("key-%02d", i%keys); got != want {
			t.Fatalf("keyName(%d) = %q, want %q", i, got, want)
		}
	}
}

func preload(b *testing.B, s store) {
	b.Helper()
	for i := range keys {
		if err := s.Put(context.Background(), keyName(i), []byte("initial value")); err != nil {
			b.Fatal(err)
		}
	}
}

func newClient(b *testing.B, reps []quorum.Replica, cfg quorum.Config) *quorum.Client {
	b.Helper()
	c, err := quorum.New(reps, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

func asReplicas[R quorum.Replica](rs []R) []quorum.Replica {
	out := make([]quorum.Replica, len(rs))
	for i, r := range rs {
		out[i] = r
	}
	return out
}

// quantile returns the q-quantile of ds (nearest rank).
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// timed runs op and appends its latency.
func timed(lat *[]time.Duration, op func() error) error {
	start := time.Now()
	err := op()
	*lat = append(*lat, time.Since(start))
	return err
}

var value = []byte("a value of about forty bytes, typical...")

// BenchmarkOverhead is the client's own cost per operation over in-memory
// replicas without delays (N=3, W=R=2), next to the plain fan-out and to one
// direct replica call.
func BenchmarkOverhead(b *testing.B) {
	type target struct {
		name string
		make func(b *testing.B) store
	}
	targets := []target{
		{"bulwark", func(b *testing.B) store {
			reps := []quorum.Replica{memreplica.New(memreplica.Options{}), memreplica.New(memreplica.Options{}), memreplica.New(memreplica.Options{})}
			return newClient(b, reps, quorum.Config{})
		}},
		{"fanout", func(b *testing.B) store {
			reps := []quorum.Replica{memreplica.New(memreplica.Options{}), memreplica.New(memreplica.Options{}), memreplica.New(memreplica.Options{})}
			return &fanout{replicas: reps, w: 2, r: 2}
		}},
	}
	for _, op := range []string{"Get", "Put"} {
		for _, tg := range targets {
			b.Run(op+"/"+tg.name, func(b *testing.B) {
				s := tg.make(b)
				preload(b, s)
				ctx := context.Background()
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					var err error
					if op == "Get" {
						_, err = s.Get(ctx, keyName(i))
					} else {
						err = s.Put(ctx, keyName(i), value)
					}
					if err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
		b.Run(op+"/one-replica-call", func(b *testing.B) {
			r := memreplica.New(memreplica.Options{})
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				var err error
				if op == "Get" {
					_, err = r.Get(ctx, keyName(i))
				} else {
					_, err = r.Put(ctx, keyName(i), quorum.Record{Value: value, Version: quorum.Version{Counter: uint64(i) + 1, Writer: 1}})
				}
				if err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkSlowReplica: N=3, W=R=2, every replica 1 ms away; in the slow
// cluster one replica is 20 ms slower. Each iteration runs one operation on
// the healthy cluster and one on the slow cluster, so both p99s come from the
// same stretch of a noisy machine, after an untimed warm-up of 200 of each.
// Target: slow p99 ≤ 1.5× healthy p99.
func BenchmarkSlowReplica(b *testing.B) {
	const (
		base   = time.Millisecond
		warmup = 200 // untimed operations per cluster
	)
	for _, op := range []string{"Get", "Put"} {
		for _, peer := range []string{"bulwark", "fanout"} {
			b.Run(op+"/"+peer, func(b *testing.B) {
				healthy := []*delayed{newDelayed(1, base, 0, 0), newDelayed(2, base, 0, 0), newDelayed(3, base, 0, 0)}
				slow := []*delayed{newDelayed(4, base, 0, 0), newDelayed(5, base, 0, 0), newDelayed(6, base+20*time.Millisecond, 0, 0)}
				var hs, ss store
				if peer == "bulwark" {
					hs = newClient(b, asReplicas(healthy), quorum.Config{})
					ss = newClient(b, asReplicas(slow), quorum.Config{})
				} else {
					hs = &fanout{replicas: asReplicas(healthy), w: 2, r: 2}
					ss = &fanout{replicas: asReplicas(slow), w: 2, r: 2}
				}
				preload(b, hs)
				preload(b, ss)
				ctx := context.Background()
				var hLat, sLat []time.Duration
				i := 0
				step := func() {
					for _, c := range []struct {
						s   store
						lat *[]time.Duration
					}{{hs, &hLat}, {ss, &sLat}} {
						err := timed(c.lat, func() error {
							if op == "Get" {
								_, err := c.s.Get(ctx, keyName(i))
								return err
							}
							return c.s.Put(ctx, keyName(i), value)
						})
						if err != nil {
							b.Fatal(err)
						}
					}
					i++
				}
				// Warm-up: the latency estimates need samples (fewer than 32
				// per replica fall back to a 5 ms hedge delay); the p99s are
				// of the steady state.
				for range warmup {
					step()
				}
				hLat, sLat = hLat[:0], sLat[:0]
				b.ReportAllocs()
				for b.Loop() {
					step()
				}
				hp, sp := quantile(hLat, 0.99), quantile(sLat, 0.99)
				b.ReportMetric(ms(hp), "healthy-p99-ms")
				b.ReportMetric(ms(sp), "slow-p99-ms")
				if hp > 0 {
					b.ReportMetric(float64(sp)/float64(hp), "p99-ratio")
				}
			})
		}
	}
}

// hedgeScenario runs the issue-24 scenarios over five seeds: one replica of
// three is slow on 10 % of the reads (+50–100 ms, drawn from the read index
// and the seed, so the hedged client and the baseline meet the same
// faults), R=2. pinned keeps the slow replica in every read's minimum set
// (LocalZone is its zone), so only hedging can help; free lets the client
// order replicas by latency, so it may avoid the slow one. The baseline
// is the minimal fixed set without hedging (the fan-out asking the slow
// replica and one other, waiting for both).
func hedgeScenario(b *testing.B, pinned bool) {
	const (
		base      = time.Millisecond
		readers   = 8
		perReader = 100
	)
	for seed := uint64(1); seed <= 5; seed++ {
		b.Run(fmt.Sprintf("seed=%d", seed), func(b *testing.B) {
			mk := func() []*delayed {
				tr := newDelayed(seed, base, 0.1, 50*time.Millisecond)
				tr.scheduled, tr.seed, tr.tailMax, tr.zone = true, seed*1000003, 100*time.Millisecond, "slow"
				f1, f2 := newDelayed(seed+10, base, 0, 0), newDelayed(seed+20, base, 0, 0)
				f1.zone, f2.zone = "far", "far"
				return []*delayed{tr, f1, f2}
			}
			hr := mk()
			var fired, won atomic.Int64
			cfg := quorum.Config{Hooks: quorum.Hooks{
				HedgeFired: func(int) { fired.Add(1) },
				HedgeWon:   func(int) { won.Add(1) },
			}}
			if pinned {
				cfg.LocalZone = "slow"
			}
			hc := newClient(b, asReplicas(hr), cfg)
			clients := []store{hc, &fanout{replicas: asReplicas(mk()), w: 2, r: 2, hedge: time.Hour}}
			for _, c := range clients {
				preload(b, c)
			}
			var (
				next uint64
				mu   sync.Mutex
				lats = make([][]time.Duration, len(clients))
				errs []error
			)
			round := func(record bool) {
				var wg sync.WaitGroup
				for range readers {
					wg.Go(func() {
						mine := make([][]time.Duration, len(clients))
						for range perReader {
							mu.Lock()
							next++
							j := next
							mu.Unlock()
							rctx := withRead(context.Background(), j)
							for k, c := range clients {
								if !record && k > 0 {
									break // the warm-up trains the hedged client only
								}
								if err := timed(&mine[k], func() error {
									_, err := c.Get(rctx, keyName(int(j)))
									return err
								}); err != nil {
									mu.Lock()
									errs = append(errs, err)
									mu.Unlock()
								}
							}
						}
						if record {
							mu.Lock()
							for k := range lats {
								lats[k] = append(lats[k], mine[k]...)
							}
							mu.Unlock()
						}
					})
				}
				wg.Wait()
				if len(errs) > 0 {
					b.Fatal(errs[0])
				}
			}
			round(false) // warm-up: latency estimates
			var before [3]int64
			for i, r := range hr {
				before[i] = r.calls.Load()
			}
			fired.Store(0)
			won.Store(0)
			b.ReportAllocs()
			for b.Loop() {
				round(true)
			}
			var calls, slowCalls int64
			for i, r := range hr {
				calls += r.calls.Load() - before[i]
			}
			slowCalls = hr[0].calls.Load() - before[0]
			n := float64(len(lats[0]))
			hp, up := quantile(lats[0], 0.99), quantile(lats[1], 0.99)
			b.ReportMetric(ms(hp), "hedged-p99-ms")
			b.ReportMetric(ms(up), "unhedged-p99-ms")
			b.ReportMetric(float64(up)/float64(hp), "p99-cut")
			// Extra replica requests as a share of what unhedged reads make
			// (R = 2 per read).
			b.ReportMetric((float64(calls)-2*n)/(2*n), "extra-req-share")
			b.ReportMetric(float64(fired.Load())/n, "hedges/read")
			b.ReportMetric(float64(won.Load())/n, "hedges-won/read")
			b.ReportMetric(float64(slowCalls)/n, "slow-replica-calls/read")
		})
	}
}

// BenchmarkHedgePinned: hedging alone must cut the tail (issue 24).
func BenchmarkHedgePinned(b *testing.B) { hedgeScenario(b, true) }

// BenchmarkHedgeFree: the client may avoid the slow replica.
func BenchmarkHedgeFree(b *testing.B) { hedgeScenario(b, false) }
