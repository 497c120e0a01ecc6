package quorum

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVersionFloorsGenerative: random mixes of ordinary keys (small
// counters) and high keys (counters set from outside anywhere in
// [2^63, 2^64), many of them just below or at the overflow zone) spread
// over a few random stripes, so that they share stripes; concurrent
// callers; each issued counter "lands" (becomes the key's seen counter) or
// not at random, as an indeterminate write would. A high key in a stripe
// used to raise the stripe's floor, so the ordinary keys of the stripe got
// counters 2^32 writes short of overflow, and every key it then touched
// was kept in top forever. Now:
//   - no counter is issued twice for one key;
//   - an ordinary key's counter is never above the highest ordinary start
//     plus the number of counters issued so far (it does not jump towards
//     the top);
//   - only a high key fails with overflow;
//   - top never holds more than topKeys keys, and ordinary keys never
//     enter it.
//
// Some seeds also have "pinning" keys just below 2^63-1, which take their
// stripe's floor to highCounters-1: the ordinary keys of those stripes are
// then issued high counters under the lock (documented), and only the
// properties not about them are checked.
func TestVersionFloorsGenerative(t *testing.T) {
	for seed := range uint64(10) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 77))
			f := &versionFloors{seed: maphash.MakeSeed()}
			stripe := func(k string) uint64 { return maphash.String(f.seed, k) % floorStripes }
			// A few stripes, so that high and ordinary keys meet in them.
			nStripes := 4 + rng.IntN(13)
			want := map[uint64]bool{}
			for len(want) < nStripes {
				want[rng.Uint64N(floorStripes)] = true
			}
			nHigh := []int{10, 300, topKeys + 1500}[rng.IntN(3)]
			nOrdinary := 200 + rng.IntN(400)
			pin := seed%4 == 3
			type key struct {
				name     string
				start    uint64
				high     bool
				pinned   bool // its stripe has a pinning key
				seen     uint64
				issued   map[uint64]bool
				failures int
			}
			var keys []*key
			pinnedStripes := map[uint64]bool{}
			var buf []byte
			for i := 0; len(keys) < nHigh+nOrdinary+2; i++ {
				buf = strconv.AppendInt(append(buf[:0], 'k'), int64(i), 10)
				si := maphash.Bytes(f.seed, buf) % floorStripes
				// High keys go anywhere too, to fill top.
				if !want[si] && (len(keys) < nOrdinary || rng.IntN(8) != 0) {
					continue
				}
				k := &key{name: string(buf), issued: map[uint64]bool{}}
				switch {
				case pin && len(keys) < 2:
					k.start = highCounters - 2 - uint64(rng.IntN(2))
					pinnedStripes[si] = true
				case len(keys) < nOrdinary+2:
					k.start = uint64(rng.IntN(1000))
				default:
					k.high = true
					switch rng.IntN(5) {
					case 0:
						k.start = math.MaxUint64 - uint64(rng.IntN(3))
					case 1:
						k.start = math.MaxUint64 - 1<<32 + uint64(rng.IntN(5)) - 2
					case 2:
						k.start = highCounters + uint64(rng.IntN(3))
					default:
						k.start = highCounters + rng.Uint64N(math.MaxUint64-highCounters)
					}
				}
				k.seen = k.start
				keys = append(keys, k)
			}
			for _, k := range keys {
				k.pinned = pinnedStripes[stripe(k.name)]
			}

			var mu sync.Mutex // guards keys' fields and issuedTotal
			issuedTotal := uint64(0)
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() {
					r := rand.New(rand.NewPCG(seed, uint64(w)+100))
					for range 6000 {
						k := keys[r.IntN(len(keys))]
						mu.Lock()
						seen := k.seen
						mu.Unlock()
						c, ok := f.next(k.name, seen)
						mu.Lock()
						issuedTotal++
						if !ok {
							k.failures++
							if !k.high {
								t.Errorf("ordinary key %s (start %d) overflowed", k.name, k.start)
							}
						} else {
							if k.issued[c] {
								t.Errorf("counter %d issued twice for %s", c, k.name)
							}
							k.issued[c] = true
							if c <= seen {
								t.Errorf("%s: counter %d not above the seen %d", k.name, c, seen)
							}
							// Other ordinary keys (start < 1000) share the
							// stripe; up to 4 calls run at once.
							if !k.high && !k.pinned && k.start < highCounters-2 && c > 1000+issuedTotal+4 {
								t.Errorf("ordinary key %s (start %d) dragged up to %d", k.name, k.start, c)
							}
							if r.IntN(3) != 0 { // the write landed
								k.seen = max(k.seen, c)
							} else if r.IntN(4) == 0 { // the replicas lost it all
								k.seen = k.start
							}
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()

			f.mu.Lock()
			defer f.mu.Unlock()
			assert.LessOrEqual(t, len(f.top), topKeys, "top is bounded")
			for _, k := range keys {
				if !k.high && !k.pinned && k.start < highCounters-2 {
					_, in := f.top[k.name]
					assert.False(t, in, "ordinary key %s entered top", k.name)
				}
			}
			for si := range floorStripes {
				if fl := f.stripes[si].Load(); !pinnedStripes[uint64(si)] && fl >= 1<<20 {
					t.Errorf("stripe %d floor raised towards the top: %d", si, fl)
				}
			}
			t.Logf("stripes %d, high keys %d, ordinary %d, pinned stripes %d: top holds %d keys, evicted floor in use %v",
				nStripes, nHigh, nOrdinary, len(pinnedStripes), len(f.top), f.evicted != nil)
		})
	}
}

