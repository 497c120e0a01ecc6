package grayroute_test

// The workload, wired into each peer offline at the pinned
// versions (see ../../../shared/anchors/grayroute.md, section D):
// one release of 20 rules × 5 conditions (in, in, version_gte, in, in),
// the request failing condition i%5 of rule i for the first 19 rules and
// matching the 20th, a 50/50 split; and a single 50/50 split.

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	unleash "github.com/Unleash/unleash-client-go/v4"
	"github.com/Unleash/unleash-client-go/v4/api"
	unleashctx "github.com/Unleash/unleash-client-go/v4/context"
	"github.com/bulwark-go/bulwark/grayroute"
	growthbook "github.com/growthbook/growthbook-golang"
	"github.com/launchdarkly/go-sdk-common/v3/ldcontext"
	ldeval "github.com/launchdarkly/go-server-sdk-evaluation/v3"
	"github.com/launchdarkly/go-server-sdk-evaluation/v3/ldmodel"
)

const nRules = 20

// failAt is the condition of rule i the benchmark request fails: i%5 in
// the workload; 4 (the last) in the worst case, where every engine
// evaluates all 100 conditions.
var failAt = func(i int) int { return i % 5 }

// attrs of the benchmark request. The version is three-part because two
// of the peers cannot parse WeChat's four-part versions.
var benchAttrs = map[string]string{"region": "sz", "platform": "ios", "version": "8.0.50", "idc": "idc-2", "tenant": "t1"}

var attrNames = []string{"region", "platform", "version", "idc", "tenant"}

// ruleValues gives rule i's value list for condition c; the benchmark
// request fails condition i%5 of rule i < 19.
func ruleValues(i, c int) []string {
	fail := i < nRules-1 && failAt(i) == c
	switch c {
	case 0:
		if fail {
			return []string{"nope-" + strconv.Itoa(i)}
		}
		return []string{"sz", "sh", "r" + strconv.Itoa(i)}
	case 1:
		if fail {
			return []string{"nope"}
		}
		return []string{"ios", "android"}
	case 2: // version_gte
		if fail {
			return []string{"9.0.0"}
		}
		return []string{"8.0.49"}
	case 3:
		if fail {
			return []string{"nope"}
		}
		return []string{"idc-1", "idc-2", "idc-3"}
	}
	if fail {
		return []string{"nope"}
	}
	return []string{"t1", "t2", "t-" + strconv.Itoa(i)}
}

func bulwarkConfig() grayroute.Config {
	rules := make([]grayroute.Rule, nRules)
	for i := range rules {
		ru := grayroute.Rule{Name: "r" + strconv.Itoa(i), Variant: "canary"}
		for c, a := range attrNames {
			vals := ruleValues(i, c)
			if c == 2 {
				v := grayroute.Value(vals[0])
				ru.When = append(ru.When, grayroute.Condition{Attr: a, Op: "version_gte", Value: &v})
				continue
			}
			var vs []grayroute.Value
			for _, x := range vals {
				vs = append(vs, grayroute.Value(x))
			}
			ru.When = append(ru.When, grayroute.Condition{Attr: a, Op: "in", Values: vs})
		}
		rules[i] = ru
	}
	rules[nRules-1].Variant = ""
	rules[nRules-1].Split = map[string]int{"canary": 5000, "stable": 5000}
	return grayroute.Config{Releases: map[string]grayroute.Release{
		"big":    {Variants: []string{"stable", "canary"}, Rules: rules},
		"single": {Variants: []string{"stable", "canary"}, Rules: []grayroute.Rule{{Name: "half", Split: map[string]int{"canary": 5000, "stable": 5000}}}},
	}}
}

// ---- LaunchDarkly evaluator ----

func ldFlags() (big, single *ldmodel.FeatureFlag, err error) {
	var rules []map[string]any
	for i := range nRules {
		var clauses []map[string]any
		for c, a := range attrNames {
			cl := map[string]any{"attribute": a, "op": "in", "values": ruleValues(i, c)}
			if c == 2 { // version >= v  ==  not (version < v)
				cl = map[string]any{"attribute": a, "op": "semVerLessThan", "values": ruleValues(i, c), "negate": true}
			}
			clauses = append(clauses, cl)
		}
		r := map[string]any{"id": "r" + strconv.Itoa(i), "clauses": clauses, "variation": 1}
		if i == nRules-1 {
			delete(r, "variation")
			r["rollout"] = map[string]any{"variations": []map[string]any{{"variation": 0, "weight": 50000}, {"variation": 1, "weight": 50000}}}
		}
		rules = append(rules, r)
	}
	mk := func(key string, rules []map[string]any, fall map[string]any) (*ldmodel.FeatureFlag, error) {
		b, _ := json.Marshal(map[string]any{"key": key, "version": 1, "on": true, "salt": key, "variations": []bool{false, true},
			"offVariation": 0, "fallthrough": fall, "rules": rules})
		var f ldmodel.FeatureFlag
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, err
		}
		ldmodel.PreprocessFlag(&f)
		return &f, nil
	}
	if big, err = mk("big", rules, map[string]any{"variation": 0}); err != nil {
		return
	}
	single, err = mk("single", nil, map[string]any{"rollout": map[string]any{"variations": []map[string]any{{"variation": 0, "weight": 50000}, {"variation": 1, "weight": 50000}}}})
	return
}

