package breaker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHooksCallBackInConcurrently: hooks that call Counts, State, Execute,
// Trip and Reset never deadlock, run one at a time per breaker, and see
// state changes as an unbroken chain, under -race with 8 goroutines running
// random call schedules.
func TestHooksCallBackInConcurrently(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			clk := newFakeClock()
			var b *Breaker[int]
			var mu sync.Mutex // only to collect; hooks are serial anyway
			var chain []State
			var inHook atomic.Int32
			var results, rejects atomic.Int64
			enter := func() {
				if inHook.Add(1) != 1 {
					t.Error("two hooks ran at once")
				}
			}
			cfg := Config{Clock: clk, Timeout: time.Millisecond, MaxTimeout: 4 * time.Millisecond, Trip: ConsecutiveFailures(2),
				Hooks: Hooks{
					OnStateChange: func(_ string, from, to State) {
						enter()
						defer inHook.Add(-1)
						mu.Lock()
						if len(chain) > 0 && chain[len(chain)-1] != from {
							t.Errorf("state change from %v after change to %v", from, chain[len(chain)-1])
						}
						chain = append(chain, to)
						mu.Unlock()
						_ = b.Counts()
						_ = b.State()
						_, _ = b.Execute(context.Background(), ok) // nested: queued, not deadlocked
					},
					OnReject: func(string, error) {
						enter()
						defer inHook.Add(-1)
						rejects.Add(1)
						_ = b.State()
					},
					OnResult: func(string, error, time.Duration) {
						enter()
						defer inHook.Add(-1)
						results.Add(1)
						_ = b.Counts()
					},
				}}
			var err error
			b, err = New[int](cfg)
			require.NoError(t, err)
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(seed, uint64(g)))
					for range 300 {
						switch r := rng.IntN(20); {
						case r == 0:
							clk.Advance(time.Millisecond)
						case r == 1:
							b.Trip()
						case r == 2:
							b.Reset()
						case r < 10:
							_, _ = b.Execute(context.Background(), fail)
						default:
							_, _ = b.Execute(context.Background(), ok)
						}
					}
				})
			}
			wg.Wait()
			b.flush() // flush anything queued by the last callers
			assert.NotEmpty(t, chain)
			assert.Positive(t, results.Load())
			assert.Positive(t, rejects.Load())
		})
	}
}

// catch runs f and returns what it panicked with, if anything.
func catch(f func()) (r any) {
	defer func() { r = recover() }()
	f()
	return nil
}

