package grayroute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// HealthSource reports a variant's health since a time: the Planner asks it
// for the canary and the control of each plan at every Tick.
type HealthSource interface {
	Health(ctx context.Context, release, variant string, since time.Time) (Health, error)
}

// Health is a variant's traffic since the step began.
type Health struct {
	Requests, Errors int64
	P99              time.Duration
}

// PlannerConfig configures a Planner. The zero value keeps state in memory
// only and uses the real clock.
type PlannerConfig struct {
	// StateFile, when set, persists every plan's progress (written to a
	// temporary file in the same directory, then renamed over it), so a
	// restarted process resumes where it was, rollbacks included.
	StateFile string
	Clock     Clock
	Hooks     PlannerHooks
}

// PlannerHooks are a Planner's callbacks, shares in basis points. They run
// after Tick has released its lock and may call back into the Planner or
// Router.
type PlannerHooks struct {
	OnAdvance  func(release string, from, to int)
	OnRollback func(release string, from int, reason string)
	// OnHold reports why a plan did not move at this Tick.
	OnHold func(release string, reason string)
	// OnError reports errors Run ignores to keep going (Tick returns them).
	OnError func(err error)
}

// Planner walks every release's Plan: each Tick it judges the current step
// and advances, holds or rolls back, and applies the share to the Router.
// One Planner per Router; its methods are safe for concurrent use.
type Planner struct {
	r     *Router
	src   HealthSource
	cfg   PlannerConfig
	clock Clock

	mu    sync.Mutex
	state map[string]*planProgress
}

