package grayroute

import (
	"bytes"
	"context"
	"fmt"
	"time"
)

// WatchFile polls path every interval (default 1 s) and applies its
// content with Update whenever it changes, until ctx ends; then it returns
// nil. It runs on the caller's goroutine.
//
// Hooks.OnReload runs when a poll changed the Router's config: not on the
// first poll of a file the Router was built from (LoadConfig, then New),
// nor for a rewrite with the same content. Errors (a missing or unreadable
// file, an invalid config, a refused reshuffle) go to Hooks.OnReloadError
// once each time the watch enters that state, not at every poll, and keep
// the last good config. A file deleted and restored is read again: with new
// content it is applied, with the content the Router has it changes
// nothing, and either way a later error is reported again.
func (r *Router) WatchFile(ctx context.Context, path string, every time.Duration) error {
	w := &fileWatch{r: r, path: path}
	return r.poll(ctx, every, w.poll)
}

// WatchState makes this Router follow the plans of a Planner running in
// another process: it polls path, the Planner's StateFile, every interval
// (default 1 s) and applies each plan's saved share, rollbacks included,
// until ctx ends; then it returns nil. It runs on the caller's goroutine.
//
// A saved plan applies only while this Router has the same plan (the same
// steps, canary, control, gate and epoch); until then, for instance while
// its config reload lags the Planner's, the Router keeps its own share, and
// it applies the saved one at the first poll after the configs agree.
// Hooks.OnReload runs when a poll changed a share, errors go to
// Hooks.OnReloadError once each time the watch enters that state. A file
// older than one already applied (its seq, which the Planner raises at
// every write, is lower: an out-of-order copy, a restored backup) is
// ignored and reported; a file of another lineage (a Planner that started
// without a state file) is followed from its first write. A rollback is
// never undone by a saved state of the same plan, whatever its seq: only a
// changed plan (see Tick) restarts it. Do not run a Planner on a Router
// that follows a state file.
func (r *Router) WatchState(ctx context.Context, path string, every time.Duration) error {
	w := &stateWatch{r: r, path: path}
	return r.poll(ctx, every, w.poll)
}

// poll calls f now and then every interval until ctx ends.
func (r *Router) poll(ctx context.Context, every time.Duration, f func()) error {
	if every <= 0 {
		every = time.Second
	}
	f()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			f()
		}
	}
}

// report passes err to OnReloadError unless it is the error last reported
// (*last, "" when the watch is healthy).
func (r *Router) report(last *string, err error) {
	msg := err.Error()
	if msg == *last {
		return
	}
	*last = msg
	r.reloadError(err)
}

type fileWatch struct {
	r       *Router
	path    string
	last    []byte // the content last read
	read    bool   // last holds a content
	lastErr string // the error last reported; "" when healthy
	missing bool   // the last poll could not read the file
}

func (w *fileWatch) poll() {
	data, err := readLimited(w.path)
	if err != nil {
		w.missing = true
		w.r.report(&w.lastErr, err)
		return
	}
	if w.read && !w.missing && bytes.Equal(data, w.last) {
		return // unchanged, and already applied or reported
	}
	w.last, w.read, w.missing = data, true, false
	cfg, err := ParseConfig(data)
	changed := false
	if err == nil {
		changed, err = w.r.update(&cfg, false)
	}
	if err != nil {
		w.r.report(&w.lastErr, err)
		return
	}
	w.lastErr = ""
	if changed && w.r.hooks.OnReload != nil {
		w.r.hooks.OnReload(w.path)
	}
}

type stateWatch struct {
	r       *Router
	path    string
	lastErr string
	seq     uint64 // the highest Seq applied from lineage
	lineage string
}

func (w *stateWatch) poll() {
	data, err := readLimited(w.path)
	var sf *stateFile
	if err == nil {
		sf, err = parseState(w.path, data)
	}
	if err == nil && sf.Lineage == w.lineage && sf.Seq < w.seq {
		err = fmt.Errorf("%w: %s: seq %d is older than seq %d already applied; ignored", ErrBadState, w.path, sf.Seq, w.seq)
	}
	if err != nil {
		w.r.report(&w.lastErr, err)
		return
	}
	w.lastErr, w.seq, w.lineage = "", sf.Seq, sf.Lineage
	changed := false
	for n, st := range sf.Releases {
		pl, ok := w.r.planOf(n)
		if !ok || pl.fp != st.Fingerprint || st.Step >= len(pl.steps) {
			continue // not this Router's plan (yet)
		}
		if _, c := w.r.setShare(n, pl.fp, st.share(pl), st.RolledBack); c {
			changed = true
		}
	}
	w.r.forgetAbsent(func(n string) bool { return sf.Releases[n] != nil })
	if changed && w.r.hooks.OnReload != nil {
		w.r.hooks.OnReload(w.path)
	}
}
