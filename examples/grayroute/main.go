// Command grayroute shows a staged gray release: a plan ramps a canary
// from 1 % to 50 % while simulated traffic is routed and measured, the
// canary turns bad at 20 %, and the planner rolls its share back to 0 in one
// step at the first tick (every 5 simulated minutes) whose numbers prove it
// worse: here the gate once the step has min_samples canary requests, two
// ticks after it turned bad (four with -short, which routes less traffic
// per tick): the early abort, valid however many ticks look, waits for
// stronger evidence than this moderately bad canary (about 5.7 % errors
// against 0.3 %) gives before min_samples. Staff stay on the canary
// (explicit rules survive a rollback
// unless the plan sets rollback_all), a second replica following the state
// file rolls back at its next poll, and a restarted process resumes in the
// rolled-back state from the state file.
//
//	go run ./examples/grayroute [-short]
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/bulwark-go/bulwark/grayroute"
)

const config = `{"releases": {"chat-v2": {
  "variants": ["stable", "canary"], "sticky": 100000,
  "rules": [
    {"name": "staff", "keys": ["10001", "10002"], "variant": "canary"},
    {"name": "everyone", "split": {"canary": 0, "stable": 10000}}],
  "plan": {"canary": "canary", "control": "stable",
           "steps": [{"share": 100, "dwell": "10m", "min_samples": 50},
                     {"share": 500, "dwell": "10m", "min_samples": 500},
                     {"share": 2000, "dwell": "20m", "min_samples": 1000},
                     {"share": 5000, "dwell": "30m", "min_samples": 2000}],
           "gate": {"max_error_rate_increase": 0.01, "max_p99_ratio": 1.5}}}}}`

// simClock is the simulation's time: one Tick is five simulated minutes.
type simClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *simClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *simClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// meter counts requests, errors and a latency reservoir per variant since
// a time: a stand-in for the metrics package.
type meter struct {
	mu  sync.Mutex
	obs map[string][]obs
}

type obs struct {
	at      time.Time
	failed  bool
	latency time.Duration
}

func (m *meter) record(variant string, at time.Time, failed bool, lat time.Duration) {
	m.mu.Lock()
	m.obs[variant] = append(m.obs[variant], obs{at, failed, lat})
	m.mu.Unlock()
}

func (m *meter) Health(_ context.Context, _, variant string, since time.Time) (grayroute.Health, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var h grayroute.Health
	var lats []time.Duration
	for _, o := range m.obs[variant] {
		if o.at.Before(since) {
			continue
		}
		h.Requests++
		if o.failed {
			h.Errors++
		}
		lats = append(lats, o.latency)
	}
	if len(lats) > 0 {
		sortDurations(lats)
		h.P99 = lats[len(lats)*99/100]
	}
	return h, nil
}

func sortDurations(a []time.Duration) {
	// A counting sort by millisecond: latencies here are whole milliseconds.
	var buckets [2001]int
	for _, d := range a {
		ms := min(int(d/time.Millisecond), 2000)
		buckets[ms]++
	}
	i := 0
	for ms, n := range buckets {
		for range n {
			a[i] = time.Duration(ms) * time.Millisecond
			i++
		}
	}
}

func main() {
	short := flag.Bool("short", false, "fewer requests per step (for CI)")
	flag.Parse()
	if err := run(*short); err != nil {
		fmt.Fprintln(os.Stderr, "grayroute example:", err)
		os.Exit(1)
	}
}

func run(short bool) error {
	perTick := 4000
	if short {
		perTick = 1500
	}
	cfg, err := grayroute.ParseConfig([]byte(config))
	if err != nil {
		return err
	}
	r, err := grayroute.New(cfg)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "grayroute-example")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	state := filepath.Join(dir, "plan-state.json")
	clk := &simClock{t: time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)}
	m := &meter{obs: map[string][]obs{}}
	rolledBack := false
	hooks := grayroute.PlannerHooks{
		OnAdvance: func(rel string, from, to int) {
			fmt.Printf("%s  %s: advance %5.2f%% -> %5.2f%%\n", clk.Now().Format("15:04"), rel, float64(from)/100, float64(to)/100)
		},
		OnRollback: func(rel string, from int, why string) {
			rolledBack = true
			fmt.Printf("%s  %s: ROLLBACK %5.2f%% -> 0%%: %s\n", clk.Now().Format("15:04"), rel, float64(from)/100, why)
		},
	}
	p, err := grayroute.NewPlanner(r, m, grayroute.PlannerConfig{StateFile: state, Clock: clk, Hooks: hooks})
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	fmt.Println("time   canary share  requests  canary   (the canary turns bad once it reaches 20%)")
	for tick := 0; tick < 40 && !rolledBack; tick++ {
		if err := p.Tick(ctx); err != nil {
			return err
		}
		if rolledBack {
			break
		}
		share := p.Status()["chat-v2"].Share
		canary := 0
		for range perTick {
			uid := strconv.Itoa(10_000_000 + rng.IntN(5_000_000))
			d := r.Route("chat-v2", grayroute.Request{Key: uid})
			bad := d.Variant == "canary" && share >= 2000 // the regression ships with step 3
			failed := rng.Float64() < 0.002 || bad && rng.Float64() < 0.05
			lat := time.Duration(20+rng.IntN(60)) * time.Millisecond
			if bad {
				lat += time.Duration(rng.IntN(120)) * time.Millisecond
			}
			if d.Variant == "canary" {
				canary++
			}
			m.record(d.Variant, clk.Now(), failed, lat)
		}
		fmt.Printf("%s  %6.2f%%      %6d  %6d\n", clk.Now().Format("15:04"), float64(share)/100, perTick, canary)
		clk.add(5 * time.Minute)
	}
	if !rolledBack {
		return fmt.Errorf("expected a rollback")
	}
	d := r.Route("chat-v2", grayroute.Request{Key: "12345678"})
	fmt.Printf("after rollback: uid 12345678 -> %s (%s); staff 10001 -> %s\n", d.Variant, d.Reason,
		r.Route("chat-v2", grayroute.Request{Key: "10001"}).Variant)

	// Another replica, with its own Router, follows the Planner's state file:
	// one poll (a cancelled ctx makes WatchState poll once and return).
	follower, err := grayroute.New(cfg)
	if err != nil {
		return err
	}
	once, cancel := context.WithCancel(ctx)
	cancel()
	if err := follower.WatchState(once, state, time.Second); err != nil {
		return err
	}
	fd := follower.Route("chat-v2", grayroute.Request{Key: "12345678"})
	fmt.Printf("replica 2 after one poll of the state file: uid 12345678 -> %s (%s)\n", fd.Variant,
		follower.Explain("chat-v2", grayroute.Request{Key: "12345678"}).Steps[1].Detail)

	// A restart: a new Router and Planner read the state file and stay rolled back.
	r2, err := grayroute.New(cfg)
	if err != nil {
		return err
	}
	p2, err := grayroute.NewPlanner(r2, m, grayroute.PlannerConfig{StateFile: state, Clock: clk})
	if err != nil {
		return err
	}
	st := p2.Status()["chat-v2"]
	fmt.Printf("after restart: share %d%%, rolled back %v (%s)\n", st.Share/100, st.RolledBack, st.Reason)
	ex := r2.Explain("chat-v2", grayroute.Request{Key: "12345678"})
	fmt.Printf("explain uid 12345678: %s by %s, %s\n", ex.Decision.Variant, ex.Decision.Rule, ex.Steps[len(ex.Steps)-1].Detail)
	return nil
}