// TestHookPanicsGenerative: hooks that panic at random (a third of their
// calls) through random schedules of Execute, Allow, done, Trip, Reset,
// State, Counts and clock steps, on a lone breaker and on a Group's keys.
// Whatever panics, no admitted call is leaked (the in-flight count always
// equals the calls whose done is pending), no event is lost (OnStateChange
// sees an unbroken chain ending in the current state; OnResult hears of
// every call that ran, OnReject of every refusal), and the breaker keeps
// working. A panic surfaces on the goroutine that delivered the event.
func TestHookPanicsGenerative(t *testing.T) {
	for seed := range uint64(30) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 41))
			clk := newFakeClock()
			var chain = map[string][]string{}
			results, rejects := 0, 0
			maybePanic := func() {
				if rng.IntN(3) == 0 {
					panic("hook bug")
				}
			}
			cfg := Config{Clock: clk, Timeout: time.Second, MaxTimeout: 4 * time.Second, MaxRequests: uint32(1 + rng.IntN(2)),
				Trip: ConsecutiveFailures(2), SlowCall: time.Duration(rng.IntN(2)) * time.Second,
				Hooks: Hooks{
					OnStateChange: func(name string, from, to State) {
						chain[name] = append(chain[name], from.String()+">"+to.String())
						maybePanic()
					},
					OnReject: func(string, error) { rejects++; maybePanic() },
					OnResult: func(string, error, time.Duration) { results++; maybePanic() },
				}}
			g, err := NewGroup[int](GroupConfig{MaxKeys: 1 + rng.IntN(2), Breaker: cfg})
			require.NoError(t, err)
			cfg.Name = "lone"
			lone, err := New[int](cfg)
			require.NoError(t, err)
			type pend struct {
				b    *Breaker[int]
				done func(error)
			}
			var pending []pend
			ran, refused := 0, 0
			pick := func() *Breaker[int] {
				if rng.IntN(2) == 0 {
					return lone
				}
				var b *Breaker[int]
				for b == nil { // adding a key may deliver (and panic) a dropped breaker's events
					_ = catch(func() { b = g.breaker(fmt.Sprint(rng.IntN(3))) })
				}
				return b
			}
			// refusal tells whether the call just made was refused: the
			// generation is the same and it counted one more refusal (a
			// panicking OnReject may hide the error from the caller).
			type mark struct {
				gen      uint64
				rejected uint32
			}
			mark0 := func(b *Breaker[int]) mark {
				b.mu.Lock()
				defer b.mu.Unlock()
				w := b.w.Load()
				var r uint32
				for _, s := range w.ring {
					if s != nil {
						r += s.rejected.Load()
					}
				}
				return mark{w.gen, r}
			}
			evicted := func(b *Breaker[int]) bool {
				b.mu.Lock()
				defer b.mu.Unlock()
				return b.evicted
			}
			for step := range 400 {
				b := pick()
				before := mark0(b)
				switch op := rng.IntN(100); {
				case op < 35:
					res := []error{nil, errBoom, errBoom}[rng.IntN(3)]
					_ = catch(func() {
						_, _ = b.Execute(context.Background(), func(context.Context) (int, error) {
							ran++
							if rng.IntN(4) == 0 {
								clk.Advance(1500 * time.Millisecond)
							}
							return 0, res
						})
					})
					if after := mark0(b); after.gen == before.gen && after.rejected == before.rejected+1 {
						refused++
					}
				case op < 50:
					var done func(error)
					_ = catch(func() { done, _ = b.Allow(context.Background()) })
					if done != nil {
						pending = append(pending, pend{b, done})
					}
					if after := mark0(b); after.gen == before.gen && after.rejected == before.rejected+1 {
						refused++
					}
				case op < 65 && len(pending) > 0:
					i := rng.IntN(len(pending))
					p := pending[i]
					pending = append(pending[:i], pending[i+1:]...)
					if !evicted(p.b) { // an evicted breaker reports nothing
						ran++
					}
					_ = catch(func() { p.done([]error{nil, errBoom}[rng.IntN(2)]) })
				case op < 80:
					clk.Advance(time.Duration(rng.IntN(2500)) * time.Millisecond)
				case op < 86:
					_ = catch(b.Trip)
				case op < 90:
					_ = catch(b.Reset)
				default:
					_ = catch(func() { _ = b.State(); _ = b.Counts() })
				}
				// No admitted call leaked: in flight are at most the pending ones.
				want := map[*Breaker[int]]int64{}
				for _, p := range pending {
					want[p.b]++
				}
				require.LessOrEqual(t, lone.inFlight(), want[lone], "step %d: lone in flight", step)
				for e := g.table.head.next; e != &g.table.head; e = e.next {
					require.LessOrEqual(t, e.b.inFlight(), want[&e.b], "step %d: key %s in flight", step, e.key)
				}
			}
			for _, p := range pending {
				if !evicted(p.b) {
					ran++
				}
				_ = catch(func() { p.done(nil) })
			}
			require.Zero(t, lone.inFlight(), "lone: an admission leaked")
			for e := g.table.head.next; e != &g.table.head; e = e.next {
				require.Zero(t, e.b.inFlight(), "key %s: an admission leaked", e.key)
			}
			// Every event was delivered (the hooks ran, panicking or not).
			require.Equal(t, ran, results, "results")
			require.Equal(t, refused, rejects, "rejects")
			stateOf := func(b *Breaker[int]) (st State) {
				for catch(func() { st = b.State() }) != nil { // a panic: delivered, ask again
				}
				return st
			}
			final := map[string]State{"lone": stateOf(lone)}
			for k := range 3 {
				key := fmt.Sprint(k)
				if e := g.lookup(key); e != nil {
					final[key] = stateOf(&e.b)
				}
			}
			for name, c := range chain {
				prev := "closed"
				for i, tr := range c {
					from, to, _ := strings.Cut(tr, ">")
					require.Equal(t, prev, from, "%s: transition %d of %v", name, i, c)
					prev = to
				}
				if st, ok := final[name]; ok {
					require.Equal(t, st.String(), prev, "%s: chain %v", name, c)
				}
			}
		})
	}
}