type ldData struct{}

func (ldData) GetFeatureFlag(string) *ldmodel.FeatureFlag { return nil }
func (ldData) GetSegment(string) *ldmodel.Segment         { return nil }

func ldContext(key string, attrs map[string]string) ldcontext.Context {
	b := ldcontext.NewBuilder(key)
	for k, v := range attrs {
		b.SetString(k, v)
	}
	return b.Build()
}

func ldOn(e ldeval.Evaluator, f *ldmodel.FeatureFlag, c ldcontext.Context) bool {
	return e.Evaluate(f, c, nil).Detail.Value.BoolValue()
}

// ---- Unleash ----

type unleashPeer struct {
	client      *unleash.Client
	big, single *api.Feature
}

func newUnleash() (*unleashPeer, error) {
	var strategies []api.Strategy
	for i := range nRules {
		var cons []api.Constraint
		for c, a := range attrNames {
			cn := api.Constraint{ContextName: a, Operator: api.OperatorIn, Values: ruleValues(i, c)}
			if c == 2 {
				cn = api.Constraint{ContextName: a, Operator: api.OperatorSemverLt, Value: ruleValues(i, c)[0], Inverted: true}
			}
			cons = append(cons, cn)
		}
		rollout := "100"
		if i == nRules-1 {
			rollout = "50"
		}
		strategies = append(strategies, api.Strategy{Id: i, Name: "flexibleRollout", Constraints: cons,
			Parameters: map[string]any{"rollout": rollout, "stickiness": "default", "groupId": "big"}})
	}
	p := &unleashPeer{
		big: &api.Feature{Name: "big", Enabled: true, Strategies: strategies},
		single: &api.Feature{Name: "single", Enabled: true, Strategies: []api.Strategy{{Name: "flexibleRollout",
			Parameters: map[string]any{"rollout": "50", "stickiness": "default", "groupId": "single"}}}},
	}
	data, _ := json.Marshal(api.FeatureResponse{Response: api.Response{Version: 2}, Features: []api.Feature{*p.big, *p.single}})
	c, err := unleash.NewClient(unleash.WithAppName("bench"), unleash.WithUrl("http://127.0.0.1:1/"),
		unleash.WithDisableMetrics(true), unleash.WithListener(&unleash.NoopListener{}),
		unleash.WithStorage(&unleash.BootstrapStorage{Reader: strings.NewReader(string(data))}))
	if err != nil {
		return nil, err
	}
	p.client = c
	return p, nil
}

func (p *unleashPeer) on(f *api.Feature, ctx unleashctx.Context) bool {
	return p.client.IsEnabled(f.Name, unleash.WithContext(ctx), unleash.WithResolver(func(string) *api.Feature { return f }))
}

// ---- GrowthBook ----

func newGrowthBook() (*growthbook.Client, error) {
	var rules []map[string]any
	for i := range nRules {
		cond := map[string]any{}
		for c, a := range attrNames {
			if c == 2 {
				cond[a] = map[string]any{"$vgte": ruleValues(i, c)[0]}
			} else {
				cond[a] = map[string]any{"$in": ruleValues(i, c)}
			}
		}
		r := map[string]any{"id": "r" + strconv.Itoa(i), "condition": cond, "force": true}
		if i == nRules-1 {
			r["coverage"] = 0.5
			r["hashAttribute"] = "id"
		}
		rules = append(rules, r)
	}
	features := map[string]any{
		"big":    map[string]any{"defaultValue": false, "rules": rules},
		"single": map[string]any{"defaultValue": false, "rules": []map[string]any{{"force": true, "coverage": 0.5, "hashAttribute": "id"}}},
	}
	b, _ := json.Marshal(features)
	return growthbook.NewClient(context.Background(), growthbook.WithJsonFeatures(string(b)))
}

func gbAttrs(key string, attrs map[string]string) growthbook.Attributes {
	a := growthbook.Attributes{"id": key}
	for k, v := range attrs {
		a[k] = v
	}
	return a
}

func gbOn(c *growthbook.Client, feature string, a growthbook.Attributes) (bool, error) {
	child, err := c.WithAttributes(a)
	if err != nil {
		return false, err
	}
	r := child.EvalFeature(context.Background(), feature)
	v, _ := r.Value.(bool)
	return v, nil
}
