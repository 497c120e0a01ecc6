package grayroute

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPlanRampKeepsOtherArms: random releases of 2 to 6 variants with
// random weights, a random canary and control anywhere in the variant
// order (other arms between them or not), and random rising shares. Over
// every one of the 10,000 buckets: an arm other than canary and control
// keeps exactly its configured buckets at every share, the canary holds
// exactly min(share, pool) buckets, and raising the share only adds
// buckets to it, taken from the control.
func TestPlanRampKeepsOtherArms(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 5))
	for round := range scaled(200, 8) {
		nv := 2 + rng.IntN(5)
		w := make([]int, nv)
		left := Buckets
		for i := range nv - 1 {
			w[i] = rng.IntN(left + 1)
			if rng.IntN(4) == 0 {
				w[i] = 0
			}
			left -= w[i]
		}
		w[nv-1] = left
		rng.Shuffle(nv, func(i, j int) { w[i], w[j] = w[j], w[i] })
		ix := rng.Perm(nv)
		canary, control := ix[0], ix[1]
		pool := w[canary] + w[control]
		base := layout(w)
		ru0 := rule{segs: base}
		prevCanary := make([]bool, Buckets)
		share := 0
		for step := range 6 {
			share += rng.IntN(pool/3 + 2)
			if step == 5 {
				share = Buckets // past the pool: capped
			}
			ru := rule{segs: planLayout(w, canary, control, share)}
			ctx := fmt.Sprintf("round %d weights %v canary %d control %d share %d", round, w, canary, control, share)
			n := 0
			for b := range Buckets {
				was, now := ru0.variantOf(b), ru.variantOf(b)
				if was != canary && was != control {
					if was != now {
						t.Fatalf("%s: bucket %d of a third arm moved to %d", ctx, b, now)
					}
					continue
				}
				if now != canary && now != control {
					t.Fatalf("%s: pool bucket %d went to %d", ctx, b, now)
				}
				if now == canary {
					n++
				} else if prevCanary[b] {
					t.Fatalf("%s: bucket %d left the canary as the share rose", ctx, b)
				}
				prevCanary[b] = now == canary
			}
			require.Equal(t, min(share, pool), n, ctx)
		}
	}
}

// TestRampMovesNoThirdArmUser is the same through a Router and Impact: a
// plan ramping canary against stable leaves every user of the A/B arm
// between them where it was, and Impact's RampFrom names only the control.
func TestRampMovesNoThirdArmUser(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 6))
	for round := range scaled(20, 4) {
		wexp := 1 + rng.IntN(4000)
		wst := 1 + rng.IntN(Buckets-wexp-1)
		cfg := Config{Releases: map[string]Release{"r": {
			Variants: []string{"stable", "exp", "canary"},
			Rules:    []Rule{{Split: map[string]int{"stable": wst, "exp": wexp, "canary": Buckets - wst - wexp}}},
			Plan: &Plan{Canary: "canary", Control: "stable", Steps: []PlanStep{
				{Share: 1 + rng.IntN(50)}, {Share: 100 + rng.IntN(Buckets-wexp-100)}}},
		}}}
		r, err := New(cfg)
		require.NoError(t, err)
		keys := make([]string, 2000)
		before := map[string]string{}
		for i := range keys {
			keys[i] = fmt.Sprint("user-", rng.Uint32())
			before[keys[i]] = r.Route("r", Request{Key: keys[i]}).Variant
		}
		pl := cfg.Releases["r"].Plan
		for _, st := range pl.Steps {
			rel := r.releaseOf("r")
			ok, _ := r.setShare("r", rel.plan.fp, st.Share, false)
			require.True(t, ok)
			for _, k := range keys {
				v := r.Route("r", Request{Key: k}).Variant
				if before[k] == "exp" || v == "exp" {
					require.Equal(t, before[k], v, "round %d key %s", round, k)
				}
			}
		}
		ch, err := Impact(cfg, cfg, keys)
		require.NoError(t, err)
		for v, n := range ch["r"].RampFrom {
			require.Equal(t, "stable", v, "round %d: the ramp takes %d from %s", round, n, v)
		}
	}
}
