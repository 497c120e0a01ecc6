package grayroute

import (
	"context"
	"encoding/json"
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

// twoStepConfig is one release "r" with a staff rule naming the canary and
// a 50/50 split driven by a two-step plan (10 %, then 30 %; 10 samples, no
// dwell).
func twoStepConfig(epoch int, inc float64, rollbackAll bool) Config {
	return Config{Releases: map[string]Release{"r": {
		Variants: []string{"stable", "canary"}, Sticky: 1000,
		Rules: []Rule{
			{Name: "staff", Keys: []string{"10001"}, Variant: "canary"},
			{Name: "all", Split: map[string]int{"stable": 5000, "canary": 5000}},
		},
		Plan: &Plan{Canary: "canary", Control: "stable", Epoch: epoch, RollbackAll: rollbackAll,
			Gate:  Gate{MaxErrorRateIncrease: inc},
			Steps: []PlanStep{{Share: 1000, MinSamples: 10}, {Share: 3000, MinSamples: 10}}},
	}}}
}

// canaryUsers counts how many of n users Route sends to the canary.
func canaryUsers(r *Router, n int) int {
	c := 0
	for i := range n {
		if r.Route("r", Request{Key: fmt.Sprint("u", i)}).Variant == "canary" {
			c++
		}
	}
	return c
}

// modeHealth answers with a healthy or a failing canary (or an error) as
// the test sets mode.
type modeHealth struct {
	mu   sync.Mutex
	mode int // 0 healthy, 1 failing, 2 error
}

func (h *modeHealth) set(m int) { h.mu.Lock(); h.mode = m; h.mu.Unlock() }

func (h *modeHealth) Health(_ context.Context, _, variant string, _ time.Time) (Health, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.mode == 2:
		return Health{}, errors.New("metrics down")
	case variant == "stable":
		return Health{Requests: 5000, Errors: 50}, nil
	case h.mode == 1:
		return Health{Requests: 20, Errors: 20}, nil
	}
	return Health{Requests: 20}, nil
}

// The reviewer's repro: the state directory is unavailable for the one
// Tick that rolls back. Later Ticks with a healthy disk must write the
// rollback, so a follower and a restarted leader see it.
func TestRollbackPersistedAfterTransientWriteError(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	require.NoError(t, os.Mkdir(dir, 0o755))
	sf := filepath.Join(dir, "s.json")
	r, err := New(twoStepConfig(0, 0, false))
	require.NoError(t, err)
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	h := &modeHealth{}
	p, err := NewPlanner(r, h, PlannerConfig{StateFile: sf, Clock: clk})
	require.NoError(t, err)
	require.NoError(t, p.Tick(context.Background()))
	h.set(1)
	require.NoError(t, os.Rename(dir, dir+".away"))
	require.Error(t, p.Tick(context.Background()), "the write fails")
	require.NoError(t, os.Rename(dir+".away", dir))
	require.Zero(t, canaryUsers(r, 2000), "the rollback applies in memory at once")
	clk.Add(10 * time.Second)
	require.NoError(t, p.Tick(context.Background()))
	data, err := os.ReadFile(sf)
	require.NoError(t, err)
	require.Contains(t, string(data), `"rolled_back": true`)

	follower, err := New(twoStepConfig(0, 0, false))
	require.NoError(t, err)
	(&stateWatch{r: follower, path: sf}).poll()
	require.Zero(t, canaryUsers(follower, 2000))
	restarted, err := New(twoStepConfig(0, 0, false))
	require.NoError(t, err)
	p2, err := NewPlanner(restarted, h, PlannerConfig{StateFile: sf, Clock: clk})
	require.NoError(t, err)
	require.True(t, p2.Status()["r"].RolledBack)
	require.Zero(t, canaryUsers(restarted, 2000))
}

// fileState reads a state file's releases as JSON, for comparing with
// the Planner's memory.
func fileState(t *testing.T, path string) (string, uint64) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	sf, err := parseState(path, data)
	require.NoError(t, err)
	b, err := json.Marshal(sf.Releases)
	require.NoError(t, err)
	return string(b), sf.Seq
}

func memState(p *Planner) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, _ := json.Marshal(p.state)
	return string(b)
}

