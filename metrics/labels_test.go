package metrics

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// randBytes returns a random label value: runs of ASCII, multi-byte runes,
// U+FFFD itself, lone continuation and lead bytes, truncated sequences,
// overlong encodings and surrogates, at lengths from empty to a few times
// MaxLabelValueLen, sometimes right at the cut.
func randBytes(rng *rand.Rand) string {
	pieces := []string{"a", "Z", "0", "\"", "\\", "\n", "<b>", "é", "世", "😀", "\uFFFD",
		"\xff", "\xfe", "\x80", "\xbf", "\xc3", "\xe4\xb8", "\xf0\x9f\x98", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"}
	var sb strings.Builder
	target := rng.IntN(8)
	switch rng.IntN(4) {
	case 0:
		target = MaxLabelValueLen - 4 + rng.IntN(8)
	case 1:
		target = rng.IntN(2 * MaxLabelValueLen)
	}
	for sb.Len() < target {
		p := pieces[rng.IntN(len(pieces))]
		for n := 1 + rng.IntN(4); n > 0; n-- {
			sb.WriteString(p)
		}
	}
	return sb.String()
}

// cutClean is the specification of a kept label value.
func cutClean(v string) string {
	c := strings.ToValidUTF8(v, "\uFFFD")
	if len(c) <= MaxLabelValueLen {
		return c
	}
	n := MaxLabelValueLen
	for !utf8.RuneStart(c[n]) {
		n--
	}
	return c[:n]
}

// TestCleanValueMatchesSpec: for random byte strings, cleanValue equals
// cleaning with strings.ToValidUTF8 and then cutting at a rune start, and
// is valid UTF-8 of at most MaxLabelValueLen bytes. Before, values were cut
// first and cleaned after, so invalid bytes (1 byte each, 3 once cleaned)
// made exposed values of up to 3 KiB.
func TestCleanValueMatchesSpec(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	for i := 0; i < 4000; i++ {
		v := randBytes(rng)
		got := cleanValue(v)
		require.Equal(t, cutClean(v), got, "value %q", v)
		require.True(t, utf8.ValidString(got))
		require.LessOrEqual(t, len(got), MaxLabelValueLen)
	}
}

// TestLabelValuesAgainstModel: random caps and streams of random label
// byte strings (invalid UTF-8, U+FFFD, values at and past the length cut).
// The vector keeps the first MaxSeries distinct cleaned tuples, in order;
// every With of values that clean to a kept tuple lands on that series,
// even past the cap (aliases never take a slot); every other With lands on
// the overflow series and is counted; exposed values are valid, at most
// MaxLabelValueLen bytes and never repeat; the label text held stays
// within 2 × MaxSeries × labels × MaxLabelValueLen. Before, an alias past
// the cap went to the overflow series and aliases used up slots.
func TestLabelValuesAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(73, 74))
	for round := 0; round < 25; round++ {
		max := 1 + rng.IntN(40)
		nl := 1 + rng.IntN(2)
		r := NewRegistry(WithMaxSeries(max))
		labels := []string{"a", "b"}[:nl]
		v := r.CounterVec("x_total", "", labels...)
		pool := make([][]string, 1+rng.IntN(3*max))
		for i := range pool {
			for range nl {
				pool[i] = append(pool[i], randBytes(rng))
			}
			if i > 0 && rng.IntN(3) == 0 { // a variant of an earlier value: cleans the same or close
				pool[i] = append([]string(nil), pool[rng.IntN(i)]...)
				pool[i][0] = strings.ReplaceAll(pool[i][0], "\xff", "\xfe")
			}
		}
		kept := map[string]uint64{} // canonical tuple (joined) -> total
		var order []string
		var ovfCalls, ovfSum uint64
		for i := 0; i < 400; i++ {
			vals := pool[rng.IntN(len(pool))]
			n := uint64(1 + rng.IntN(3))
			v.With(vals...).Add(n)
			var c []string
			for _, x := range vals {
				c = append(c, cutClean(x))
			}
			k := strings.Join(c, "\x00")
			if _, ok := kept[k]; !ok && len(kept) < max {
				kept[k] = 0
				order = append(order, k)
			}
			if _, ok := kept[k]; ok {
				kept[k] += n
			} else {
				ovfCalls++
				ovfSum += n
			}
		}
		seen := map[string]bool{}
		text := 0
		for _, s := range v.f.all() {
			k := strings.Join(s.values, "\x00")
			require.False(t, seen[k], "round %d: series %q exposed twice", round, s.values)
			seen[k] = true
			for _, x := range s.values {
				require.True(t, utf8.ValidString(x))
				require.LessOrEqual(t, len(x), MaxLabelValueLen)
				text += len(x)
			}
			if s.values[0] == OverflowValue {
				continue
			}
			require.Equal(t, kept[k], s.c.Value(), "round %d series %q", round, s.values)
		}
		require.Len(t, order, int(v.f.count.Load()), "round %d", round)
		require.LessOrEqual(t, v.f.count.Load(), int64(max))
		require.LessOrEqual(t, v.f.aliases, int64(max))
		tab := v.f.idx.tab.Load()
		for i := range tab.slots { // alias entries: their own key text
			if e := tab.slots[i].Load(); e != nil && &e.key[0] != &e.s.values[0] {
				for _, x := range e.key {
					text += len(x)
				}
			}
		}
		require.LessOrEqual(t, text, 2*max*nl*MaxLabelValueLen+nl*len(OverflowValue), "round %d", round)
		ov := make([]string, nl)
		for i := range ov {
			ov[i] = OverflowValue
		}
		if ovfCalls > 0 {
			assert.Equal(t, ovfSum, v.With(ov...).Value(), "round %d", round)
		}
		assert.Equal(t, ovfCalls, r.ovf.with([]string{"x_total", "series"}).c.Value(), "round %d", round)
		// History finds a series by any raw form of its values
		for _, vals := range pool {
			var c []string
			for _, x := range vals {
				c = append(c, cutClean(x))
			}
			if _, ok := kept[strings.Join(c, "\x00")]; ok {
				_, err := r.History("x_total", 1e9, vals...)
				require.NotErrorIs(t, err, ErrUnknownMetric, "round %d: %q", round, vals)
			}
		}
	}
}

