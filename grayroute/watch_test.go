package grayroute

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// File contents for the WatchFile schedule: two configs, one of them also
// with other bytes, an invalid one, a syntax error and a reshuffle.
var watchContents = []string{
	`{"releases": {"r": {"variants": ["a", "b"], "rules": [{"variant": "a"}]}}}`,
	`{"releases": {"r": {"variants": ["a", "b"], "rules": [{"variant": "b"}]}}}`,
	"{\"releases\": {\"r\": {\"variants\": [\"a\", \"b\"],\n \"rules\": [{\"variant\": \"a\"}]}}}", // same config as 0
	`{"releases": {"r": {"variants": ["a", "b"], "rules": [{"variant": "zz"}]}}}`,
	`{"releases": {"r": {"variants": ["a", "b"], "rules": [{"variant": "a"}]}}`,
	`{"releases": {"r": {"variants": ["b", "a"], "rules": [{"variant": "b"}]}}}`,
}

// sameAs maps a content to the config it holds (-1: none applicable).
var watchConfig = []int{0, 1, 0, -1, -1, -1}

// TestWatchFileRandomSchedule drives WatchFile (fake time, one poll per
// step) through random deletes, restores and rewrites and compares the
// hooks with a model: an error is reported once per change of state, never
// at every poll; OnReload fires only when the Router's config changed (not
// at the first poll of the file it was built from, not for the same config
// in other bytes); a deleted and restored file is read again.
func TestWatchFileRandomSchedule(t *testing.T) {
	for seed := range uint64(scaled(20, 4)) {
		synctest.Test(t, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 81))
			p := filepath.Join(t.TempDir(), "c.json")
			write := func(i int) { require.NoError(t, os.WriteFile(p, []byte(watchContents[i]), 0o600)) }
			write(0)
			cfg, err := LoadConfig(p)
			require.NoError(t, err)
			var errs, reloads atomic.Int32
			cfg.Hooks = Hooks{OnReloadError: func(error) { errs.Add(1) }, OnReload: func(string) { reloads.Add(1) }}
			r, err := New(cfg)
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			go r.WatchFile(ctx, p, time.Second)
			synctest.Wait()
			require.Zero(t, errs.Load()+reloads.Load(), "the first poll of an unchanged file fires nothing")

			// the model
			var wantErrs, wantReloads int32
			router, file, last, lastID := 0, 0, 0, ""
			missing, readOnce := false, true // the first poll read content 0
			for step := range 60 {
				switch op := rng.IntN(4); {
				case op == 0 && file >= 0:
					require.NoError(t, os.Remove(p))
					file = -1
				case op <= 2:
					file = rng.IntN(len(watchContents))
					write(file)
				}
				time.Sleep(time.Second)
				synctest.Wait()
				// what one poll does, in the model
				func() {
					if file < 0 {
						missing = true
						if lastID != "missing" {
							wantErrs++
						}
						lastID = "missing"
						return
					}
					if readOnce && !missing && file == last {
						return
					}
					last, readOnce, missing = file, true, false
					c := watchConfig[file]
					if c < 0 {
						id := fmt.Sprint("bad", file)
						if id != lastID {
							wantErrs++
						}
						lastID = id
						return
					}
					lastID = ""
					if c != router {
						router = c
						wantReloads++
					}
				}()
				require.Equal(t, wantErrs, errs.Load(), "seed %d step %d: errors", seed, step)
				require.Equal(t, wantReloads, reloads.Load(), "seed %d step %d: reloads", seed, step)
				require.Equal(t, []string{"a", "b"}[router], r.Route("r", Request{}).Variant)
			}
		})
	}
}

// stateHealth is a HealthSource whose canary turns bad on demand.
type stateHealth struct{ bad atomic.Bool }

func (h *stateHealth) Health(_ context.Context, _, variant string, _ time.Time) (Health, error) {
	if variant == "canary" && h.bad.Load() {
		return Health{Requests: 10_000, Errors: 5_000, P99: time.Millisecond}, nil
	}
	return Health{Requests: 10_000, Errors: 10, P99: time.Millisecond}, nil
}

