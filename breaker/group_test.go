package breaker

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// inOverflow reports whether key's breaker is in the Group's overflow.
func (g *Group[T]) inOverflow(key string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for e := g.over.head.next; e != &g.over.head; e = e.next {
		if e.key == key {
			return true
		}
	}
	return false
}

// TestGroupGenerative streams random keys, some of them dead, through small
// Groups and checks after every call: no breaker of the table that is open
// or half-open was evicted; only the overflow, when full, drops an open
// breaker; Len stays within MaxKeys + ⌈MaxKeys/16⌉; a new key examines at
// most 3 × 32 breakers; the open share respects MaxOpenFraction; and a dead
// key whose breaker opened sees no call while it stays open. When the Group
// can hold every dead key (fewer dead keys than table and overflow hold)
// and the sweep sees the whole table (MaxKeys ≤ 32), no open breaker is
// ever dropped and a dead key is never reached again once its breaker
// opened. (Before that, its closed breaker may be evicted between two
// failures: bounded memory forgets partial failure counts.)
func TestGroupGenerative(t *testing.T) {
	for seed := range uint64(25) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 3))
			clk := newFakeClock()
			maxKeys := 1 + rng.IntN(40)
			frac := []float64{0, 0, 0.1, 0.3, 1}[rng.IntN(5)]
			g, err := NewGroup[int](GroupConfig{MaxKeys: maxKeys, MaxOpenFraction: frac,
				Breaker: Config{Clock: clk, Trip: ConsecutiveFailures(2), Timeout: time.Hour}})
			require.NoError(t, err)
			keys := 1 + rng.IntN(3*maxKeys+20)
			deadEvery := 2 + rng.IntN(8)
			dead := func(k int) bool { return k%deadEvery == 0 }
			nDead := (keys + deadEvery - 1) / deadEvery
			type seen struct {
				b    *Breaker[int]
				over bool
			}
			opened := map[string]seen{}
			everOpened := map[string]bool{}
			reachedAfterOpen, forcedOpen := 0, 0
			for i := range 2000 {
				k := rng.IntN(keys)
				key := fmt.Sprint(k)
				if o, ok := opened[key]; ok && o.b.State() != StateClosed {
					e := g.lookup(key)
					if e == nil || &e.b != o.b {
						require.True(t, o.over, "call %d: open breaker of %s evicted from the table", i, key)
						forcedOpen++
						delete(opened, key)
					}
				}
				called := false
				_, _ = g.Execute(context.Background(), key, func(context.Context) (int, error) {
					called = true
					if dead(k) {
						return 0, errBoom
					}
					return 1, nil
				})
				require.LessOrEqual(t, g.scanned, 3*evictScan, "call %d", i)
				if called && everOpened[key] {
					reachedAfterOpen++
				}
				if o, ok := opened[key]; ok && o.b.State() == StateOpen {
					require.False(t, called, "call %d reached open key %s", i, key)
				}
				if e := g.lookup(key); e != nil && e.b.State() == StateOpen {
					if o, ok := opened[key]; !ok || o.b != &e.b {
						opened[key] = seen{&e.b, g.inOverflow(key)}
					}
					everOpened[key] = true
				}
				require.LessOrEqual(t, g.Len(), groupCapacity(maxKeys))
				require.LessOrEqual(t, g.table.n, maxKeys)
				open := g.openN.Load()
				if frac > 0 {
					require.True(t, open <= 1 || float64(open) <= math.Floor(frac*float64(g.Len())+1e-9), "open %d of %d, fraction %v", open, g.Len(), frac)
				}
				if rng.IntN(300) == 0 {
					clk.Advance(time.Minute) // well within the open period
				}
			}
			if frac == 0 && maxKeys <= evictScan && nDead < groupCapacity(maxKeys) {
				require.Zero(t, forcedOpen)
				require.Zero(t, reachedAfterOpen)
			}
		})
	}
}

