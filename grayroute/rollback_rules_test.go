package grayroute

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// rollBack rolls release n's plan back, as a failed gate does.
func rollBack(t *testing.T, r *Router, n string) {
	rel := r.releaseOf(n)
	require.NotNil(t, rel.plan)
	ok, _ := r.setShare(n, rel.plan.fp, 0, true)
	require.True(t, ok)
}

// TestRollbackKeepsExplicitRules: by default a rollback zeroes the plan's
// splits only; a staff whitelist and a key_tail rule naming the canary keep
// their users on it. With rollback_all nobody reaches the canary.
func TestRollbackKeepsExplicitRules(t *testing.T) {
	const text = `{"releases": {"chat": {
	  "variants": ["stable", "canary"], "sticky": 1000,
	  "rules": [
	    {"name": "staff", "keys": ["10001"], "variant": "canary"},
	    {"name": "tail", "when": [{"op": "key_tail", "values": ["07"]}], "variant": "canary"},
	    {"name": "all", "split": {"stable": 10000, "canary": 0}}],
	  "plan": {"canary": "canary", "control": "stable", "steps": [{"share": 5000}]%s}}}}`
	for _, all := range []bool{false, true} {
		extra := ""
		if all {
			extra = `, "rollback_all": true`
		}
		cfg, err := ParseConfig([]byte(fmt.Sprintf(text, extra)))
		require.NoError(t, err)
		r, err := New(cfg)
		require.NoError(t, err)
		rollBack(t, r, "chat")
		staff := r.Route("chat", Request{Key: "10001"})
		tail := r.Route("chat", Request{Key: "55507"})
		if all {
			require.Equal(t, "stable", staff.Variant)
			require.Equal(t, "stable", tail.Variant)
			require.Equal(t, "all", staff.Rule)
		} else {
			require.Equal(t, Decision{Release: "chat", Variant: "canary", Rule: "staff", Bucket: -1, Reason: ReasonWhitelist}, staff)
			require.Equal(t, "canary", tail.Variant)
		}
		for i := range 2000 {
			k := fmt.Sprintf("user-%d", i)
			d := r.Route("chat", Request{Key: k})
			if all || i%100 != 7 {
				require.Equal(t, "stable", d.Variant, k)
			}
		}
	}
}

// TestRollbackRulesRandom: random configs with plans, rolled back with and
// without rollback_all. Without it, every decision a rule with a fixed
// variant made before the rollback is made after it, and no split gives the
// canary. With it, no request gets the canary, and a request whose decision
// before came from a rule not naming the canary (and not a planned split)
// keeps it. Route equals Explain throughout.
func TestRollbackRulesRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	tested := 0
	for range scaled(300, 5) {
		cfg := genConfig(rng)
		all := rng.IntN(2) == 0
		var planned []string
		for n, rel := range cfg.Releases {
			if rel.Plan != nil {
				pl := *rel.Plan
				pl.RollbackAll = all
				rel.Plan = &pl
				cfg.Releases[n] = rel
				planned = append(planned, n)
			}
		}
		if len(planned) == 0 {
			continue
		}
		r, err := New(cfg)
		require.NoError(t, err)
		reqs := make([]Request, 200)
		before := map[string][]Decision{}
		for _, n := range planned {
			for i := range reqs {
				if before[n] == nil {
					reqs[i] = genRequest(rng)
				}
				before[n] = append(before[n], r.Route(n, reqs[i]))
			}
		}
		for _, n := range planned {
			rollBack(t, r, n)
		}
		for _, n := range planned {
			rel := r.releaseOf(n)
			canary := rel.variants[rel.plan.canary]
			for i, q := range reqs {
				d := r.Route(n, q)
				require.Equal(t, d, r.Explain(n, q).Decision)
				b := before[n][i]
				if d.Reason == ReasonSplit || d.Reason == ReasonSticky {
					require.NotEqual(t, canary, d.Variant, "a rolled-back split gives no canary: %+v", d)
				}
				fixed := b.Reason == ReasonRule || b.Reason == ReasonWhitelist
				if !all {
					if fixed {
						require.Equal(t, b, d, "explicit rules stay after a rollback")
					}
					continue
				}
				tested++
				require.NotEqual(t, canary, d.Variant, "rollback_all: no request reaches the canary; before %+v, after %+v", b, d)
				if fixed && b.Variant != canary {
					require.Equal(t, b, d)
				}
			}
		}
	}
	require.Positive(t, tested)
}
