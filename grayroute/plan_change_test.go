package grayroute

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rolledBack returns a leader Router and Planner whose plan (twoStepConfig
// with the given options) has rolled back, its state in a file.
func rolledBack(t *testing.T, inc float64, all bool) (*Router, *Planner, *fakeClock, string) {
	t.Helper()
	sf := filepath.Join(t.TempDir(), "s.json")
	r, err := New(twoStepConfig(0, inc, all))
	require.NoError(t, err)
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	h := &modeHealth{mode: 1}
	p, err := NewPlanner(r, h, PlannerConfig{StateFile: sf, Clock: clk})
	require.NoError(t, err)
	require.NoError(t, p.Tick(context.Background()))
	require.True(t, p.Status()["r"].RolledBack)
	h.set(0) // healthy from now on: a restarted plan would advance
	return r, p, clk, sf
}

// Finding 3's repro: a follower that applied a rollback is handed an older
// copy of the state file (step 0, not rolled back): it keeps the rollback.
func TestFollowerIgnoresOlderStateFile(t *testing.T) {
	dir := t.TempDir()
	sf := filepath.Join(dir, "s.json")
	leader, err := New(twoStepConfig(0, 0, false))
	require.NoError(t, err)
	h := &modeHealth{}
	p, err := NewPlanner(leader, h, PlannerConfig{StateFile: sf, Clock: &fakeClock{t: time.Unix(1e9, 0)}})
	require.NoError(t, err)
	require.NoError(t, p.Tick(context.Background()))
	old, err := os.ReadFile(sf)
	require.NoError(t, err)
	h.set(1)
	require.NoError(t, p.Tick(context.Background()))
	rolled, err := os.ReadFile(sf)
	require.NoError(t, err)

	follower, err := New(twoStepConfig(0, 0, false))
	require.NoError(t, err)
	var reported []error
	follower.hooks.OnReloadError = func(err error) { reported = append(reported, err) }
	cp := filepath.Join(dir, "copy.json")
	w := &stateWatch{r: follower, path: cp}
	require.NoError(t, os.WriteFile(cp, rolled, 0o600))
	w.poll()
	require.Zero(t, canaryUsers(follower, 2000))
	require.NoError(t, os.WriteFile(cp, old, 0o600))
	w.poll()
	require.Zero(t, canaryUsers(follower, 2000), "an older copy must not reopen the canary")
	require.Len(t, reported, 1)
	require.ErrorIs(t, reported[0], ErrBadState)

	// A new follower that only ever sees the old copy after the rolled one
	// through another path (no seq seen): the rollback still sticks.
	f2, err := New(twoStepConfig(0, 0, false))
	require.NoError(t, err)
	_, _ = f2.setShare("r", f2.releaseOf("r").plan.fp, 0, true)
	w2 := &stateWatch{r: f2, path: cp}
	w2.poll()
	require.Zero(t, canaryUsers(f2, 2000))
}

// Finding 4's repro: {} and then the same config, with and without a Tick
// in between: the rollback holds, in memory, in the file and on a follower.
func TestRemovedReleaseKeepsRollback(t *testing.T) {
	r, p, clk, sf := rolledBack(t, 0, false)
	follower, err := New(twoStepConfig(0, 0, false))
	require.NoError(t, err)
	w := &stateWatch{r: follower, path: sf}
	w.poll()
	require.Zero(t, canaryUsers(follower, 2000))
	empty, err := ParseConfig([]byte(`{}`))
	require.NoError(t, err)
	for _, tick := range []bool{false, true} {
		require.NoError(t, r.Update(empty))
		require.NoError(t, follower.Update(empty))
		if tick {
			clk.Add(10 * time.Second)
			require.NoError(t, p.Tick(context.Background()))
			w.poll()
		}
		require.NoError(t, r.Update(twoStepConfig(0, 0, false)))
		require.NoError(t, follower.Update(twoStepConfig(0, 0, false)))
		require.Zero(t, canaryUsers(r, 2000), "restored before a Tick")
		require.Zero(t, canaryUsers(follower, 2000), "follower restored before a poll")
		for range 3 {
			clk.Add(10 * time.Second)
			require.NoError(t, p.Tick(context.Background()))
		}
		w.poll()
		require.True(t, p.Status()["r"].RolledBack)
		require.Zero(t, canaryUsers(r, 2000))
		require.Zero(t, canaryUsers(follower, 2000))
		got, _ := fileState(t, sf)
		require.Contains(t, got, `"rolled_back":true`)
	}

	// Absent for longer than ForgetAbsentAfter, the progress is forgotten:
	// a release that comes back then starts its plan again.
	require.NoError(t, r.Update(empty))
	require.NoError(t, p.Tick(context.Background()))
	clk.Add(ForgetAbsentAfter)
	require.NoError(t, p.Tick(context.Background()))
	_, ok := p.Status()["r"]
	require.False(t, ok, "forgotten after ForgetAbsentAfter")
	got, _ := fileState(t, sf)
	require.Equal(t, "{}", got)
}

// Finding 5's repro and its class: on a rolled-back plan, random edits of
// the gate and of rollback_all keep the rollback; a change of the steps,
// of canary/control or of the epoch restarts the plan.
func TestPlanEditsAfterRollback(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 5))
	for trial := range scaled(200, 4) {
		r, p, clk, _ := rolledBack(t, 0, false)
		cfg := twoStepConfig(0, 0, false)
		restart := false
		for range 1 + rng.IntN(4) {
			pl := cfg.Releases["r"].Plan
			switch rng.IntN(6) {
			case 0:
				pl.Gate.MaxErrorRateIncrease = []float64{0, 0.001, 0.02, 0.5}[rng.IntN(4)]
			case 1:
				pl.Gate.MaxP99Ratio = []float64{0, 1.5, 3}[rng.IntN(3)]
			case 2:
				pl.RollbackAll = !pl.RollbackAll
			case 3:
				pl.Epoch++
				restart = true
			case 4:
				pl.Steps = append([]PlanStep(nil), pl.Steps...)
				pl.Steps[1].Share = 2000 + rng.IntN(3000)
				restart = restart || pl.Steps[1].Share != 3000
			case 5:
				pl.Steps = append([]PlanStep(nil), pl.Steps...)
				pl.Steps[0].MinSamples += 1 + int64(rng.IntN(5))
				restart = true
			}
		}
		require.NoError(t, r.Update(cfg))
		for range 3 {
			clk.Add(10 * time.Second)
			require.NoError(t, p.Tick(context.Background()))
		}
		st := p.Status()["r"]
		where := fmt.Sprintf("trial %d plan %+v", trial, *cfg.Releases["r"].Plan)
		require.Equal(t, !restart, st.RolledBack, where)
		if !restart {
			require.Zero(t, canaryUsers(r, 500), where)
			staff := r.Route("r", Request{Key: "10001"}).Variant
			require.Equal(t, cfg.Releases["r"].Plan.RollbackAll, staff == "stable", "%s: staff routed to %s", where, staff)
		}
	}
}