// planProgress is one plan's persisted state.
type planProgress struct {
	Fingerprint string    `json:"fingerprint"`
	Step        int       `json:"step"`
	StepStarted time.Time `json:"step_started"`
	RolledBack  bool      `json:"rolled_back,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	Done        bool      `json:"done,omitempty"`
}

type stateFile struct {
	Version  int                      `json:"version"`
	Releases map[string]*planProgress `json:"releases"`
}

// PlanStatus is a plan's progress as Status reports it.
type PlanStatus struct {
	Step        int
	Share       int
	StepStarted time.Time
	RolledBack  bool
	Done        bool
	Reason      string
}

// NewPlanner creates a Planner for r. If cfg.StateFile exists it is loaded
// (an unreadable or malformed file is an error matching ErrBadState) and
// the saved shares are applied to r at once, so routing after a restart is
// where it was before.
func NewPlanner(r *Router, src HealthSource, cfg PlannerConfig) (*Planner, error) {
	if r == nil {
		return nil, errors.New("grayroute: nil Router")
	}
	if src == nil {
		return nil, errors.New("grayroute: nil HealthSource")
	}
	p := &Planner{r: r, src: src, cfg: cfg, clock: cfg.Clock, state: map[string]*planProgress{}}
	if p.clock == nil {
		p.clock = realClock{}
	}
	if cfg.StateFile != "" {
		data, err := os.ReadFile(cfg.StateFile)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("%w: %w", ErrBadState, err)
		default:
			if p.state, err = parseState(cfg.StateFile, data); err != nil {
				return nil, err
			}
		}
	}
	for n, st := range p.state {
		pl, ok := r.planOf(n)
		if !ok || pl.fp != st.Fingerprint || st.Step >= len(pl.steps) {
			continue // the plan changed while we were down: Tick restarts it
		}
		r.setShare(n, pl.fp, st.share(pl), st.RolledBack)
	}
	return p, nil
}

// parseState reads a state file's content (name is for errors, which match
// ErrBadState).
func parseState(name string, data []byte) (map[string]*planProgress, error) {
	var sf stateFile
	if err := json.Unmarshal(data, &sf); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadState, name, err)
	}
	if sf.Version != 1 {
		return nil, fmt.Errorf("%w: %s: version %d, want 1", ErrBadState, name, sf.Version)
	}
	out := make(map[string]*planProgress, len(sf.Releases))
	for n, st := range sf.Releases {
		if st == nil || st.Step < 0 {
			return nil, fmt.Errorf("%w: %s: release %q: bad step", ErrBadState, name, n)
		}
		out[n] = st
	}
	return out, nil
}

func (st *planProgress) share(pl *compiledPlan) int {
	if st.RolledBack {
		return 0
	}
	return pl.steps[st.Step].Share
}

// Status returns the progress of every plan the Planner has seen.
func (p *Planner) Status() map[string]PlanStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]PlanStatus, len(p.state))
	for n, st := range p.state {
		s := PlanStatus{Step: st.Step, StepStarted: st.StepStarted, RolledBack: st.RolledBack, Done: st.Done, Reason: st.Reason}
		if pl, ok := p.r.planOf(n); ok && pl.fp == st.Fingerprint && st.Step < len(pl.steps) {
			s.Share = st.share(pl)
		}
		out[n] = s
	}
	return out
}

type planEvent struct {
	kind     int // 1 advance, 2 rollback, 3 hold
	release  string
	from, to int
	reason   string
	plan     *compiledPlan // the plan judged
	st       *planProgress // its progress
	prev     planProgress  // the progress before judging
	changed  bool          // judging changed the progress
}

// Tick judges every plan once:
//
//   - a plan seen for the first time, or changed since (its fingerprint), starts at step 0;
//   - a rolled-back plan holds at share 0 until it changes (bump its epoch);
//   - with fewer than min_samples canary requests since the step began, hold;
//   - the gate fails (canary error rate above the control's by more than
//     max_error_rate_increase, or canary p99 above max_p99_ratio × the
//     control's): roll back to 0 at once;
//   - the gate passes but the dwell has not elapsed: hold;
//   - otherwise advance to the next step (after the last, the plan is done
//     and holds its share).
//
// Health errors hold the plan and are returned, joined; so is a failure to
// persist. A rollback is applied even if persisting it fails; an advance
// is not.
func (p *Planner) Tick(ctx context.Context) error {
	events, errs := p.tick(ctx)
	h := p.cfg.Hooks
	for _, ev := range events {
		switch {
		case ev.kind == 1 && h.OnAdvance != nil:
			h.OnAdvance(ev.release, ev.from, ev.to)
		case ev.kind == 2 && h.OnRollback != nil:
			h.OnRollback(ev.release, ev.from, ev.reason)
		case ev.kind == 3 && h.OnHold != nil:
			h.OnHold(ev.release, ev.reason)
		}
	}
	return errors.Join(errs...)
}

// tick is Tick under p.mu (released by defer, so a panicking HealthSource
// or Clock leaves the Planner usable). Every plan is judged against the
// release snapshot read once at its start; the verdict is applied only if
// that plan (its fingerprint) is still the Router's when it is applied, so
// a config change racing the HealthSource call can neither index a shorter
// plan nor hand an old plan's rollback to a restarted one.
func (p *Planner) tick(ctx context.Context) (events []planEvent, errs []error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	names := p.r.Releases()
	dirty := false
	for _, n := range names {
		rel := p.r.releaseOf(n)
		if rel == nil || rel.plan == nil {
			continue
		}
		pl := rel.plan
		st := p.state[n]
		if st == nil || st.Fingerprint != pl.fp || st.Step >= len(pl.steps) {
			st = &planProgress{Fingerprint: pl.fp, StepStarted: now}
			p.state[n] = st
			dirty = true
		}
		prev := *st
		ev, changed, err := p.judge(ctx, n, rel, st, now)
		if err != nil {
			errs = append(errs, err)
		}
		ev.plan, ev.st, ev.prev, ev.changed = pl, st, prev, changed
		events = append(events, ev)
		dirty = dirty || changed
	}
	for n := range p.state {
		if _, ok := p.r.planOf(n); !ok {
			delete(p.state, n)
			dirty = true
		}
	}
	var perr error
	if dirty {
		perr = p.persist()
	}
	for i := range events {
		ev := &events[i]
		if perr != nil && ev.changed && ev.kind != 2 {
			// Not persisted: undo the whole advance or completion (step,
			// start time, done) rather than move a share a restart would
			// forget; the next Tick tries again with the same step timer.
			*ev.st = ev.prev
			ev.kind, ev.reason = 3, "progress not persisted: "+perr.Error()
		}
		if ok, _ := p.r.setShare(ev.release, ev.plan.fp, ev.st.share(ev.plan), ev.st.RolledBack); !ok {
			// The plan changed while it was judged: the verdict was about
			// the old plan. The next Tick starts the new one at step 0.
			ev.kind, ev.reason = 3, "plan changed while it was judged; it restarts at the next tick"
		}
	}
	if perr != nil {
		errs = append(errs, perr)
	}
	return events, errs
}

// judge decides one plan; p.mu is held.
func (p *Planner) judge(ctx context.Context, n string, rel *release, st *planProgress, now time.Time) (planEvent, bool, error) {
	pl := rel.plan
	hold := func(reason string) planEvent { return planEvent{kind: 3, release: n, reason: reason} }
	if st.RolledBack {
		return hold("rolled back (" + st.Reason + "); change the plan to restart"), false, nil
	}
	step := pl.steps[st.Step]
	if st.Done {
		return hold(fmt.Sprintf("complete at share %d", step.Share)), false, nil
	}
	canary, control := rel.variants[pl.canary], rel.variants[pl.control]
	hc, err := p.src.Health(ctx, n, canary, st.StepStarted)
	if err != nil {
		return hold("health of " + canary + ": " + err.Error()), false, fmt.Errorf("grayroute: health of %s/%s: %w", n, canary, err)
	}
	hk, err := p.src.Health(ctx, n, control, st.StepStarted)
	if err != nil {
		return hold("health of " + control + ": " + err.Error()), false, fmt.Errorf("grayroute: health of %s/%s: %w", n, control, err)
	}
	if hc.Requests < step.MinSamples || hc.Requests <= 0 {
		if reason := earlyAbort(pl.gate, hc, hk); reason != "" {
			st.RolledBack, st.Reason = true, reason
			return planEvent{kind: 2, release: n, from: step.Share, reason: reason}, true, nil
		}
		return hold(fmt.Sprintf("waiting for samples: %d of %d canary requests", hc.Requests, step.MinSamples)), false, nil
	}
	if reason := gateFails(pl.gate, hc, hk); reason != "" {
		st.RolledBack, st.Reason = true, reason
		return planEvent{kind: 2, release: n, from: step.Share, reason: reason}, true, nil
	}
	if el := now.Sub(st.StepStarted); el < time.Duration(step.Dwell) {
		return hold(fmt.Sprintf("dwell: %v of %v", el, time.Duration(step.Dwell))), false, nil
	}
	if st.Step+1 == len(pl.steps) {
		st.Done = true
		return hold(fmt.Sprintf("complete at share %d", step.Share)), true, nil
	}
	st.Step++
	st.StepStarted = now
	return planEvent{kind: 1, release: n, from: step.Share, to: pl.steps[st.Step].Share}, true, nil
}

// persist writes the state file atomically; p.mu is held.
func (p *Planner) persist() error {
	if p.cfg.StateFile == "" {
		return nil
	}
	sf := stateFile{Version: 1, Releases: p.state}
	data, err := json.MarshalIndent(sf, "", "  ")
	if err != nil {
		return fmt.Errorf("grayroute: planner state: %w", err)
	}
	dir := filepath.Dir(p.cfg.StateFile)
	f, err := os.CreateTemp(dir, filepath.Base(p.cfg.StateFile)+".tmp*")
	if err != nil {
		return fmt.Errorf("grayroute: planner state: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p.cfg.StateFile)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("grayroute: planner state: %w", err)
	}
	return nil
}

// Run calls Tick now and then every interval (default 10 s) until ctx
// ends, then returns nil. Tick errors go to PlannerHooks.OnError.
func (p *Planner) Run(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := p.Tick(ctx); err != nil && ctx.Err() == nil && p.cfg.Hooks.OnError != nil {
			p.cfg.Hooks.OnError(err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
