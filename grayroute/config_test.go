package grayroute

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// mutation breaks one field of a valid config and says which path New must
// name.
type mutation func(rng *rand.Rand, c *Config) (path string, ok bool)

func sortedNames(c *Config) []string {
	var ns []string
	for n := range c.Releases {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// withRelease applies f to a random release and writes it back.
func withRelease(rng *rand.Rand, c *Config, f func(name string, r *Release) (string, bool)) (string, bool) {
	ns := sortedNames(c)
	n := ns[rng.IntN(len(ns))]
	r := c.Releases[n]
	p, ok := f(n, &r)
	c.Releases[n] = r
	return p, ok
}

// withCond applies f to a random condition of a random rule.
func withCond(rng *rand.Rand, c *Config, f func(cp string, cd *Condition) bool) (string, bool) {
	return withRelease(rng, c, func(n string, r *Release) (string, bool) {
		if len(r.Rules) == 0 {
			return "", false
		}
		i := rng.IntN(len(r.Rules))
		if len(r.Rules[i].When) == 0 {
			return "", false
		}
		j := rng.IntN(len(r.Rules[i].When))
		cd := r.Rules[i].When[j]
		cp := fmt.Sprintf("releases.%s.rules[%d].when[%d]", n, i, j)
		when := append([]Condition(nil), r.Rules[i].When...)
		if !f(cp, &cd) {
			return "", false
		}
		when[j] = cd
		r.Rules[i].When = when
		return cp, true
	})
}

var mutations = map[string]mutation{
	"unknown op": func(rng *rand.Rand, c *Config) (string, bool) {
		var path string
		p, ok := withCond(rng, c, func(cp string, cd *Condition) bool { cd.Op = "matches"; path = cp + ".op"; return true })
		_ = p
		return path, ok
	},
	"bad version": func(rng *rand.Rand, c *Config) (string, bool) {
		var path string
		_, ok := withCond(rng, c, func(cp string, cd *Condition) bool {
			if !opNames[cd.Op].isVer() {
				return false
			}
			bad := []string{"8.x", "", "1.2.3.4.5", "v", "1..2", "1.2-"}
			cd.Value = genValue(bad[rng.IntN(len(bad))])
			path = cp + ".value"
			return true
		})
		return path, ok
	},
	"bad number": func(rng *rand.Rand, c *Config) (string, bool) {
		var path string
		_, ok := withCond(rng, c, func(cp string, cd *Condition) bool {
			if !opNames[cd.Op].isNum() {
				return false
			}
			bad := []string{"abc", "", "1e400", "NaN", "Inf", "0x10", "1,5", "1e"}
			cd.Value = genValue(bad[rng.IntN(len(bad))])
			path = cp + ".value"
			return true
		})
		return path, ok
	},
	"attr on key op": func(rng *rand.Rand, c *Config) (string, bool) {
		var path string
		_, ok := withCond(rng, c, func(cp string, cd *Condition) bool {
			if !opNames[cd.Op].onKey() {
				return false
			}
			cd.Attr = "uid"
			path = cp + ".attr"
			return true
		})
		return path, ok
	},
	"missing attr": func(rng *rand.Rand, c *Config) (string, bool) {
		var path string
		_, ok := withCond(rng, c, func(cp string, cd *Condition) bool {
			if opNames[cd.Op].onKey() {
				return false
			}
			cd.Attr = ""
			path = cp + ".attr"
			return true
		})
		return path, ok
	},
	"bad tail": func(rng *rand.Rand, c *Config) (string, bool) {
		var path string
		_, ok := withCond(rng, c, func(cp string, cd *Condition) bool {
			if cd.Op != "key_tail" {
				return false
			}
			k := rng.IntN(len(cd.Values))
			vals := append([]Value(nil), cd.Values...)
			vals[k] = Value([]string{"7a", "", "12345678901234567890", "-1"}[rng.IntN(4)])
			cd.Values = vals
			path = fmt.Sprintf("%s.values[%d]", cp, k)
			return true
		})
		return path, ok
	},
	"inverted range": func(rng *rand.Rand, c *Config) (string, bool) {
		var path string
		_, ok := withCond(rng, c, func(cp string, cd *Condition) bool {
			if cd.Op != "key_range" {
				return false
			}
			cd.Min, cd.Max = genValue("1001"), genValue("1000")
			path = cp + ".max"
			return true
		})
		return path, ok
	},
	"value on in": func(rng *rand.Rand, c *Config) (string, bool) {
		var path string
		_, ok := withCond(rng, c, func(cp string, cd *Condition) bool {
			if cd.Op != "in" && cd.Op != "not_in" {
				return false
			}
			cd.Value = genValue("x")
			path = cp + ".value"
			return true
		})
		return path, ok
	},
	"unknown attr": func(rng *rand.Rand, c *Config) (string, bool) {
		c.Attrs = []string{"platform", "region", "version", "n", "idc"}
		var path string
		_, ok := withCond(rng, c, func(cp string, cd *Condition) bool {
			if opNames[cd.Op].onKey() {
				return false
			}
			cd.Attr = "platfrom"
			path = cp + ".attr"
			return true
		})
		return path, ok
	},
	"weights": func(rng *rand.Rand, c *Config) (string, bool) {
		return withRelease(rng, c, func(n string, r *Release) (string, bool) {
			for i := range r.Rules {
				if r.Rules[i].Split == nil {
					continue
				}
				sp := map[string]int{}
				var heavy string
				for k, v := range r.Rules[i].Split {
					sp[k] = v
					if v > 0 {
						heavy = k
					}
				}
				sp[heavy] -= 1 + rng.IntN(min(sp[heavy], 10)) // every weight stays in range
				r.Rules[i].Split = sp
				return fmt.Sprintf("releases.%s.rules[%d].split", n, i), true
			}
			return "", false
		})
	},
	"split variant": func(rng *rand.Rand, c *Config) (string, bool) {
		return withRelease(rng, c, func(n string, r *Release) (string, bool) {
			for i := range r.Rules {
				if r.Rules[i].Split == nil {
					continue
				}
				sp := map[string]int{"ghost": 0}
				for k, v := range r.Rules[i].Split {
					sp[k] = v
				}
				r.Rules[i].Split = sp
				return fmt.Sprintf("releases.%s.rules[%d].split.ghost", n, i), true
			}
			return "", false
		})
	},
	"rule variant": func(rng *rand.Rand, c *Config) (string, bool) {
		return withRelease(rng, c, func(n string, r *Release) (string, bool) {
			for i := range r.Rules {
				if r.Rules[i].Variant == "" {
					continue
				}
				rules := append([]Rule(nil), r.Rules...)
				rules[i].Variant = "ghost"
				r.Rules = rules
				return fmt.Sprintf("releases.%s.rules[%d].variant", n, i), true
			}
			return "", false
		})
	},
	"default": func(rng *rand.Rand, c *Config) (string, bool) {
		return withRelease(rng, c, func(n string, r *Release) (string, bool) {
			r.Default = "ghost"
			return "releases." + n + ".default", true
		})
	},
	"hash": func(rng *rand.Rand, c *Config) (string, bool) {
		return withRelease(rng, c, func(n string, r *Release) (string, bool) {
			r.Hash = "v2"
			return "releases." + n + ".hash", true
		})
	},
	"dup variant": func(rng *rand.Rand, c *Config) (string, bool) {
		return withRelease(rng, c, func(n string, r *Release) (string, bool) {
			r.Variants = append(append([]string(nil), r.Variants...), r.Variants[0])
			return fmt.Sprintf("releases.%s.variants[%d]", n, len(r.Variants)-1), true
		})
	},
	"sticky": func(rng *rand.Rand, c *Config) (string, bool) {
		return withRelease(rng, c, func(n string, r *Release) (string, bool) {
			r.Sticky = -1 - rng.IntN(5)
			return "releases." + n + ".sticky", true
		})
	},
	"plan canary": func(rng *rand.Rand, c *Config) (string, bool) {
		return withRelease(rng, c, func(n string, r *Release) (string, bool) {
			if r.Plan == nil {
				return "", false
			}
			pl := *r.Plan
			pl.Canary = "ghost"
			r.Plan = &pl
			return "releases." + n + ".plan.canary", true
		})
	},
	"plan control": func(rng *rand.Rand, c *Config) (string, bool) {
		return withRelease(rng, c, func(n string, r *Release) (string, bool) {
			if r.Plan == nil {
				return "", false
			}
			pl := *r.Plan
			pl.Control = "ghost"
			r.Plan = &pl
			return "releases." + n + ".plan.control", true
		})
	},
	"plan share order": func(rng *rand.Rand, c *Config) (string, bool) {
		return withRelease(rng, c, func(n string, r *Release) (string, bool) {
			if r.Plan == nil || len(r.Plan.Steps) < 2 {
				return "", false
			}
			pl := *r.Plan
			pl.Steps = append([]PlanStep(nil), pl.Steps...)
			pl.Steps[1].Share = pl.Steps[0].Share
			r.Plan = &pl
			return "releases." + n + ".plan.steps[1].share", true
		})
	},
	"gate": func(rng *rand.Rand, c *Config) (string, bool) {
		return withRelease(rng, c, func(n string, r *Release) (string, bool) {
			if r.Plan == nil {
				return "", false
			}
			pl := *r.Plan
			pl.Gate.MaxP99Ratio = 0.5
			r.Plan = &pl
			return "releases." + n + ".plan.gate.max_p99_ratio", true
		})
	},
	"release name": func(rng *rand.Rand, c *Config) (string, bool) {
		n := sortedNames(c)[0]
		r := c.Releases[n]
		delete(c.Releases, n)
		bad := "a,b"
		c.Releases[bad] = r
		return "releases." + bad, true
	},
}

func TestNewNamesExactPathOfRandomFault(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	hits := map[string]int{}
	for len(hits) < len(mutations) || minCount(hits) < scaled(20, 4) {
		cfg := genConfig(rng)
		if rng.IntN(2) == 0 {
			// round-trip through JSON so ParseConfig is part of the path
			b, err := json.Marshal(cfg)
			require.NoError(t, err)
			cfg, err = ParseConfig(b)
			require.NoError(t, err)
		}
		_, err := New(cfg)
		require.NoError(t, err)
		names := make([]string, 0, len(mutations))
		for k := range mutations {
			names = append(names, k)
		}
		sort.Strings(names)
		m := names[rng.IntN(len(names))]
		path, ok := mutations[m](rng, &cfg)
		if !ok {
			continue
		}
		hits[m]++
		_, err = New(cfg)
		require.Error(t, err, m)
		require.ErrorIs(t, err, ErrInvalidConfig)
		var ce *ConfigError
		require.True(t, errors.As(err, &ce))
		require.Equal(t, path, ce.Path, "mutation %q: %v", m, err)
		// Update refuses it too and keeps the last good config.
		good := genConfig(rng)
		r, err := New(good)
		require.NoError(t, err)
		before := r.Releases()
		require.ErrorIs(t, r.Update(cfg), ErrInvalidConfig)
		require.ErrorIs(t, r.ForceUpdate(cfg), ErrInvalidConfig)
		require.Equal(t, before, r.Releases())
	}
}

func minCount(m map[string]int) int {
	n := -1
	for _, v := range m {
		if n < 0 || v < n {
			n = v
		}
	}
	return n
}

func TestRandomGarbageConfigsNeverPanic(t *testing.T) {
	// Random structures with random field values: New either compiles or
	// returns a ConfigError with a path.
	rng := rand.New(rand.NewPCG(13, 14))
	ops := append(append(append([]string{"", "bogus", "key_tail", "key_range", "in", "not_in"}, genStringOps...), genNumOps...), genVerOps...)
	vals := []string{"", "0", "-1", "1e3", "8.0.49", "v1.2.3-rc.1", "abc", "99999999999999999999999", "\x00", "07"}
	pv := func() *Value {
		if rng.IntN(3) == 0 {
			return nil
		}
		return genValue(vals[rng.IntN(len(vals))])
	}
	for i := range scaled(20000, 10) {
		c := Config{Releases: map[string]Release{}}
		for range rng.IntN(3) {
			r := Release{Salt: vals[rng.IntN(len(vals))], Sticky: rng.IntN(5) - 1, Default: []string{"", "a", "b", "z"}[rng.IntN(4)]}
			for range rng.IntN(4) {
				r.Variants = append(r.Variants, []string{"a", "b", "c", "", "a b"}[rng.IntN(5)])
			}
			for range rng.IntN(4) {
				ru := Rule{Name: []string{"", "x", "y"}[rng.IntN(3)], Variant: []string{"", "a", "b", "q"}[rng.IntN(4)]}
				if rng.IntN(2) == 0 {
					ru.Split = map[string]int{"a": rng.IntN(10001), "b": 10000 - rng.IntN(10001)}
				}
				if rng.IntN(4) == 0 {
					ru.Keys = []string{}
					for range rng.IntN(3) {
						ru.Keys = append(ru.Keys, vals[rng.IntN(len(vals))])
					}
				}
				for range rng.IntN(4) {
					cd := Condition{Attr: []string{"", "p", "v"}[rng.IntN(3)], Op: ops[rng.IntN(len(ops))], Value: pv(), Min: pv(), Max: pv()}
					for range rng.IntN(3) {
						cd.Values = append(cd.Values, Value(vals[rng.IntN(len(vals))]))
					}
					ru.When = append(ru.When, cd)
				}
				r.Rules = append(r.Rules, ru)
			}
			if rng.IntN(3) == 0 {
				r.Plan = &Plan{Canary: []string{"a", "b", "q"}[rng.IntN(3)], Control: []string{"a", "b"}[rng.IntN(2)],
					Gate: Gate{MaxErrorRateIncrease: rng.Float64()*2 - 0.5, MaxP99Ratio: rng.Float64() * 3}}
				for range rng.IntN(3) {
					r.Plan.Steps = append(r.Plan.Steps, PlanStep{Share: rng.IntN(12000) - 1000, Dwell: Duration(rng.IntN(3) - 1), MinSamples: int64(rng.IntN(3) - 1)})
				}
			}
			c.Releases[[]string{"r", "s", "", "t,u"}[rng.IntN(4)]] = r
		}
		rt, err := New(c)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidConfig, "case %d", i)
			var ce *ConfigError
			require.True(t, errors.As(err, &ce))
			require.NotEmpty(t, ce.Path, "case %d: %v", i, err)
			continue
		}
		for range 5 {
			q := genRequest(rng)
			for _, n := range rt.Releases() {
				require.Equal(t, rt.Route(n, q), rt.Explain(n, q).Decision)
			}
		}
	}
}