// highRep stores nothing and answers counter MaxUint64-2^32-2 for keys
// starting with "big", no record otherwise (the reviewer's repro).
type highRep struct{}

func (highRep) Get(context.Context, string) (Record, error) { return Record{}, nil }
func (highRep) Put(context.Context, string, Record) (bool, error) {
	return true, nil
}
func (highRep) NonBlocking() bool { return true }
func (highRep) Version(_ context.Context, k string) (Version, error) {
	if strings.HasPrefix(k, "big") {
		return Version{Counter: math.MaxUint64 - 1<<32 - 2, Writer: 7}, nil
	}
	return Version{}, nil
}

// TestHighKeysDoNotDragFreshKeys: writes of 6000 keys whose counters sit
// just below the overflow zone (spread over most stripes, more than top holds) used to
// raise their stripes' floors, so a never-written key got counter
// MaxUint64-2^32, and every fresh key of such a stripe was then kept in top
// forever (65 bytes each). Now a fresh key gets counter 1 and top stays
// within topKeys whatever is written.
func TestHighKeysDoNotDragFreshKeys(t *testing.T) {
	ctx := context.Background()
	c, err := New([]Replica{highRep{}, highRep{}, highRep{}}, Config{Hedge: Hedge{Disabled: true}, Repair: RepairOff})
	require.NoError(t, err)
	defer c.Close()
	for i := range 6000 {
		require.NoError(t, c.Put(ctx, fmt.Sprint("big", i), []byte("v")))
	}
	v, err := c.PutVersion(ctx, "fresh", []byte("v"))
	require.NoError(t, err)
	assert.Equal(t, uint64(1), v.Counter, "a fresh key is not dragged by the high keys of its stripe")
	c.floors.mu.Lock()
	n := len(c.floors.top)
	c.floors.mu.Unlock()
	assert.LessOrEqual(t, n, topKeys)
	for i := range 8000 {
		require.NoError(t, c.Put(ctx, fmt.Sprint("fresh-", i), []byte("v")))
	}
	c.floors.mu.Lock()
	defer c.floors.mu.Unlock()
	assert.Equal(t, n, len(c.floors.top), "fresh keys are not kept in top")
	for si := range floorStripes {
		if fl := c.floors.stripes[si].Load(); fl >= 1<<20 {
			t.Errorf("stripe %d floor raised towards the top: %d", si, fl)
		}
	}
}