// Finding 6: a state file whose step_started lies in the future (random
// skews, both ways): a future start is clamped to now and reported to
// OnError, a past one is kept, and a failing canary rolls back at the
// first Tick either way.
func TestFutureStepStartClamped(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 6))
	for trial := range scaled(200, 4) {
		dir := t.TempDir()
		sf := filepath.Join(dir, "s.json")
		now := time.Unix(1e9, 0)
		skew := time.Duration(rng.Int64N(int64(4*time.Hour))) - 2*time.Hour
		leader, err := New(twoStepConfig(0, 0, false))
		require.NoError(t, err)
		wclk := &fakeClock{t: now.Add(skew)} // the writer's clock
		p0, err := NewPlanner(leader, &modeHealth{}, PlannerConfig{StateFile: sf, Clock: wclk})
		require.NoError(t, err)
		require.NoError(t, p0.Tick(context.Background()))

		var notes []error
		src := &sinceHealth{now: now}
		r, err := New(twoStepConfig(0, 0, false))
		require.NoError(t, err)
		clk := &fakeClock{t: now}
		p, err := NewPlanner(r, src, PlannerConfig{StateFile: sf, Clock: clk, Hooks: PlannerHooks{OnError: func(err error) { notes = append(notes, err) }}})
		require.NoError(t, err)
		want := now.Add(min(skew, 0))
		require.True(t, want.Equal(p.Status()["r"].StepStarted), "trial %d skew %v: started %v", trial, skew, p.Status()["r"].StepStarted)
		require.Equal(t, skew > 0, len(notes) == 1, "trial %d skew %v: reported", trial, skew)
		clk.Add(time.Minute)
		require.NoError(t, p.Tick(context.Background()))
		require.True(t, p.Status()["r"].RolledBack, "trial %d skew %v", trial, skew)
		require.False(t, src.future, "Health was asked from the future")
		got, _ := fileState(t, sf)
		require.Equal(t, memState(p), got)
	}
}

// sinceHealth answers for [since, now]: a failing canary with traffic, or
// nothing when since is in the future.
type sinceHealth struct {
	now    time.Time
	future bool
}

func (s *sinceHealth) Health(_ context.Context, _, variant string, since time.Time) (Health, error) {
	if since.After(s.now.Add(time.Minute)) {
		s.future = true
		return Health{}, nil
	}
	if variant == "canary" {
		return Health{Requests: 50, Errors: 25}, nil
	}
	return Health{Requests: 5000, Errors: 50}, nil
}