func TestParseConfigIssueExample(t *testing.T) {
	cfg, err := ParseConfig([]byte(issueConfig))
	require.NoError(t, err)
	r, err := New(cfg)
	require.NoError(t, err)
	require.Equal(t, "canary", r.Route("chat-v2", Request{Key: "10001"}).Variant)
	d := r.Route("chat-v2", Request{Key: "55507"})
	require.Equal(t, Decision{Release: "chat-v2", Variant: "canary", Rule: "uid-tail", Bucket: -1, Reason: ReasonRule}, d)
	d = r.Route("chat-v2", Request{Key: "3", Attrs: map[string]string{"platform": "ios", "version": "8.0.50.2400"}})
	require.Equal(t, ReasonSplit, d.Reason)
	require.Equal(t, d.Variant == "canary", d.Bucket < 100, "plan step 0 gives the canary 100 bp: %+v", d)
	d = r.Route("chat-v2", Request{Key: "3", Attrs: map[string]string{"platform": "ios", "version": "8.0.48"}})
	require.Equal(t, ReasonDefault, d.Reason)

	dir := t.TempDir()
	p := filepath.Join(dir, "c.json")
	require.NoError(t, os.WriteFile(p, []byte(issueConfig), 0o600))
	c2, err := LoadConfig(p)
	require.NoError(t, err)
	require.Equal(t, cfg, c2)
	_, err = LoadConfig(filepath.Join(dir, "missing.json"))
	require.Error(t, err)
}

