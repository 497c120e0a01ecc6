package grayroute_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/bulwark-go/bulwark/grayroute"
)

const exampleConfig = `{"releases": {"chat-v2": {
  "variants": ["stable", "canary"],
  "rules": [
    {"name": "staff", "keys": ["10001"], "variant": "canary"},
    {"name": "uid-tail", "when": [{"op": "key_tail", "values": ["07"]}], "variant": "canary"},
    {"name": "ios", "when": [{"attr": "platform", "op": "in", "values": ["ios"]},
                             {"attr": "version", "op": "version_gte", "value": "8.0.49"}],
     "split": {"canary": 1000, "stable": 9000}}]}}}`

func Example() {
	cfg, err := grayroute.ParseConfig([]byte(exampleConfig))
	if err != nil {
		panic(err)
	}
	r, err := grayroute.New(cfg)
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Route("chat-v2", grayroute.Request{Key: "10001"}))
	fmt.Println(r.Route("chat-v2", grayroute.Request{Key: "55507"}))
	d := r.Route("chat-v2", grayroute.Request{Key: "20001", Attrs: map[string]string{"platform": "android"}})
	fmt.Println(d.Variant, d.Reason)
	// Output:
	// {chat-v2 canary staff -1 whitelist}
	// {chat-v2 canary uid-tail -1 rule}
	// stable default
}

func ExampleNew_error() {
	cfg, _ := grayroute.ParseConfig([]byte(`{"releases": {"chat-v2": {"variants": ["stable", "canary"],
	  "rules": [{"when": [{"attr": "version", "op": "version_gte", "value": "8.x"}], "variant": "canary"}]}}}`))
	_, err := grayroute.New(cfg)
	fmt.Println(err)
	// Output: grayroute: invalid config: releases.chat-v2.rules[0].when[0].value: unparsable version "8.x"
}

func ExampleRouter_Explain() {
	cfg, _ := grayroute.ParseConfig([]byte(exampleConfig))
	r, _ := grayroute.New(cfg)
	ex := r.Explain("chat-v2", grayroute.Request{Key: "20001", Attrs: map[string]string{"platform": "ios", "version": "8.0.48"}})
	for _, s := range ex.Steps {
		fmt.Printf("%s matched=%v condition=%d: %s\n", s.Rule, s.Matched, s.Condition, s.Detail)
	}
	fmt.Println(ex.Decision.Variant)
	// Output:
	// staff matched=false condition=-1: key "20001" not in whitelist
	// uid-tail matched=false condition=0: key "20001" tail not in key_tail values
	// ios matched=false condition=1: version="8.0.48" fails version_gte
	// stable
}

func ExampleRouter_Update() {
	cfg, _ := grayroute.ParseConfig([]byte(exampleConfig))
	r, _ := grayroute.New(cfg)
	changed, _ := grayroute.ParseConfig([]byte(exampleConfig))
	rel := changed.Releases["chat-v2"]
	rel.Salt = "chat-v2-take-2" // would reshuffle every user
	changed.Releases["chat-v2"] = rel
	err := r.Update(changed)
	fmt.Println(err)
	// Output: grayroute: update would reshuffle users: releases.chat-v2.salt changed from "chat-v2" to "chat-v2-take-2" (use ForceUpdate)
}

func ExampleImpact() {
	old, _ := grayroute.ParseConfig([]byte(`{"releases": {"r": {"variants": ["stable", "canary"], "rules": [{"split": {"canary": 1000, "stable": 9000}}]}}}`))
	nw, _ := grayroute.ParseConfig([]byte(`{"releases": {"r": {"variants": ["stable", "canary"], "rules": [{"split": {"canary": 2000, "stable": 8000}}]}}}`))
	keys := make([]string, 100_000)
	for i := range keys {
		keys[i] = fmt.Sprint("user-", i)
	}
	ch, _ := grayroute.Impact(old, nw, keys)
	fmt.Printf("moved %.2f, out of canary %d\n", ch["r"].Moved, ch["r"].From["canary"])
	// Output: moved 0.10, out of canary 0
}