// TestPlanScheduleModel drives a leader (Router, Planner, StateFile) and a
// follower (Router on the state file) through random schedules of Ticks
// with healthy, failing or unreachable health, disk failures at random
// Ticks, and config changes: the release removed ({}) and restored, gate
// and rollback_all edits, epoch bumps. It checks, after every step:
//
//   - after a Tick whose disk was healthy, the file holds exactly the
//     Planner's memory (a failed write is retried until one succeeds);
//   - the leader's plan follows the model: a rollback holds through
//     removals, restores, gate and rollback_all edits and disk failures,
//     and only an epoch bump restarts the plan;
//   - the follower, fed random old and new copies of the state file in
//     random order, never applies a copy older than one it applied and
//     never reopens the canary of a plan it saw rolled back; fed the
//     newest copy, it routes what the leader wrote.
func TestPlanScheduleModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 1))
	for trial := range scaled(80, 4) {
		base := t.TempDir()
		dir := filepath.Join(base, "state")
		require.NoError(t, os.Mkdir(dir, 0o755))
		sf := filepath.Join(dir, "s.json")
		fcopy := filepath.Join(base, "copy.json")
		epoch, inc, all := 0, 0.0, false
		cfg := func() Config { return twoStepConfig(epoch, inc, all) }
		leader, err := New(cfg())
		require.NoError(t, err)
		follower, err := New(cfg())
		require.NoError(t, err)
		clk := &fakeClock{t: time.Unix(1e9, 0)}
		h := &modeHealth{}
		p, err := NewPlanner(leader, h, PlannerConfig{StateFile: sf, Clock: clk})
		require.NoError(t, err)
		w := &stateWatch{r: follower, path: fcopy}

		// the model
		present, rolled, step, done := true, false, 0, false
		var copies [][]byte // every state written, oldest first
		var maxSeq uint64
		followerRolled := map[string]bool{} // fingerprints the follower applied rolled back
		for i := range 40 {
			where := fmt.Sprintf("trial %d step %d", trial, i)
			clk.Add(time.Duration(rng.IntN(30)) * time.Second)
			switch op := rng.IntN(10); {
			case op < 5: // Tick
				mode := rng.IntN(3)
				if rng.IntN(3) == 0 {
					mode = 1
				}
				h.set(mode)
				diskDown := rng.IntN(3) == 0
				if diskDown {
					require.NoError(t, os.Rename(dir, dir+".away"))
				}
				err := p.Tick(context.Background())
				if diskDown {
					require.NoError(t, os.Rename(dir+".away", dir))
				}
				if present && !rolled && mode != 2 {
					switch {
					case mode == 1:
						rolled = true
					case diskDown: // an advance is undone when it cannot be written
					case step == 0:
						step = 1
					default:
						done = true
					}
				}
				if !diskDown {
					if mode != 2 {
						require.NoError(t, err, where)
					}
					if _, statErr := os.Stat(sf); statErr == nil {
						got, seq := fileState(t, sf)
						require.Equal(t, memState(p), got, "%s: the file holds the Planner's memory", where)
						data, _ := os.ReadFile(sf)
						if len(copies) == 0 || seq > maxSeq {
							copies = append(copies, data)
							maxSeq = seq
						}
					}
				}
			case op == 5: // the release leaves the config, or comes back
				if present {
					require.NoError(t, leader.Update(Config{}))
					require.NoError(t, follower.Update(Config{}))
				} else {
					require.NoError(t, leader.Update(cfg()))
					require.NoError(t, follower.Update(cfg()))
				}
				present = !present
			case op == 6: // a gate or rollback_all edit: the plan goes on
				if rng.IntN(2) == 0 {
					inc = []float64{0, 0.02, 0.2}[rng.IntN(3)]
				} else {
					all = !all
				}
				if present {
					require.NoError(t, leader.Update(cfg()))
					require.NoError(t, follower.Update(cfg()))
				}
			case op == 7: // epoch bump: the plan restarts
				epoch++
				rolled, step, done = false, 0, false
				if present {
					require.NoError(t, leader.Update(cfg()))
					require.NoError(t, follower.Update(cfg()))
				}
			default: // the follower reads a random copy, or the newest
				if len(copies) == 0 {
					continue
				}
				k := rng.IntN(len(copies))
				if rng.IntN(3) == 0 {
					k = len(copies) - 1
				}
				require.NoError(t, os.WriteFile(fcopy, copies[k], 0o600))
				before := follower.releaseOf("r")
				prevSeq := w.seq
				w.poll()
				sfc, err := parseState(fcopy, copies[k])
				require.NoError(t, err)
				if sfc.Seq < prevSeq {
					require.Same(t, before, follower.releaseOf("r"), "%s: a stale copy changes nothing", where)
				}
				if rel := follower.releaseOf("r"); rel != nil && rel.plan != nil {
					fp := rel.plan.fp
					if rel.rolled {
						followerRolled[fp] = true
					}
					require.False(t, followerRolled[fp] && rel.share != 0, "%s: the follower reopened a rolled-back canary", where)
					if k == len(copies)-1 && sfc.Seq >= prevSeq {
						if st := sfc.Releases["r"]; st != nil && st.Fingerprint == fp && st.Step < len(rel.plan.steps) {
							require.Equal(t, st.share(rel.plan), rel.share, "%s: the newest copy is applied", where)
						}
					}
				}
			}
			rel := leader.releaseOf("r")
			require.Equal(t, present, rel != nil, where)
			if rel == nil {
				continue
			}
			want := []int{1000, 3000}[step]
			if rolled {
				want = 0
			}
			require.Equal(t, want, rel.share, "%s: leader share", where)
			require.Equal(t, rolled, rel.rolled, where)
			if rolled && all {
				require.Zero(t, canaryUsers(leader, 50)+boolInt(leader.Route("r", Request{Key: "10001"}).Variant == "canary"), where)
			}
			p.mu.Lock()
			same := p.state["r"] != nil && p.state["r"].Fingerprint == rel.plan.fp
			p.mu.Unlock()
			if st := p.Status()["r"]; same { // the plan has been ticked since its last restart
				require.Equal(t, rolled, st.RolledBack, where)
				require.Equal(t, done, st.Done, where)
			}
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
