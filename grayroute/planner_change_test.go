package grayroute

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// healthFunc adapts a function to HealthSource.
type healthFunc func(ctx context.Context, release, variant string, since time.Time) (Health, error)

func (f healthFunc) Health(ctx context.Context, release, variant string, since time.Time) (Health, error) {
	return f(ctx, release, variant, since)
}

// checkApplied asserts the Router applies exactly what the Planner's state
// says for the current plan (or step 0 of a plan the Planner has not
// started), so no verdict about an old plan reached a new one.
func checkApplied(t *testing.T, r *Router, p *Planner, ctx string) {
	t.Helper()
	rel := r.releaseOf("r")
	require.NotNil(t, rel, ctx)
	p.mu.Lock()
	st := p.state["r"]
	var want int
	var rolled bool
	if st != nil && st.Fingerprint == rel.plan.fp {
		require.Less(t, st.Step, len(rel.plan.steps), ctx)
		want, rolled = st.share(rel.plan), st.RolledBack
	} else {
		want = rel.plan.steps[0].Share
	}
	p.mu.Unlock()
	require.Equal(t, want, rel.share, ctx)
	require.Equal(t, rolled, rel.rolled, ctx)
}

// TestTickSurvivesConfigChangesDuringHealth: random schedules of config
// changes (shorter, longer, restarted plans, plan removed) landing while
// Tick waits on the HealthSource, random health (good, bad, errors,
// panics). Tick never panics on its own, a panicking HealthSource leaves
// the Planner usable, and the Router always applies the current plan's own
// progress: never an old plan's step or rollback.
func TestTickSurvivesConfigChangesDuringHealth(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 1))
	for round := range scaled(300, 5) {
		epoch := 0
		r, err := New(planConfig(rng, epoch))
		require.NoError(t, err)
		clk := &fakeClock{t: time.Unix(1e9, 0)}
		var mu sync.Mutex
		rollbacks := 0
		updateNow := func() {
			switch rng.IntN(6) {
			case 0: // plan removed
				cfg := planConfig(rng, epoch)
				rel := cfg.Releases["r"]
				rel.Plan = nil
				cfg.Releases["r"] = rel
				require.NoError(t, r.Update(cfg))
			case 1: // same plan, unrelated edit
				cfg := r.currentConfigForTest()
				require.NoError(t, r.Update(cfg))
			default: // a new plan: other steps or a bumped epoch
				epoch++
				require.NoError(t, r.Update(planConfig(rng, epoch)))
			}
		}
		src := healthFunc(func(_ context.Context, _, variant string, _ time.Time) (Health, error) {
			mu.Lock()
			defer mu.Unlock()
			if rng.IntN(3) == 0 {
				updateNow()
			}
			switch rng.IntN(12) {
			case 0:
				return Health{}, errors.New("health down")
			case 1:
				panic("health source panicked")
			case 2, 3:
				return Health{Requests: 1000, Errors: 900, P99: time.Second}, nil
			}
			return Health{Requests: 1000, Errors: 1, P99: time.Millisecond}, nil
		})
		p, err := NewPlanner(r, src, PlannerConfig{Clock: clk, Hooks: PlannerHooks{
			OnRollback: func(string, int, string) { rollbacks++ },
		}})
		require.NoError(t, err)
		for tick := range 12 {
			ctx := fmt.Sprintf("round %d tick %d", round, tick)
			before := rollbacks
			func() {
				defer func() {
					if v := recover(); v != nil {
						require.Equal(t, "health source panicked", v, ctx)
					}
				}()
				_ = p.Tick(context.Background())
			}()
			_ = p.Status() // must not block after a panic
			if rel := r.releaseOf("r"); rel != nil && rel.plan != nil {
				checkApplied(t, r, p, ctx)
				if rollbacks > before {
					require.True(t, rel.rolled, "%s: OnRollback fired for a rollback not applied", ctx)
				}
			}
			if rng.IntN(4) == 0 {
				mu.Lock()
				updateNow()
				mu.Unlock()
			}
			clk.Add(time.Duration(rng.IntN(5)) * time.Minute)
		}
	}
}