func TestParseConfigRejects(t *testing.T) {
	for _, s := range []string{
		`{"releases": {"a": {"variants": ["x"], "sticki": 3}}}`,
		`{"releases": {"a": {"variants": ["x"], "sticky": "3"}}}`,
		`{"releases": {"a": {"variants": ["x"], "rules": [{"when": [{"attr": "p", "op": "eq", "value": true}], "variant": "x"}]}}}`,
		`{"releases": {"a": {"variants": ["x"], "plan": {"steps": [{"share": 1, "dwell": 5}]}}}}`,
		`{"releases": {}} {}`,
		`[`,
		``,
	} {
		_, err := ParseConfig([]byte(s))
		require.ErrorIs(t, err, ErrInvalidConfig, s)
	}
	c, err := ParseConfig([]byte(`{"releases": {"a": {"variants": ["x"], "rules": [{"when": [{"attr": "n", "op": "num_gt", "value": 1.5e3}], "variant": "x"}]}}}`))
	require.NoError(t, err)
	require.Equal(t, Value("1.5e3"), *c.Releases["a"].Rules[0].When[0].Value)
}

const issueConfig = `{"releases": {"chat-v2": {
    "salt": "chat-v2", "variants": ["stable", "canary"], "default": "stable",
    "sticky": 100000,
    "rules": [
      {"name": "staff", "keys": ["10001", "10002"], "variant": "canary"},
      {"name": "uid-tail", "when": [{"op": "key_tail", "values": ["07", "42"]}], "variant": "canary"},
      {"name": "ios-beta",
       "when": [{"attr": "platform", "op": "in", "values": ["ios"]},
                {"attr": "version", "op": "version_gte", "value": "8.0.49"}],
       "split": {"canary": 5000, "stable": 5000}}],
    "plan": {"steps": [{"share": 100, "dwell": "10m", "min_samples": 1000},
                       {"share": 1000, "dwell": "30m", "min_samples": 10000},
                       {"share": 5000, "dwell": "1h", "min_samples": 50000}],
             "canary": "canary", "control": "stable",
             "gate": {"max_error_rate_increase": 0.01, "max_p99_ratio": 1.2}}}}}`
