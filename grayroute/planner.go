package grayroute

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	// restarted process resumes where it was, rollbacks included. A
	// failed write is retried at every Tick until one succeeds.
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

	mu      sync.Mutex
	state   map[string]*planProgress
	seq     uint64 // the generation last written to (or read from) StateFile
	lineage string // StateFile's lineage (see stateFile)
	unsaved bool   // the state differs from what StateFile holds
}

// planProgress is one plan's persisted state.
type planProgress struct {
	Fingerprint string    `json:"fingerprint"`
	Step        int       `json:"step"`
	StepStarted time.Time `json:"step_started"`
	RolledBack  bool      `json:"rolled_back,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	Done        bool      `json:"done,omitempty"`
	// AbsentSince is set while the release (or its plan) is missing from
	// the Router's config: its progress is kept for ForgetAbsentAfter.
	AbsentSince *time.Time `json:"absent_since,omitempty"`
}

// ForgetAbsentAfter is how long a Planner keeps the progress (rollbacks
// included) of a plan whose release has left the config: a release that
// comes back within it with the same plan resumes where it was.
const ForgetAbsentAfter = 7 * 24 * time.Hour

type stateFile struct {
	Version int `json:"version"`
	// Seq grows by one at every write; followers ignore a file older
	// than one they applied from the same Lineage, a random id chosen when
	// the Planner starts without a state file.
	Seq      uint64                   `json:"seq"`
	Lineage  string                   `json:"lineage,omitempty"`
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
			var sf *stateFile
			if sf, err = parseState(cfg.StateFile, data); err != nil {
				return nil, err
			}
			p.state, p.seq, p.lineage = sf.Releases, sf.Seq, sf.Lineage
		}
	}
	if p.lineage == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		p.lineage = hex.EncodeToString(b[:])
	}
	if notes := p.clampFuture(p.clock.Now()); len(notes) > 0 {
		p.unsaved = true
		if cfg.Hooks.OnError != nil {
			cfg.Hooks.OnError(errors.Join(notes...))
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

// clampFuture moves every step start later than now back to now (a state
// written by a host whose clock ran ahead would otherwise hide the step's
// traffic from the HealthSource until then) and returns a note for each,
// matching ErrBadState; p.mu is held or p is not yet shared.
func (p *Planner) clampFuture(now time.Time) []error {
	var notes []error
	for n, st := range p.state {
		if st.StepStarted.After(now) {
			notes = append(notes, fmt.Errorf("%w: release %q: step started %v, in the future; clamped to now", ErrBadState, n, st.StepStarted.Format(time.RFC3339Nano)))
			st.StepStarted = now
		}
		if st.AbsentSince != nil && st.AbsentSince.After(now) {
			t := now
			st.AbsentSince = &t
		}
	}
	return notes
}

// parseState reads a state file's content (name is for errors, which match
// ErrBadState).
func parseState(name string, data []byte) (*stateFile, error) {
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
	sf.Releases = out
	return &sf, nil
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
//   - a plan seen for the first time, or changed since (its fingerprint:
//     steps, canary, control and epoch), starts at step 0;
//   - a rolled-back plan holds at share 0 until it changes (bump its
//     epoch); gate and rollback_all edits apply to it without restarting;
//   - with fewer than min_samples canary requests since the step began,
//     hold, unless the early abort (see doc.go) rolls back;
//   - the gate fails (canary error rate above the control's by more than
//     max_error_rate_increase, or canary p99 above max_p99_ratio × the
//     control's): roll back to 0 at once;
//   - the gate passes but the dwell has not elapsed: hold;
//   - otherwise advance to the next step; after the last the plan is
//     complete: it holds its share and is still judged (it can still roll
//     back) until the config drops the plan, e.g. when it promotes the
//     canary.
//
// A release (or plan) missing from the config keeps its progress, rollback
// included, for ForgetAbsentAfter, and resumes it if it comes back with
// the same plan. A step start later than the clock (a state written by a
// host whose clock ran ahead) is clamped to now and reported to
// PlannerHooks.OnError.
//
// Health errors hold the plan and are returned, joined; so is a failure to
// persist, and every later Tick writes the state again until a write
// succeeds. A rollback is applied even if persisting it fails; an advance
// is not.
func (p *Planner) Tick(ctx context.Context) error {
	events, errs, notes := p.tick(ctx)
	h := p.cfg.Hooks
	if len(notes) > 0 && h.OnError != nil {
		h.OnError(errors.Join(notes...))
	}
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
// plan nor hand an old plan's rollback to a restarted one. notes are the
// step starts clamped from the future, for OnError.
func (p *Planner) tick(ctx context.Context) (events []planEvent, errs, notes []error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	if notes = p.clampFuture(now); len(notes) > 0 {
		p.unsaved = true
	}
	names := p.r.Releases()
	// A state change not yet written (a failed write at an earlier Tick)
	// is written again at every Tick until a write succeeds.
	dirty := p.unsaved
	for _, n := range names {
		rel := p.r.releaseOf(n)
		if rel == nil || rel.plan == nil {
			continue
		}
		pl := rel.plan
		st := p.state[n]
		if st != nil && st.AbsentSince != nil && st.Fingerprint == pl.fp {
			st.AbsentSince = nil // back with the same plan: resume
			dirty = true
		}
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
	for n, st := range p.state {
		if _, ok := p.r.planOf(n); ok {
			continue
		}
		// The release or its plan left the config: keep its progress (a
		// rollback above all) in case it comes back unchanged, for a while.
		switch {
		case st.AbsentSince == nil:
			t := now
			st.AbsentSince = &t
			dirty = true
		case now.Sub(*st.AbsentSince) >= ForgetAbsentAfter:
			delete(p.state, n)
			dirty = true
			p.r.forgetAbsent(func(m string) bool { return m != n })
		}
	}
	var perr error
	if dirty && p.cfg.StateFile != "" {
		perr = p.persist()
		p.unsaved = perr != nil
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
	return events, errs, notes
}

// judge decides one plan; p.mu is held. A completed plan (Done: its last
// step passed) is still judged, so a canary that turns bad later rolls
// back; it only no longer advances.
func (p *Planner) judge(ctx context.Context, n string, rel *release, st *planProgress, now time.Time) (planEvent, bool, error) {
	pl := rel.plan
	hold := func(reason string) planEvent { return planEvent{kind: 3, release: n, reason: reason} }
	if st.RolledBack {
		return hold("rolled back (" + st.Reason + "); change the plan to restart"), false, nil
	}
	step := pl.steps[st.Step]
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
		if st.Done {
			return hold(fmt.Sprintf("complete at share %d (still gated)", step.Share)), false, nil
		}
		return hold(fmt.Sprintf("waiting for samples: %d of %d canary requests", hc.Requests, step.MinSamples)), false, nil
	}
	if reason := gateFails(pl.gate, hc, hk); reason != "" {
		st.RolledBack, st.Reason = true, reason
		return planEvent{kind: 2, release: n, from: step.Share, reason: reason}, true, nil
	}
	if st.Done {
		return hold(fmt.Sprintf("complete at share %d (still gated)", step.Share)), false, nil
	}
	if el := now.Sub(st.StepStarted); el < time.Duration(step.Dwell) {
		return hold(fmt.Sprintf("dwell: %v of %v", el, time.Duration(step.Dwell))), false, nil
	}
	if st.Step+1 == len(pl.steps) {
		st.Done = true
		return hold(fmt.Sprintf("complete at share %d (still gated)", step.Share)), true, nil
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
	sf := stateFile{Version: 1, Seq: p.seq + 1, Lineage: p.lineage, Releases: p.state}
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
	p.seq++
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
