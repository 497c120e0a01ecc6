package grayroute

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestUpdateReshuffle(t *testing.T) {
	base := rampConfig(1000, "s1")
	r, err := New(base)
	require.NoError(t, err)
	for _, tc := range []struct {
		field string
		edit  func(*Release)
	}{
		{"salt", func(x *Release) { x.Salt = "s2" }},
		{"variants", func(x *Release) { x.Variants = []string{"canary", "stable"} }},
	} {
		c := rampConfig(1000, "s1")
		rel := c.Releases["r"]
		tc.edit(&rel)
		c.Releases["r"] = rel
		err := r.Update(c)
		require.ErrorIs(t, err, ErrReshuffle, tc.field)
		var re *ReshuffleError
		require.True(t, errors.As(err, &re))
		require.Equal(t, tc.field, re.Field)
		require.Equal(t, Bucket("s1", "k")*0+Bucket("s1", "k"), r.Route("r", Request{Key: "k"}).Bucket, "old config stays")
		imp, err := Impact(base, c, keysN(10_000))
		require.NoError(t, err)
		require.Greater(t, imp["r"].Moved, 0.0)
		require.NoError(t, r.ForceUpdate(c))
		require.NoError(t, r.ForceUpdate(base))
	}
	// An unrelated change is not a reshuffle, and moves nobody.
	c := rampConfig(1000, "s1")
	rel := c.Releases["r"]
	rel.Rules = append([]Rule{{Name: "staff", Keys: []string{"nobody"}, Variant: "canary"}}, rel.Rules...)
	c.Releases["r"] = rel
	require.NoError(t, r.Update(c))
	imp, err := Impact(base, c, keysN(10_000))
	require.NoError(t, err)
	require.Equal(t, 0.0, imp["r"].Moved)
	// Ramp 10 → 20 %: about 10 % move, all from stable to canary.
	imp, err = Impact(base, rampConfig(2000, "s1"), keysN(100_000))
	require.NoError(t, err)
	require.InDelta(t, 0.10, imp["r"].Moved, 0.01)
	require.Zero(t, imp["r"].From["canary"])
	require.Equal(t, imp["r"].From["stable"], imp["r"].To["canary"])
}

func keysN(n int) []string {
	k := make([]string, n)
	for i := range k {
		k[i] = "user-" + strconv.Itoa(i)
	}
	return k
}

// markedConfig has one release whose every variant and rule name carry i,
// so a decision shows which config it came from.
func markedConfig(i int) Config {
	v := func(s string) string { return fmt.Sprintf("%s%d", s, i%2) }
	return Config{Releases: map[string]Release{"r": {
		Salt: "s", Variants: []string{v("a"), v("b")},
		Rules: []Rule{
			{Name: "x" + strconv.Itoa(i), When: []Condition{{Attr: "p", Op: "eq", Value: genValue("ios")}}, Variant: v("b")},
			{Name: "y" + strconv.Itoa(i), Split: map[string]int{v("a"): 5000, v("b"): 5000}},
		},
	}}}
}

func TestRouteDuringConcurrentUpdatesSeesWholeConfigs(t *testing.T) {
	r, err := New(markedConfig(0))
	require.NoError(t, err)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var routes atomic.Int64
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			for !stop.Load() {
				q := Request{Key: genKey(rng)}
				if rng.IntN(2) == 0 {
					q.Attrs = map[string]string{"p": "ios"}
				}
				d := r.Route("r", q)
				i, err := strconv.Atoi(d.Rule[1:])
				if err != nil {
					t.Errorf("rule %q", d.Rule)
					return
				}
				if d.Variant[1:] != strconv.Itoa(i%2) {
					t.Errorf("decision mixes configs: %+v", d)
					return
				}
				routes.Add(1)
			}
		}()
	}
	var ug sync.WaitGroup
	for u := range 1000 {
		ug.Add(1)
		go func() {
			defer ug.Done()
			cfg := markedConfig(u + 1)
			if u%3 == 0 {
				require.NoError(t, r.ForceUpdate(cfg))
			} else {
				err := r.Update(cfg)
				if err != nil {
					require.ErrorIs(t, err, ErrReshuffle)
				}
			}
			if u%10 == 0 {
				require.ErrorIs(t, r.Update(Config{Releases: map[string]Release{"r": {}}}), ErrInvalidConfig)
			}
		}()
	}
	ug.Wait()
	stop.Store(true)
	wg.Wait()
	require.Positive(t, routes.Load())
}