// currentConfigForTest rebuilds a Config equal to the installed plan
// release (for the "unrelated edit" case): same plan, different rule name.
func (r *Router) currentConfigForTest() Config {
	rel := r.releaseOf("r")
	var pl *Plan
	if rel.plan != nil {
		pl = &Plan{Canary: rel.variants[rel.plan.canary], Control: rel.variants[rel.plan.control], Steps: rel.plan.steps, Gate: rel.plan.gate}
	}
	return Config{Releases: map[string]Release{"r": {
		Variants: []string{"stable", "canary"}, Sticky: 1000,
		Rules: []Rule{{Name: fmt.Sprint("renamed-", len(rel.rules[0].name)), Split: map[string]int{"canary": 0, "stable": Buckets}}},
		Plan:  pl,
	}}}
}

// TestTickRacesUpdates runs Tick, Status, Route and random Updates on
// separate goroutines (for -race and for panics in any interleaving), then
// checks that one quiet Tick brings the Router in line with the Planner.
func TestTickRacesUpdates(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 2))
	for round := range scaled(20, 4) {
		seed := rng.Uint64()
		r, err := New(planConfig(rand.New(rand.NewPCG(seed, 0)), 0))
		require.NoError(t, err)
		clk := &fakeClock{t: time.Unix(1e9, 0)}
		var hmu sync.Mutex
		hrng := rand.New(rand.NewPCG(seed, 1))
		src := healthFunc(func(context.Context, string, string, time.Time) (Health, error) {
			hmu.Lock()
			defer hmu.Unlock()
			if hrng.IntN(4) == 0 {
				return Health{Requests: 500, Errors: 400}, nil
			}
			return Health{Requests: 500}, nil
		})
		p, err := NewPlanner(r, src, PlannerConfig{Clock: clk})
		require.NoError(t, err)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		wg.Go(func() {
			urng := rand.New(rand.NewPCG(seed, 2))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				require.NoError(t, r.Update(planConfig(urng, urng.IntN(3))))
			}
		})
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				_ = p.Status()
				r.Route("r", Request{Key: fmt.Sprint(i)})
			}
		})
		for range scaled(200, 4) {
			_ = p.Tick(context.Background())
			clk.Add(time.Minute)
		}
		close(stop)
		wg.Wait()
		_ = p.Tick(context.Background())
		checkApplied(t, r, p, fmt.Sprint("round ", round))
	}
}

// TestFailedPersistKeepsStepTimer: random schedules of state-file failures
// against a model in which a failed advance simply did not happen: the
// step's start time (dwell and health window) is never moved by a failure.
func TestFailedPersistKeepsStepTimer(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 3))
	for round := range scaled(100, 4) {
		cfg := planConfig(rng, 0)
		pl := cfg.Releases["r"].Plan
		for i := range pl.Steps {
			pl.Steps[i].MinSamples = 0
			pl.Steps[i].Dwell = Duration(time.Duration(1+rng.IntN(5)) * time.Minute)
		}
		r, err := New(cfg)
		require.NoError(t, err)
		dir := filepath.Join(t.TempDir(), "state")
		require.NoError(t, os.Mkdir(dir, 0o755))
		clk := &fakeClock{t: time.Unix(1e9, 0)}
		var since time.Time
		src := healthFunc(func(_ context.Context, _, _ string, s time.Time) (Health, error) {
			since = s
			return Health{Requests: 100}, nil
		})
		p, err := NewPlanner(r, src, PlannerConfig{Clock: clk, StateFile: filepath.Join(dir, "s.json")})
		require.NoError(t, err)
		m := model{started: clk.Now()}
		require.NoError(t, p.Tick(context.Background()))
		for tick := range 30 {
			clk.Add(time.Duration(rng.IntN(4)) * time.Minute)
			fail := rng.IntN(3) == 0
			if fail {
				require.NoError(t, os.RemoveAll(dir))
			}
			now := clk.Now()
			due := !m.done && now.Sub(m.started) >= time.Duration(pl.Steps[m.step].Dwell)
			err := p.Tick(context.Background())
			require.Equal(t, m.started, since, "round %d tick %d: health window", round, tick)
			if due && !fail {
				if m.step+1 == len(pl.Steps) {
					m.done = true
				} else {
					m.step++
					m.started = now
				}
			}
			if fail && due {
				require.Error(t, err, "round %d tick %d %+v", round, tick, m)
			}
			st := p.Status()["r"]
			require.Equal(t, m.step, st.Step, "round %d tick %d", round, tick)
			require.True(t, m.started.Equal(st.StepStarted), "round %d tick %d: step started %v, want %v", round, tick, st.StepStarted, m.started)
			require.Equal(t, m.share(pl), r.releaseOf("r").share)
			if fail {
				require.NoError(t, os.Mkdir(dir, 0o755))
			}
		}
	}
}