// TestHookGoexit: a hook that ends its goroutine (t.FailNow in a hook, say)
// hands the events it did not deliver back to the queue; the next call
// delivers them, in order.
func TestHookGoexit(t *testing.T) {
	clk := newFakeClock()
	var got []string
	exit := true
	b, err := New[int](Config{Clock: clk, Trip: ConsecutiveFailures(1), Timeout: time.Second, MaxTimeout: time.Second,
		Hooks: Hooks{
			OnStateChange: func(_ string, from, to State) { got = append(got, from.String()+">"+to.String()) },
			OnResult: func(string, error, time.Duration) {
				if exit {
					exit = false
					runtime.Goexit()
				}
			},
		}})
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = b.Execute(context.Background(), fail) // result, then closed>open: the result hook exits
	}()
	<-done
	require.Empty(t, got)
	require.Zero(t, b.inFlight())
	require.Equal(t, StateOpen, b.State()) // delivers what was handed back
	require.Equal(t, []string{"closed>open"}, got)
}

// TestHookQueueBounded: while a hook blocks, a storm of calls, refusals,
// trips and resets queues at most MaxQueuedEvents + 1 events; results and
// refusals past the bound are dropped, state changes are merged, so once
// the hook returns the state changes still form an unbroken chain ending in
// the current state.
func TestHookQueueBounded(t *testing.T) {
	clk := newFakeClock()
	release, entered := make(chan struct{}), make(chan struct{})
	var chain []string
	first := true
	b, err := New[int](Config{Clock: clk, Trip: ConsecutiveFailures(1), Timeout: time.Second, MaxTimeout: time.Second,
		Hooks: Hooks{
			OnStateChange: func(_ string, from, to State) {
				chain = append(chain, from.String()+">"+to.String())
				if first {
					first = false
					close(entered)
					<-release
				}
			},
			OnResult: func(string, error, time.Duration) {},
			OnReject: func(string, error) {},
		}})
	require.NoError(t, err)
	blocked := make(chan struct{})
	go func() {
		defer close(blocked)
		_, _ = b.Execute(context.Background(), fail) // closed>open: the hook blocks
	}()
	<-entered
	rng := rand.New(rand.NewPCG(3, 3))
	for i := range 20_000 {
		switch rng.IntN(6) {
		case 0:
			b.Trip()
		case 1:
			b.Reset()
		case 2:
			clk.Advance(time.Duration(rng.IntN(1500)) * time.Millisecond)
		default:
			_, _ = b.Execute(context.Background(), []func(context.Context) (int, error){ok, fail}[rng.IntN(2)])
		}
		require.LessOrEqual(t, int(b.q.n.Load()), MaxQueuedEvents+1, "op %d", i)
	}
	close(release)
	<-blocked
	final := b.State() // (may turn an ended open period half-open, and report it)
	prev := "closed"
	for i, tr := range chain {
		from, to, _ := strings.Cut(tr, ">")
		require.Equal(t, prev, from, "transition %d of %d", i, len(chain))
		require.NotEqual(t, from, to)
		prev = to
	}
	require.Equal(t, final.String(), prev)
}