func TestStickyKeepsOnShrinkNotRollback(t *testing.T) {
	cfg := func(share, sticky int) Config {
		c := rampConfig(share, "s")
		rel := c.Releases["r"]
		rel.Sticky = sticky
		rel.Plan = &Plan{Canary: "canary", Control: "stable", Steps: []PlanStep{{Share: share}, {Share: 10000}}}
		c.Releases["r"] = rel
		return c
	}
	rng := rand.New(rand.NewPCG(31, 32))
	for trial := range scaled(10, 5) {
		hi := 2000 + rng.IntN(6000)
		lo := rng.IntN(hi)
		r, err := New(cfg(hi, 100_000))
		require.NoError(t, err)
		keys := keysN(5000)
		was := map[string]bool{}
		for _, k := range keys {
			was[k] = r.Route("r", Request{Key: k}).Variant == "canary"
		}
		// Shrink by a config change: everyone who was in stays in.
		c := cfg(lo, 100_000)
		c.Releases["r"].Plan.Epoch = trial
		require.NoError(t, r.Update(c))
		for _, k := range keys {
			d := r.Route("r", Request{Key: k})
			if was[k] {
				require.Equal(t, "canary", d.Variant, "key %s shrink %d→%d", k, hi, lo)
				if d.Bucket < Buckets-lo { // the canary takes the top of the range
					require.Equal(t, ReasonSticky, d.Reason)
				}
				require.Equal(t, d, r.Explain("r", Request{Key: k}).Decision)
			} else {
				require.Equal(t, "stable", d.Variant)
			}
		}
		// A rollback: nobody stays, and nobody returns when the plan restarts.
		fp := r.snap.Load().rels["r"].plan.fp
		ok, _ := r.setShare("r", fp, 0, true)
		require.True(t, ok)
		for _, k := range keys {
			require.Equal(t, "stable", r.Route("r", Request{Key: k}).Variant)
		}
		c = cfg(lo, 100_000)
		c.Releases["r"].Plan.Epoch = trial + 100
		require.NoError(t, r.Update(c))
		for _, k := range keys {
			d := r.Route("r", Request{Key: k})
			require.Equal(t, d.Bucket >= Buckets-lo, d.Variant == "canary", "%+v", d)
			require.NotEqual(t, ReasonSticky, d.Reason)
		}
	}
	// Bounded: a sticky set of 10 keeps at most 10 keys.
	r, err := New(cfg(5000, 10))
	require.NoError(t, err)
	for _, k := range keysN(1000) {
		r.Route("r", Request{Key: k})
	}
	require.LessOrEqual(t, r.snap.Load().rels["r"].sticky.c.Len(), 10)
}

func TestWatchFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.json")
	write := func(s string) { // atomically, as a deploy tool would
		tmp := p + ".tmp"
		require.NoError(t, os.WriteFile(tmp, []byte(s), 0o600))
		require.NoError(t, os.Rename(tmp, p))
	}
	write(`{"releases": {"r": {"variants": ["a", "b"], "rules": [{"variant": "a"}]}}}`)
	var errs []error
	var reloads atomic.Int32
	var mu sync.Mutex
	r, err := New(Config{Hooks: Hooks{
		OnReloadError: func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() },
		OnReload:      func(string) { reloads.Add(1) },
	}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.WatchFile(ctx, p, time.Millisecond) }()
	waitFor := func(f func() bool) {
		for i := 0; !f(); i++ {
			require.Less(t, i, 10_000, "timed out")
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(func() bool { return r.Route("r", Request{}).Variant == "a" })
	write(`{"releases": {"r": {"variants": ["a", "b"], "rules": [{"variant": "zz"}]}}}`)
	waitFor(func() bool { mu.Lock(); defer mu.Unlock(); return len(errs) == 1 })
	require.ErrorIs(t, errs[0], ErrInvalidConfig)
	require.Equal(t, "a", r.Route("r", Request{}).Variant, "last good config stays")
	write(`{"releases": {"r": {"variants": ["b", "a"], "rules": [{"variant": "b"}]}}}`)
	waitFor(func() bool { mu.Lock(); defer mu.Unlock(); return len(errs) == 2 })
	require.ErrorIs(t, errs[1], ErrReshuffle)
	write(`{"releases": {"r": {"variants": ["a", "b"], "rules": [{"variant": "b"}]}}}`)
	waitFor(func() bool { return r.Route("r", Request{}).Variant == "b" })
	cancel()
	require.NoError(t, <-done)
	require.GreaterOrEqual(t, reloads.Load(), int32(2))
}

func TestRouteAllocs(t *testing.T) {
	r, err := New(benchConfig())
	require.NoError(t, err)
	q := benchRequest()
	d := r.Route("big", q)
	require.Equal(t, "r19", d.Rule)
	require.Zero(t, testing.AllocsPerRun(1000, func() { r.Route("big", q) }))
	require.Zero(t, testing.AllocsPerRun(1000, func() { r.Route("single", Request{Key: "user-42"}) }))
	require.Zero(t, testing.AllocsPerRun(1000, func() { r.Route("nope", q) }))
}

// benchConfig is the workload: "big" has 20 rules × 5 conditions
// (in, in, version_gte, in, in), the last a 50/50 split; "single" one split.
func benchConfig() Config {
	rules := make([]Rule, 20)
	for i := range rules {
		rules[i] = Rule{
			Name: "r" + strconv.Itoa(i),
			When: []Condition{
				{Attr: "region", Op: "in", Values: []Value{"sz", "sh", Value("r" + strconv.Itoa(i))}},
				{Attr: "platform", Op: "in", Values: []Value{"ios", "android"}},
				{Attr: "version", Op: "version_gte", Value: genValue("8.0.49")},
				{Attr: "idc", Op: "in", Values: []Value{"idc-1", "idc-2", "idc-3"}},
				{Attr: "tenant", Op: "in", Values: []Value{"t1", "t2", Value("t-" + strconv.Itoa(i))}},
			},
			Variant: "canary",
		}
		if i < 19 {
			// Rule i fails on condition i%5 for the benchmark request.
			c := &rules[i].When[i%5]
			if c.Op == "version_gte" {
				c.Value = genValue("9.0")
			} else {
				c.Values = []Value{Value("nope-" + strconv.Itoa(i))}
			}
		}
	}
	rules[19].Variant = ""
	rules[19].Split = map[string]int{"canary": 5000, "stable": 5000}
	return Config{Releases: map[string]Release{
		"big":    {Variants: []string{"stable", "canary"}, Rules: rules},
		"single": {Variants: []string{"stable", "canary"}, Rules: []Rule{{Name: "half", Split: map[string]int{"canary": 5000, "stable": 5000}}}},
	}}
}

func benchRequest() Request {
	return Request{Key: "user-123456", Attrs: map[string]string{
		"region": "sz", "platform": "ios", "version": "8.0.50.2400", "idc": "idc-2", "tenant": "t1",
	}}
}

func BenchmarkRoute20x5(b *testing.B) {
	r, _ := New(benchConfig())
	q := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		r.Route("big", q)
	}
}

func BenchmarkRouteSingleSplit(b *testing.B) {
	r, _ := New(benchConfig())
	q := Request{Key: "user-123456"}
	b.ReportAllocs()
	for b.Loop() {
		r.Route("single", q)
	}
}

func BenchmarkRouteParallel(b *testing.B) {
	r, _ := New(benchConfig())
	q := benchRequest()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Route("big", q)
		}
	})
}
