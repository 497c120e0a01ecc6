package grayroute

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestManyAttributesMatchReference: beyond 32 attributes (no slot) and 8
// version/number attributes (no parse cache) a release still routes like
// the reference.
func TestManyAttributesMatchReference(t *testing.T) {
	saved := genAttrs
	defer func() { genAttrs = saved }()
	genAttrs = nil
	for i := range 45 {
		genAttrs = append(genAttrs, "a"+strconv.Itoa(i))
	}
	rng := rand.New(rand.NewPCG(61, 62))
	for range scaled(60, 6) {
		cfg := genConfig(rng)
		// Many conditions per rule, to use many attributes.
		for n, rel := range cfg.Releases {
			for i := range rel.Rules {
				for range 10 {
					rel.Rules[i].When = append(rel.Rules[i].When, genCond(rng))
				}
			}
			cfg.Releases[n] = rel
		}
		r, err := New(cfg)
		require.NoError(t, err)
		for range 200 {
			q := genRequest(rng)
			for _, n := range r.Releases() {
				require.Equal(t, refRoute(&cfg, n, q, -1), r.Route(n, q))
			}
		}
	}
}

func TestReshuffleErrorsJoined(t *testing.T) {
	r, err := New(rampConfig(1000, "s1"))
	require.NoError(t, err)
	c := rampConfig(1000, "s2")
	rel := c.Releases["r"]
	rel.Variants = []string{"canary", "stable"}
	c.Releases["r"] = rel
	err = r.Update(c)
	require.ErrorIs(t, err, ErrReshuffle)
	var re *ReshuffleError
	require.True(t, errors.As(err, &re))
	require.Contains(t, err.Error(), "salt")
	require.Contains(t, err.Error(), "variants")
	require.False(t, strings.Contains(err.Error(), "\n"))
}

func TestPlannerRunStopsWithContext(t *testing.T) {
	r, err := New(issueCfg(t))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	holds := 0
	p, err := NewPlanner(r, &scriptedHealth{}, PlannerConfig{Hooks: PlannerHooks{OnHold: func(string, string) {
		holds++
		if holds == 2 {
			cancel()
		}
	}}})
	require.NoError(t, err)
	require.NoError(t, p.Run(ctx, time.Millisecond))
	require.Equal(t, 2, holds)
	require.Equal(t, 100, p.Status()["chat-v2"].Share)
}

func TestReasonStrings(t *testing.T) {
	seen := map[string]bool{}
	for r := ReasonUnknownRelease; r <= ReasonPropagated+1; r++ {
		s := r.String()
		require.NotEmpty(t, s)
		require.False(t, seen[s], s)
		seen[s] = true
	}
}

// TestStickyWithoutPlan: with no plan every non-default variant is a
// canary; after a random re-split, a key that was in a canary variant and
// would now fall to the default stays where it was.
func TestStickyWithoutPlan(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	for range scaled(20, 4) {
		vs := []string{"stable", "a", "b"}[:2+rng.IntN(2)]
		mk := func() Config {
			return Config{Releases: map[string]Release{"r": {Variants: vs, Sticky: 50_000,
				Rules: []Rule{{Name: "s", Split: genSplit(rng, vs)}}}}}
		}
		r, err := New(mk())
		require.NoError(t, err)
		keys := keysN(3000)
		before := map[string]string{}
		for _, k := range keys {
			before[k] = r.Route("r", Request{Key: k}).Variant
		}
		next := mk()
		require.NoError(t, r.Update(next))
		fresh, err := New(next)
		require.NoError(t, err)
		for _, k := range keys {
			got := r.Route("r", Request{Key: k})
			plain := fresh.Route("r", Request{Key: k})
			if before[k] != "stable" && plain.Variant == "stable" {
				require.Equal(t, before[k], got.Variant, "key %s", k)
				require.Equal(t, ReasonSticky, got.Reason)
			} else {
				require.Equal(t, plain, got)
			}
		}
	}
}

func BenchmarkRouteStickyParallel(b *testing.B) {
	r, _ := New(Config{Releases: map[string]Release{"r": {Variants: []string{"stable", "canary"}, Sticky: 100_000,
		Rules: []Rule{{Split: map[string]int{"canary": 5000, "stable": 5000}}}}}})
	keys := keysN(1000)
	for _, k := range keys {
		r.Route("r", Request{Key: k})
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r.Route("r", Request{Key: keys[i%len(keys)]})
			i++
		}
	})
}