// Finding 7: after a rollback with rollback_all, a trusted incoming header
// naming the canary no longer puts the request on it; without
// rollback_all, or before a rollback, it still does. Random keys, variants
// in the header and rollback states.
func TestRollbackAllRefusesPropagatedCanary(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 7))
	trust := func(*http.Request) bool { return true }
	for trial := range scaled(300, 4) {
		all, rolled := rng.IntN(2) == 0, rng.IntN(2) == 0
		r, err := New(twoStepConfig(0, 0, all))
		require.NoError(t, err)
		if rolled {
			_, _ = r.setShare("r", r.releaseOf("r").plan.fp, 0, true)
		}
		key := []string{"10001", fmt.Sprint("u", rng.IntN(1000))}[rng.IntN(2)]
		variant := []string{"canary", "stable", "other"}[rng.IntN(3)]
		var got Decision
		h := Middleware(r, func(*http.Request) Request { return Request{Key: key} }, trust)(http.HandlerFunc(func(_ http.ResponseWriter, hr *http.Request) {
			got, _ = FromContext(hr.Context(), "r")
		}))
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set(Header, "r="+variant)
		h.ServeHTTP(httptest.NewRecorder(), req)
		where := fmt.Sprintf("trial %d all=%v rolled=%v key %s header %s: %+v", trial, all, rolled, key, variant, got)
		switch {
		case variant == "other":
			require.Equal(t, r.Route("r", Request{Key: key}), got, where)
		case variant == "canary" && all && rolled:
			require.Equal(t, r.Route("r", Request{Key: key}), got, where)
			require.Equal(t, "stable", got.Variant, where)
		default:
			require.Equal(t, ReasonPropagated, got.Reason, where)
			require.Equal(t, variant, got.Variant, where)
		}
	}
}

// Finding 8: a plan that completed (its last step passed) is still gated:
// a canary that turns bad later rolls back.
func TestCompletedPlanStillRollsBack(t *testing.T) {
	r, err := New(twoStepConfig(0, 0, false))
	require.NoError(t, err)
	h := &modeHealth{}
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	p, err := NewPlanner(r, h, PlannerConfig{Clock: clk})
	require.NoError(t, err)
	for range 3 {
		require.NoError(t, p.Tick(context.Background()))
		clk.Add(time.Minute)
	}
	require.True(t, p.Status()["r"].Done)
	require.Equal(t, 3000, p.Status()["r"].Share)
	h.set(1)
	require.NoError(t, p.Tick(context.Background()))
	require.True(t, p.Status()["r"].RolledBack)
	require.Zero(t, canaryUsers(r, 2000))
}

// A Planner that starts over without a state file (a new leader, the file
// lost) writes a new lineage from seq 1: a follower that applied a higher
// seq of the old lineage follows it.
func TestFollowerFollowsNewLineage(t *testing.T) {
	dir := t.TempDir()
	sf := filepath.Join(dir, "s.json")
	leader, err := New(twoStepConfig(0, 0, false))
	require.NoError(t, err)
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	p, err := NewPlanner(leader, &modeHealth{}, PlannerConfig{StateFile: sf, Clock: clk})
	require.NoError(t, err)
	for range 2 { // step 0 then 1 (no dwell), done: seq 2
		require.NoError(t, p.Tick(context.Background()))
	}
	follower, err := New(twoStepConfig(0, 0, false))
	require.NoError(t, err)
	w := &stateWatch{r: follower, path: sf}
	w.poll()
	require.Equal(t, 3000, follower.releaseOf("r").share)
	require.Equal(t, uint64(2), w.seq)

	require.NoError(t, os.Remove(sf))
	leader2, err := New(twoStepConfig(0, 0, false))
	require.NoError(t, err)
	h2 := &modeHealth{mode: 2} // metrics down: the plan starts and holds
	p2, err := NewPlanner(leader2, h2, PlannerConfig{StateFile: sf, Clock: clk})
	require.NoError(t, err)
	require.Error(t, p2.Tick(context.Background())) // seq 1 of a new lineage, step 0
	w.poll()
	require.Equal(t, 1000, follower.releaseOf("r").share, "the new lineage is followed")
	h2.set(0)
	require.NoError(t, p2.Tick(context.Background()))
	w.poll()
	require.Equal(t, 3000, follower.releaseOf("r").share)
}

// A release absent for ForgetAbsentAfter is forgotten by the Planner, its
// Router and a follower alike: when it comes back with the same plan, all
// three start it again at step 0 and agree.
func TestForgottenReleaseRestartsEverywhere(t *testing.T) {
	r, p, clk, sf := rolledBack(t, 0, false)
	follower, err := New(twoStepConfig(0, 0, false))
	require.NoError(t, err)
	w := &stateWatch{r: follower, path: sf}
	w.poll()
	require.Zero(t, canaryUsers(follower, 500))
	require.NoError(t, r.Update(Config{}))
	require.NoError(t, follower.Update(Config{}))
	require.NoError(t, p.Tick(context.Background()))
	clk.Add(ForgetAbsentAfter)
	require.NoError(t, p.Tick(context.Background()))
	w.poll()
	require.NoError(t, r.Update(twoStepConfig(0, 0, false)))
	require.NoError(t, follower.Update(twoStepConfig(0, 0, false)))
	p.src.(*modeHealth).set(2) // hold at step 0
	require.Error(t, p.Tick(context.Background()))
	w.poll()
	require.False(t, p.Status()["r"].RolledBack)
	require.Equal(t, 1000, r.releaseOf("r").share)
	require.Equal(t, 1000, follower.releaseOf("r").share)
}
