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