// TestLabelValuesConcurrent: goroutines With random raw values from a shared
// pool at once (cleaning, aliasing and table growth racing lookups);
// nothing is lost, cleaned tuples are never exposed twice and the cap
// holds. The exposition has no duplicate series.
func TestLabelValuesConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(75, 76))
	for round := 0; round < 6; round++ {
		max := 1 + rng.IntN(60)
		r := NewRegistry(WithMaxSeries(max))
		v := r.CounterVec("x_total", "", "a")
		pool := make([]string, 1+rng.IntN(3*max))
		for i := range pool {
			pool[i] = randBytes(rng)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var want uint64
		for g := 0; g < 2+rng.IntN(5); g++ {
			seed := rng.Uint64()
			wg.Go(func() {
				rr := rand.New(rand.NewPCG(seed, 1))
				var local uint64
				for j := 0; j < 1500; j++ {
					n := uint64(1 + rr.IntN(3))
					v.With(pool[rr.IntN(len(pool))]).Add(n)
					local += n
				}
				mu.Lock()
				want += local
				mu.Unlock()
			})
		}
		wg.Wait()
		var got uint64
		seen := map[string]bool{}
		for _, s := range v.f.all() {
			got += s.c.Value()
			require.False(t, seen[s.values[0]], "round %d: %q twice", round, s.values[0])
			seen[s.values[0]] = true
		}
		require.Equal(t, want, got, "round %d", round)
		require.LessOrEqual(t, v.f.count.Load(), int64(max))
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		r.WriteText(w)
		require.NoError(t, w.Flush())
		lines := map[string]bool{}
		for _, l := range strings.Split(buf.String(), "\n") {
			if strings.HasPrefix(l, "x_total{") {
				name := l[:strings.LastIndexByte(l, ' ')]
				require.False(t, lines[name], "round %d: %s exposed twice", round, name)
				lines[name] = true
			}
		}
	}
}