// TestGroupFullOfOpenBreakers: a Group whose table is full of open breakers
// (a partition, with no MaxOpenFraction) gives a new key an overflow
// breaker after examining at most 3 × 32 breakers, not all of them; a new
// dead host trips after its 5 failures and stays cut off; and calls to it
// do not allocate.
func TestGroupFullOfOpenBreakers(t *testing.T) {
	clk := newFakeClock()
	const maxKeys = 10_000
	g, err := NewGroup[int](GroupConfig{MaxKeys: maxKeys, Breaker: Config{Clock: clk}})
	require.NoError(t, err)
	ctx := context.Background()
	for i := range maxKeys {
		for range 5 {
			_, _ = g.Execute(ctx, fmt.Sprint("h", i), fail)
		}
	}
	require.Equal(t, maxKeys, g.Len())
	rng := rand.New(rand.NewPCG(5, 5))
	for n := range 300 { // new dead hosts, in a random order of calls
		key := fmt.Sprint("new", rng.IntN(n+1))
		calls := 0
		for range 20 {
			_, _ = g.Execute(ctx, key, func(context.Context) (int, error) { calls++; return 0, errBoom })
			require.LessOrEqual(t, g.scanned, 3*evictScan)
		}
		require.Equal(t, StateOpen, g.State(key))
		require.LessOrEqual(t, calls, 5, "new dead host %s reached %d times", key, calls)
	}
	require.LessOrEqual(t, g.Len(), groupCapacity(maxKeys))
	require.Zero(t, testing.AllocsPerRun(100, func() { _, _ = g.Execute(ctx, "new0", fail) }))
}

// TestGroupEvictionIsSecondChance pins the documented eviction policy: with
// every breaker closed and idle, a new key in a full Group evicts by the
// second-chance sweep (a reference model here), which is what "about least
// recently used" means; it keeps every key it can in the table.
func TestGroupEvictionIsSecondChance(t *testing.T) {
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 9))
		maxKeys := 1 + rng.IntN(evictScan)
		g, err := NewGroup[int](GroupConfig{MaxKeys: maxKeys, Breaker: Config{Clock: newFakeClock()}})
		require.NoError(t, err)
		type ref struct {
			key  string
			used bool
		}
		var model []ref // hand order, oldest first
		for step := range 500 {
			key := fmt.Sprint(rng.IntN(2 * maxKeys))
			i := slices.IndexFunc(model, func(r ref) bool { return r.key == key })
			switch {
			case i >= 0:
				model[i].used = true
			case len(model) < maxKeys:
				model = append(model, ref{key, false}) // its first call is no use yet
			default:
				victim := -1
				for range len(model) {
					if !model[0].used {
						victim = 0
						break
					}
					model[0].used = false
					model = append(model[1:], model[0])
				}
				if victim < 0 { // all used: the first examined, now first again
					victim = 0
				}
				model = append(model[:victim], model[victim+1:]...)
				model = append(model, ref{key, false})
			}
			_, _ = g.Execute(context.Background(), key, ok)
			var want []string
			for _, r := range model {
				want = append(want, r.key)
			}
			var got []string
			for e := g.table.head.next; e != &g.table.head; e = e.next {
				got = append(got, e.key)
			}
			require.Equal(t, want, got, "seed %d step %d", seed, step)
			require.Zero(t, g.over.n)
		}
	}
}

// TestGroupHookOrderAcrossEviction: a key's events are queued behind a slow
// hook, the key's breaker is evicted and a new breaker of the key opens;
// its events reach the hooks after the old breaker's, so a consumer that
// tracks state per key ends with the key's real state.
func TestGroupHookOrderAcrossEviction(t *testing.T) {
	clk := newFakeClock()
	release, entered := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var log []string
	view := map[string]State{}
	first := true
	g, err := NewGroup[int](GroupConfig{MaxKeys: 1, Breaker: Config{Clock: clk, Timeout: time.Second, MaxTimeout: time.Second,
		Interval: time.Second,
		Hooks: Hooks{OnStateChange: func(name string, from, to State) {
			mu.Lock()
			log = append(log, name+":"+from.String()+">"+to.String())
			view[name] = to
			blk := first
			first = false
			mu.Unlock()
			if blk { // a slow hook (a metrics push) on the first event
				close(entered)
				<-release
			}
		}}}})
	require.NoError(t, err)
	ctx := context.Background()
	tripped := make(chan struct{})
	go func() {
		defer close(tripped)
		for range 5 {
			_, _ = g.Execute(ctx, "a", fail) // trips a; the hook blocks
		}
	}()
	<-entered
	clk.Advance(2 * time.Second)
	_, _ = g.Execute(ctx, "a", ok) // half-open, closed: queued behind the hook
	clk.Advance(time.Hour)
	_, _ = g.Execute(ctx, "b", ok) // evicts a's idle breaker (or overflows)
	_, _ = g.Execute(ctx, "c", ok)
	clk.Advance(time.Hour)
	for range 5 {
		_, _ = g.Execute(ctx, "a", fail) // a's new breaker opens
	}
	close(release)
	<-tripped
	want := g.State("a")
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, StateOpen, want)
	require.Equal(t, want, view["a"], "hook log %v", log)
	require.Equal(t, []string{"a:closed>open", "a:open>half-open", "a:half-open>closed", "a:closed>open"}, log)
}

