package grayroute

import "sort"

// Change is the effect of a config change on one release over a set of
// requests.
type Change struct {
	// Moved is the share of requests whose variant changes (0..1).
	Moved float64
	// From counts, per variant, requests leaving it; To, requests entering.
	From map[string]int
	To   map[string]int
	// RampFrom counts, per variant, the requests that the new config's plan
	// will move into its canary as it ramps from its first step to its
	// last: only the plan's control gives any (every other arm keeps its
	// buckets). Nil when the new config has no plan for the release.
	RampFrom map[string]int
}

// Impact routes keys (as requests without attributes) under old and new and
// reports, per release in either config, who would change variant. A
// release only one config has moves everyone (to or from variant ""). Plans
// are taken at their first step and no sticky key is remembered yet: it is
// the change of the rules alone; RampFrom adds what the new plan's ramp
// will move. Errors are those of New for either config.
func Impact(old, new Config, keys []string) (map[string]Change, error) {
	reqs := make([]Request, len(keys))
	for i, k := range keys {
		reqs[i] = Request{Key: k}
	}
	return ImpactRequests(old, new, reqs)
}

// ImpactRequests is Impact over whole requests, so rules on attributes are
// exercised too.
func ImpactRequests(old, new Config, reqs []Request) (map[string]Change, error) {
	old.Hooks, new.Hooks = Hooks{}, Hooks{}
	a, err := New(old)
	if err != nil {
		return nil, err
	}
	b, err := New(new)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, n := range a.Releases() {
		names[n] = true
	}
	for _, n := range b.Releases() {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	out := make(map[string]Change, len(sorted))
	for _, n := range sorted {
		c := Change{From: map[string]int{}, To: map[string]int{}}
		moved := 0
		for _, q := range reqs {
			x, y := a.Route(n, q).Variant, b.Route(n, q).Variant
			if x != y {
				moved++
				c.From[x]++
				c.To[y]++
			}
		}
		if len(reqs) > 0 {
			c.Moved = float64(moved) / float64(len(reqs))
		}
		if pl, ok := b.planOf(n); ok {
			last, err := New(new)
			if err != nil {
				return nil, err
			}
			last.setShare(n, pl.fp, pl.steps[len(pl.steps)-1].Share, false)
			c.RampFrom = map[string]int{}
			for _, q := range reqs {
				x, y := b.Route(n, q).Variant, last.Route(n, q).Variant
				if x != y {
					c.RampFrom[x]++
				}
			}
		}
		out[n] = c
	}
	return out, nil
}