// TestWatchStateFollowsPlanner: a Planner drives router A and persists its
// state; router B, built separately from the same config file (as another
// process would be) and sharing nothing with A but the files, follows the
// state file. After every poll B's shares and decisions equal A's, through
// random advances, rollbacks and plan restarts written to the config file
// that both watch (B may lag A by one poll on a config change, then
// catches up).
func TestWatchStateFollowsPlanner(t *testing.T) {
	for seed := range uint64(scaled(10, 5)) {
		synctest.Test(t, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 91))
			dir := t.TempDir()
			cfgPath, statePath := filepath.Join(dir, "gray.json"), filepath.Join(dir, "gray.state")
			writeCfg := func(epoch int) {
				text := fmt.Sprintf(`{"releases": {"r": {"variants": ["stable", "canary"], "sticky": 100,
				  "rules": [{"name": "staff", "keys": ["10001"], "variant": "canary"},
				            {"name": "all", "split": {"stable": 10000, "canary": 0}}],
				  "plan": {"canary": "canary", "control": "stable", "epoch": %d,
				           "steps": [{"share": 100, "dwell": "1s"}, {"share": 1000, "dwell": "1s"}, {"share": 5000}]}}}}`, epoch)
				tmp := cfgPath + ".tmp"
				require.NoError(t, os.WriteFile(tmp, []byte(text), 0o600))
				require.NoError(t, os.Rename(tmp, cfgPath))
			}
			writeCfg(0)
			open := func() *Router {
				cfg, err := LoadConfig(cfgPath)
				require.NoError(t, err)
				var bad []error
				cfg.Hooks.OnReloadError = func(err error) { bad = append(bad, err) }
				r, err := New(cfg)
				require.NoError(t, err)
				return r
			}
			a, b := open(), open()
			health := &stateHealth{}
			pl, err := NewPlanner(a, health, PlannerConfig{StateFile: statePath})
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			// The Planner ticks every second; the watchers poll every second,
			// half a second later, so each poll sees the last Tick.
			go a.WatchFile(ctx, cfgPath, time.Second)
			go pl.Run(ctx, time.Second)
			time.Sleep(500 * time.Millisecond)
			go b.WatchFile(ctx, cfgPath, time.Second)
			go b.WatchState(ctx, statePath, time.Second)
			synctest.Wait()
			epoch := 0
			keys := keysN(300)
			compared, rolled, advanced := 0, 0, 0
			for step := range 30 {
				switch rng.IntN(6) {
				case 0:
					health.bad.Store(true)
				case 1:
					health.bad.Store(false)
					epoch++
					writeCfg(epoch)
				}
				time.Sleep(time.Second)
				synctest.Wait()
				// After A's Tick and the polls: at most one poll behind.
				time.Sleep(time.Second)
				synctest.Wait()
				ra, rb := a.releaseOf("r"), b.releaseOf("r")
				if ra.plan.fp != rb.plan.fp {
					continue // B has not read the new config yet
				}
				compared++
				if ra.rolled {
					rolled++
				}
				if ra.share > 100 {
					advanced++
				}
				require.Equal(t, ra.share, rb.share, "seed %d step %d", seed, step)
				require.Equal(t, ra.rolled, rb.rolled, "seed %d step %d", seed, step)
				for _, k := range append(keys, "10001") {
					require.Equal(t, a.Explain("r", Request{Key: k}).Decision, b.Explain("r", Request{Key: k}).Decision, "seed %d step %d key %s", seed, step, k)
				}
			}
			require.Greater(t, compared, 20)
			require.Positive(t, rolled+advanced)
			cancel()
			synctest.Wait()
		})
	}
}

