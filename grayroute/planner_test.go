package grayroute

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// scriptedHealth returns whatever the test set for each variant, and
// records the since it was asked with.
type scriptedHealth struct {
	h     map[string]Health
	err   error
	since time.Time
}

func (s *scriptedHealth) Health(_ context.Context, _, variant string, since time.Time) (Health, error) {
	s.since = since
	return s.h[variant], s.err
}

func planConfig(rng *rand.Rand, epoch int) Config {
	n := 1 + rng.IntN(4)
	shares := rng.Perm(Buckets)[:n]
	for i := range shares {
		shares[i]++
	}
	sortInts(shares)
	pl := &Plan{Canary: "canary", Control: "stable", Epoch: epoch}
	for _, s := range shares {
		pl.Steps = append(pl.Steps, PlanStep{Share: s, Dwell: Duration(time.Duration(rng.IntN(4)) * time.Minute), MinSamples: int64(rng.IntN(3) * 100)})
	}
	if rng.IntN(2) == 0 {
		pl.Gate = Gate{MaxErrorRateIncrease: 0.05, MaxP99Ratio: 2}
	}
	return Config{Releases: map[string]Release{"r": {
		Variants: []string{"stable", "canary"}, Sticky: 1000,
		Rules: []Rule{{Name: "all", Split: map[string]int{"canary": 0, "stable": Buckets}}},
		Plan:  pl,
	}}}
}

// model is the plan semantics written out directly.
type model struct {
	step    int
	started time.Time
	rolled  bool
	done    bool
}

func (m *model) share(pl *Plan) int {
	if m.rolled {
		return 0
	}
	return pl.Steps[m.step].Share
}

func TestPlannerAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	dir := t.TempDir()
	for trial := range scaled(60, 4) {
		state := filepath.Join(dir, "state", "plan.json")
		require.NoError(t, os.MkdirAll(filepath.Dir(state), 0o755))
		os.Remove(state)
		epoch := 0
		cfg := planConfig(rng, epoch)
		pl := cfg.Releases["r"].Plan
		gate := pl.Gate
		if gate.MaxErrorRateIncrease == 0 {
			gate = Gate{MaxErrorRateIncrease: DefaultMaxErrorRateIncrease, MaxP99Ratio: DefaultMaxP99Ratio}
		}
		clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		src := &scriptedHealth{}
		var events []string
		hooks := PlannerHooks{
			OnAdvance:  func(string, int, int) { events = append(events, "advance") },
			OnRollback: func(string, int, string) { events = append(events, "rollback") },
		}
		r, err := New(cfg)
		require.NoError(t, err)
		p, err := NewPlanner(r, src, PlannerConfig{StateFile: state, Clock: clk, Hooks: hooks})
		require.NoError(t, err)
		m := model{}
		for tick := range 40 {
			clk.Add(time.Duration(rng.IntN(150)) * time.Second)
			reqs := int64(rng.IntN(300))
			ctrl := Health{Requests: 1000, Errors: int64(rng.IntN(20)), P99: time.Duration(50+rng.IntN(50)) * time.Millisecond}
			can := Health{Requests: reqs, Errors: int64(float64(reqs) * rng.Float64() * 0.08), P99: time.Duration(40+rng.IntN(150)) * time.Millisecond}
			src.h = map[string]Health{"canary": can, "stable": ctrl}
			src.err = nil
			if rng.IntN(15) == 0 {
				src.err = errors.New("metrics down")
			}
			events = events[:0]
			if m.started.IsZero() {
				m.started = clk.Now() // the plan (re)starts at the first Tick that sees it
			}
			// expected
			want := ""
			asks := !m.rolled // a completed plan is still judged
			since := m.started
			src.since = time.Time{}
			switch {
			case m.rolled:
			case src.err != nil:
			case can.Requests < pl.Steps[m.step].MinSamples || can.Requests == 0:
				if earlyAbort(gate, can, ctrl) != "" {
					m.rolled = true
					want = "rollback"
				}
			case refGateFails(gate, can, ctrl):
				m.rolled = true
				want = "rollback"
			case m.done:
			case clk.Now().Sub(m.started) < time.Duration(pl.Steps[m.step].Dwell):
			case m.step+1 == len(pl.Steps):
				m.done = true
			default:
				m.step++
				m.started = clk.Now()
				want = "advance"
			}
			err := p.Tick(context.Background())
			if src.err != nil && asks {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			if asks {
				require.True(t, since.Equal(src.since), "Health asked since %v, step began %v", src.since, since)
			}
			if want == "" {
				require.Empty(t, events, "trial %d tick %d", trial, tick)
			} else {
				require.Equal(t, []string{want}, events, "trial %d tick %d", trial, tick)
			}
			rel := r.snap.Load().rels["r"]
			require.Equal(t, m.share(pl), rel.share, "trial %d tick %d", trial, tick)
			require.Equal(t, m.share(pl), rel.rules[0].weights[1])
			require.Equal(t, m.rolled, rel.rolled)

			switch rng.IntN(12) {
			case 0: // restart: a new Router and Planner resume from the file
				r, err = New(cfg)
				require.NoError(t, err)
				p, err = NewPlanner(r, src, PlannerConfig{StateFile: state, Clock: clk, Hooks: hooks})
				require.NoError(t, err)
				require.Equal(t, m.share(pl), r.snap.Load().rels["r"].share, "after restart")
			case 1: // the plan changes: it starts again from step 0
				epoch++
				cfg.Releases["r"].Plan.Epoch = epoch
				require.NoError(t, r.Update(cfg))
				m = model{}
			}
		}
		entries, _ := os.ReadDir(filepath.Dir(state))
		for _, e := range entries {
			require.Equal(t, "plan.json", e.Name(), "no temporary files left")
		}
	}
}

func TestPlannerBadStateFile(t *testing.T) {
	r, err := New(issueCfg(t))
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "s.json")
	for _, s := range []string{"{", `{"version": 2}`, `{"version": 1, "releases": {"chat-v2": null}}`, `{"version":1,"releases":{"chat-v2":{"step":-1}}}`} {
		require.NoError(t, os.WriteFile(p, []byte(s), 0o600))
		_, err := NewPlanner(r, &scriptedHealth{}, PlannerConfig{StateFile: p})
		require.ErrorIs(t, err, ErrBadState, s)
	}
	_, err = NewPlanner(r, nil, PlannerConfig{})
	require.Error(t, err)
}

func issueCfg(t *testing.T) Config {
	c, err := ParseConfig([]byte(issueConfig))
	require.NoError(t, err)
	return c
}