// TestGroupHookChainsConcurrent: goroutines drive random calls over more
// keys than a small Group holds (so keys are evicted from the table and
// dropped from the overflow while open), with hooks that yield, call back
// into the Group and run concurrently for different keys. Per key, the
// hooks never run concurrently, OnStateChange sees an unbroken chain of
// transitions, and once all calls returned, each key's chain ends in the
// state the Group reports.
func TestGroupHookChainsConcurrent(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			clk := newFakeClock()
			var g *Group[int]
			var mu sync.Mutex
			last := map[string]State{}
			inHook := map[string]int{}
			var problems []string
			enter := func(name string) {
				mu.Lock()
				inHook[name]++
				if inHook[name] > 1 {
					problems = append(problems, "hooks of "+name+" ran concurrently")
				}
				mu.Unlock()
			}
			leave := func(name string) { mu.Lock(); inHook[name]--; mu.Unlock() }
			hookRng := rand.New(rand.NewPCG(seed, 77))
			var hookRngMu sync.Mutex
			coin := func(n int) bool { hookRngMu.Lock(); defer hookRngMu.Unlock(); return hookRng.IntN(n) == 0 }
			hooks := Hooks{
				OnStateChange: func(name string, from, to State) {
					enter(name)
					defer leave(name)
					mu.Lock()
					prev, seen := last[name]
					if !seen {
						prev = StateClosed
					}
					if prev != from {
						problems = append(problems, fmt.Sprintf("%s: %v>%v after >%v", name, from, to, prev))
					}
					last[name] = to
					mu.Unlock()
					for range 3 {
						runtime.Gosched()
					}
					_ = g.State(name)
					if coin(4) {
						_, _ = g.Execute(context.Background(), name, ok)
					}
				},
				OnResult: func(name string, _ error, _ time.Duration) { enter(name); runtime.Gosched(); leave(name) },
				OnReject: func(name string, _ error) { enter(name); leave(name) },
			}
			var err error
			g, err = NewGroup[int](GroupConfig{MaxKeys: 1 + int(seed%3), Breaker: Config{
				Clock: clk, Timeout: 100 * time.Millisecond, MaxTimeout: time.Second, MaxRequests: 2,
				Interval: time.Second, BucketPeriod: 100 * time.Millisecond,
				Trip: ConsecutiveFailures(2), Hooks: hooks}})
			require.NoError(t, err)
			var wg sync.WaitGroup
			for w := range 6 {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(seed, uint64(w)))
					for range 600 {
						key := fmt.Sprint(rng.IntN(6))
						if rng.IntN(10) == 0 {
							clk.Advance(time.Duration(rng.IntN(300)) * time.Millisecond)
						}
						_, _ = g.Execute(context.Background(), key, func(context.Context) (int, error) {
							if rng.IntN(2) == 0 {
								return 0, errBoom
							}
							return 1, nil
						})
					}
				})
			}
			wg.Wait()
			for k := range 6 {
				key := fmt.Sprint(k)
				st := g.State(key) // delivers an ended open period first
				mu.Lock()
				got, ok := last[key]
				mu.Unlock()
				if !ok {
					got = StateClosed
				}
				require.Equal(t, st, got, "key %s", key)
			}
			require.Empty(t, problems)
		})
	}
}

// TestEntryLayout: an entry's first cache line holds the key and
// the breaker's fields every call reads, and entries fill whole lines (so
// the allocator's size class keeps them line-aligned).
func TestEntryLayout(t *testing.T) {
	var e entry[int]
	require.Zero(t, unsafe.Sizeof(e)%64, "entry size %d", unsafe.Sizeof(e))
	require.LessOrEqual(t, unsafe.Offsetof(e.b)+unsafe.Offsetof(e.b.epoch)+unsafe.Sizeof(e.b.epoch), uintptr(64))
	require.Less(t, unsafe.Offsetof(e.b)+unsafe.Offsetof(e.b.fast), uintptr(64))
	var w window
	require.LessOrEqual(t, unsafe.Offsetof(w.cur)+8, uintptr(64))
	require.Equal(t, uintptr(64), unsafe.Sizeof(slot{}), "a slot fills one line")
}