// TestWatchStateRollbackWithinOnePoll: the review's two replicas. The
// leader rolls back; the follower, at its next poll, routes no key of a
// split to the canary and has forgotten its sticky keys.
func TestWatchStateRollbackWithinOnePoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		statePath := filepath.Join(dir, "gray.state")
		cfg := Config{Releases: map[string]Release{"r": {
			Variants: []string{"stable", "canary"}, Sticky: 1000,
			Rules: []Rule{{Split: map[string]int{"stable": 10000, "canary": 0}}},
			Plan:  &Plan{Canary: "canary", Control: "stable", Steps: []PlanStep{{Share: 2000}}},
		}}}
		a, err := New(cfg)
		require.NoError(t, err)
		var reloads atomic.Int32
		cfg.Hooks.OnReload = func(string) { reloads.Add(1) }
		b, err := New(cfg)
		require.NoError(t, err)
		keys := keysN(2000)
		canary := func(r *Router) int {
			n := 0
			for _, k := range keys {
				if r.Route("r", Request{Key: k}).Variant == "canary" {
					n++
				}
			}
			return n
		}
		require.Positive(t, canary(b))
		health := &stateHealth{}
		health.bad.Store(true)
		pl, err := NewPlanner(a, health, PlannerConfig{StateFile: statePath})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		require.NoError(t, pl.Tick(ctx))
		require.Zero(t, canary(a))
		go b.WatchState(ctx, statePath, time.Second)
		synctest.Wait()
		require.Zero(t, canary(b), "the follower rolled back at its first poll")
		require.Equal(t, int32(1), reloads.Load())
		require.Zero(t, b.releaseOf("r").sticky.c.Len())
		time.Sleep(3 * time.Second)
		synctest.Wait()
		require.Equal(t, int32(1), reloads.Load(), "an unchanged state changes nothing")
	})
}

// TestWatchStateAcrossProcesses: the Planner runs in this process, the
// follower Router in a child process that shares only the two files. The
// child reports its canary count at start and after every change its
// WatchState applies; after the Planner here rolls back, the child's next
// report is 0.
func TestWatchStateAcrossProcesses(t *testing.T) {
	if dir := os.Getenv("GRAYROUTE_FOLLOWER_DIR"); dir != "" {
		followerChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process; run without -short")
	}
	dir := t.TempDir()
	cfgText := `{"releases": {"r": {"variants": ["stable", "canary"],
	  "rules": [{"split": {"stable": 10000, "canary": 0}}],
	  "plan": {"canary": "canary", "control": "stable", "steps": [{"share": 2000}]}}}}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "gray.json"), []byte(cfgText), 0o600))
	cfg, err := ParseConfig([]byte(cfgText))
	require.NoError(t, err)
	a, err := New(cfg)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestWatchStateAcrossProcesses$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GRAYROUTE_FOLLOWER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	defer func() { cancel(); _ = cmd.Wait() }()
	lines := bufio.NewScanner(out)
	next := func() string {
		for lines.Scan() {
			if l := lines.Text(); strings.HasPrefix(l, "canary ") {
				return l
			}
		}
		t.Fatalf("child ended: %v", lines.Err())
		return ""
	}
	first := next()
	require.NotEqual(t, "canary 0", first, "the child starts at step 0 (20%%)")

	health := &stateHealth{}
	health.bad.Store(true)
	pl, err := NewPlanner(a, health, PlannerConfig{StateFile: filepath.Join(dir, "gray.state")})
	require.NoError(t, err)
	require.NoError(t, pl.Tick(ctx))
	require.True(t, pl.Status()["r"].RolledBack)
	require.Equal(t, "canary 0", next(), "the child follows the rollback")
}

// followerChild is the child side: a Router from the config file that
// follows the state file, printing its canary count of 1,000 keys.
func followerChild(dir string) {
	count := func(r *Router) int {
		n := 0
		for _, k := range keysN(1000) {
			if r.Route("r", Request{Key: k}).Variant == "canary" {
				n++
			}
		}
		return n
	}
	cfg, err := LoadConfig(filepath.Join(dir, "gray.json"))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	var r *Router
	cfg.Hooks.OnReload = func(string) { fmt.Println("canary", count(r)) }
	if r, err = New(cfg); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("canary", count(r))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	// Exits with the parent (its stdout closes) or after the timeout.
	go func() {
		for ctx.Err() == nil {
			if _, err := fmt.Println("alive"); err != nil {
				os.Exit(0)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	_ = r.WatchState(ctx, filepath.Join(dir, "gray.state"), 10*time.Millisecond)
	os.Exit(0)
}