// health is a HealthSource with fixed numbers.
type health map[string]grayroute.Health

func (h health) Health(_ context.Context, _, variant string, _ time.Time) (grayroute.Health, error) {
	return h[variant], nil
}

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func ExampleNewPlanner() {
	cfg, _ := grayroute.ParseConfig([]byte(`{"releases": {"r": {"variants": ["stable", "canary"],
	  "rules": [{"split": {"canary": 0, "stable": 10000}}],
	  "plan": {"canary": "canary", "control": "stable",
	           "steps": [{"share": 100, "dwell": "10m", "min_samples": 100}, {"share": 1000, "dwell": "30m"}]}}}}`))
	r, _ := grayroute.New(cfg)
	src := health{
		"canary": {Requests: 500, Errors: 1, P99: 80 * time.Millisecond},
		"stable": {Requests: 50000, Errors: 100, P99: 75 * time.Millisecond},
	}
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p, _ := grayroute.NewPlanner(r, src, grayroute.PlannerConfig{Clock: clk, Hooks: grayroute.PlannerHooks{
		OnAdvance:  func(rel string, from, to int) { fmt.Println("advance", rel, from, "->", to) },
		OnRollback: func(rel string, from int, why string) { fmt.Println("rollback", rel, from, "->", 0, why) },
	}})
	ctx := context.Background()
	p.Tick(ctx) // step 0 starts
	clk.t = clk.t.Add(11 * time.Minute)
	p.Tick(ctx) // dwell passed, gate passes: advance
	src["canary"] = grayroute.Health{Requests: 2000, Errors: 200, P99: 90 * time.Millisecond}
	p.Tick(ctx) // 10 % errors against 0.2 %: rollback
	fmt.Println(p.Status()["r"].Share)
	// Output:
	// advance r 100 -> 1000
	// rollback r 1000 -> 0 error rate 0.1000 vs control 0.0020 (max increase 0.01)
	// 0
}

func ExampleMiddleware() {
	cfg, _ := grayroute.ParseConfig([]byte(exampleConfig))
	r, _ := grayroute.New(cfg)
	h := grayroute.Middleware(r, func(hr *http.Request) grayroute.Request {
		return grayroute.Request{Key: hr.Header.Get("X-Uid")}
	}, nil)(http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
		d, _ := grayroute.FromContext(hr.Context(), "chat-v2")
		fmt.Println(d.Variant, d.Reason)
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("X-Uid", "10001")
	req.Header.Set(grayroute.Header, "chat-v2=stable") // from a client: not trusted
	h.ServeHTTP(httptest.NewRecorder(), req)
	// Output: canary whitelist
}

// A fleet: one process runs the Planner with a StateFile; every replica
// follows the shared config and that state file, so a rollback reaches it
// at its next poll.
func ExampleRouter_WatchState() {
	ctx := context.Background()
	cfg, err := grayroute.LoadConfig("/etc/gray/gray.json")
	if err != nil {
		log.Fatal(err)
	}
	r, err := grayroute.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	go r.WatchFile(ctx, "/etc/gray/gray.json", time.Second)
	go r.WatchState(ctx, "/etc/gray/gray.state", time.Second) // written by the Planner's process
	// ... serve with grayroute.Middleware(r, ...)
}

// ParseHeader is strict: a value that could smuggle a pair is refused
// whole; FormatHeader refuses names that would inject one.
func ExampleParseHeader() {
	ds, err := grayroute.ParseHeader("chat-v2=canary, search=stable")
	fmt.Println(len(ds), ds[0].Variant, ds[1].Reason, err)
	_, err = grayroute.ParseHeader("chat-v2=canary,,pay=canary")
	fmt.Println(err != nil)
	_, err = grayroute.FormatHeader([]grayroute.Decision{{Release: "r", Variant: "stable,pay=canary"}})
	fmt.Println(errors.Is(err, grayroute.ErrBadHeader))
	// Output:
	// 2 canary propagated <nil>
	// true
	// true
}
