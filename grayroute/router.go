package grayroute

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
)

// Hooks are callbacks of a Router. They run outside every lock and may call
// back into the Router.
type Hooks struct {
	// OnReload runs after WatchFile applied a changed config, or WatchState
	// a changed share.
	OnReload func(path string)
	// OnReloadError receives the errors of WatchFile and WatchState
	// (unreadable file, invalid config or state, refused reshuffle), each
	// once when the watch enters that state. The last good config stays.
	OnReloadError func(err error)
}

// Router decides, per request, which variant of each release serves it.
// Route is safe for concurrent use with everything, never blocks on a
// reload, and always sees one whole configuration.
type Router struct {
	snap  atomic.Pointer[snapshot]
	hooks Hooks

	mu     sync.Mutex // serialises writers
	base   map[string]*release
	names  []string
	shapes map[string]shape
	shares map[string]planShare
	sticky map[string]*stickySet
	epochs map[string]uint32
	sum    [sha256.Size]byte // of the config applied
}

type snapshot struct {
	rels  map[string]*release
	names []string // sorted
}

// shape is what decides bucketing: changing it reshuffles users.
type shape struct {
	salt, hash string
	variants   []string
}

// maxAbsentShares bounds the not-rolled-back shares kept for releases
// absent from the config (rolled-back ones are always kept).
const maxAbsentShares = 1024

type planShare struct {
	fp     string
	share  int
	rolled bool
}

// New compiles cfg into a Router. Every invalid field is an error matching
// ErrInvalidConfig that names its path.
func New(cfg Config) (*Router, error) {
	base, names, err := compile(&cfg)
	if err != nil {
		return nil, err
	}
	r := &Router{
		hooks:  cfg.Hooks,
		shares: map[string]planShare{},
		sticky: map[string]*stickySet{},
		epochs: map[string]uint32{},
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.apply(base, names, nil); err != nil {
		return nil, err
	}
	r.sum = configSum(&cfg)
	return r, nil
}

// Route decides the variant of release for req. It does not allocate
// (except when a sticky release records a key it has not seen) and takes no
// lock (except a sticky release's LRU lock).
func (r *Router) Route(release string, req Request) Decision {
	rel := r.snap.Load().rels[release]
	if rel == nil {
		return Decision{Release: release, Bucket: -1, Reason: ReasonUnknownRelease}
	}
	return rel.decide(&req, nil)
}

// Explain is Route with the trace of every rule tried. It changes nothing:
// sticky keys are looked at but neither recorded nor refreshed.
func (r *Router) Explain(release string, req Request) Explanation {
	rel := r.snap.Load().rels[release]
	if rel == nil {
		return Explanation{Decision: Decision{Release: release, Bucket: -1, Reason: ReasonUnknownRelease}}
	}
	var steps []Step
	d := rel.decide(&req, &steps)
	return Explanation{Decision: d, Steps: steps}
}

// Releases returns the names of the configured releases, sorted.
func (r *Router) Releases() []string {
	return slices.Clone(r.snap.Load().names)
}

// Update validates cfg and swaps it in atomically. On any error the last
// good config stays. An update that changes an existing release's salt,
// hash version or variant order is refused with an error matching
// ErrReshuffle (a *ReshuffleError per release, joined).
func (r *Router) Update(cfg Config) error { _, err := r.update(&cfg, false); return err }

// ForceUpdate is Update that applies reshuffling changes too. Sticky keys of
// a reshuffled release are forgotten.
func (r *Router) ForceUpdate(cfg Config) error { _, err := r.update(&cfg, true); return err }

// update is Update or ForceUpdate; changed is false when cfg is the config
// the Router already has (then nothing is done).
func (r *Router) update(cfg *Config, force bool) (changed bool, err error) {
	base, names, err := compile(cfg)
	if err != nil {
		return false, err
	}
	sum := configSum(cfg)
	r.mu.Lock()
	defer r.mu.Unlock()
	if sum == r.sum {
		return false, nil
	}
	var reshuffled []string
	var errs []error
	for _, n := range names {
		old, ok := r.shapes[n]
		if !ok {
			continue
		}
		if es := reshuffles(n, old, shapeOf(base[n])); len(es) > 0 {
			errs = append(errs, es...)
			reshuffled = append(reshuffled, n)
		}
	}
	if len(errs) > 0 && !force {
		return false, joinErrors(errs)
	}
	if err := r.apply(base, names, reshuffled); err != nil {
		return false, err
	}
	r.sum = sum
	return true, nil
}

// configSum identifies a config's content (Hooks aside), so that applying
// the same config again is seen to change nothing.
func configSum(cfg *Config) [sha256.Size]byte {
	b, _ := json.Marshal(cfg) // a Config always marshals
	return sha256.Sum256(b)
}

func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return &joined{errs}
}

// joined is errors.Join with a one-line message.
type joined struct{ errs []error }

func (j *joined) Error() string {
	var b bytes.Buffer
	for i, e := range j.errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

func (j *joined) Unwrap() []error { return j.errs }

func shapeOf(r *release) shape {
	return shape{salt: r.salt, hash: "v1", variants: r.variants}
}

func reshuffles(name string, old, nw shape) []error {
	var errs []error
	if old.salt != nw.salt {
		errs = append(errs, &ReshuffleError{Release: name, Field: "salt", Old: old.salt, New: nw.salt})
	}
	if old.hash != nw.hash {
		errs = append(errs, &ReshuffleError{Release: name, Field: "hash", Old: old.hash, New: nw.hash})
	}
	// The relative order of the variants both configs have lays out splits.
	keep := func(a, b []string) []string {
		var out []string
		for _, v := range a {
			if slices.Contains(b, v) {
				out = append(out, v)
			}
		}
		return out
	}
	o, n := keep(old.variants, nw.variants), keep(nw.variants, old.variants)
	if !slices.Equal(o, n) {
		errs = append(errs, &ReshuffleError{Release: name, Field: "variants", Old: fmt.Sprint(o), New: fmt.Sprint(n)})
	}
	return errs
}

// apply installs compiled releases; r.mu is held.
func (r *Router) apply(base map[string]*release, names []string, reshuffled []string) error {
	for _, n := range reshuffled {
		delete(r.sticky, n)
		r.epochs[n]++
	}
	sticky := make(map[string]*stickySet, len(r.sticky))
	for _, n := range names {
		b := base[n]
		if b.stickyMax == 0 {
			continue
		}
		s := r.sticky[n]
		if s == nil {
			var err error
			if s, err = newStickySet(b.stickyMax); err != nil {
				return cfgErr("releases."+n+".sticky", err.Error())
			}
		} else if s.c.Len() > b.stickyMax || s.size != b.stickyMax {
			s.c.Resize(b.stickyMax)
			s.size = b.stickyMax
		}
		sticky[n] = s
	}
	r.sticky = sticky
	shapes := make(map[string]shape, len(names))
	for _, n := range names {
		shapes[n] = shapeOf(base[n])
		if _, ok := r.shares[n]; ok && base[n].plan != nil && r.shares[n].fp != base[n].plan.fp {
			delete(r.shares, n) // the plan changed: it starts again
		}
	}
	// The share of a release (or plan) that left the config is kept, so
	// that if it comes back with the same plan, a rollback in particular
	// holds before the Planner's next Tick; at most maxAbsentShares.
	extra := 0
	for n, ps := range r.shares {
		if b := base[n]; b == nil || b.plan == nil {
			if extra++; extra > maxAbsentShares && !ps.rolled {
				delete(r.shares, n)
			}
		}
	}
	r.base, r.names, r.shapes = base, names, shapes
	rels := make(map[string]*release, len(names))
	for _, n := range names {
		rels[n] = r.instance(n)
	}
	r.snap.Store(&snapshot{rels: rels, names: names})
	return nil
}

// instance is the routable copy of base release n with its plan share,
// sticky set and epoch; r.mu is held.
func (r *Router) instance(n string) *release {
	b := base0(r.base[n])
	b.sticky = r.sticky[n]
	share, rolled := -1, false
	if b.plan != nil {
		share = b.plan.steps[0].Share
		if ps, ok := r.shares[n]; ok {
			share, rolled = ps.share, ps.rolled
		}
	}
	return b.withShare(share, rolled, r.epochs[n])
}

func base0(r *release) *release { c := *r; return &c }

// planState is what a Planner reads back: the plan fingerprint of release n
// and whether it exists.
func (r *Router) planOf(n string) (*compiledPlan, bool) {
	rel := r.snap.Load().rels[n]
	if rel == nil || rel.plan == nil {
		return nil, false
	}
	return rel.plan, true
}

// setShare applies a plan's share to release n if its plan still has
// fingerprint fp (ok), and reports whether that changed the routing. A
// rollback forgets the release's sticky keys.
func (r *Router) setShare(n, fp string, share int, rolled bool) (ok, changed bool) {
	r.mu.Lock()
	b := r.base[n]
	if b == nil || b.plan == nil || b.plan.fp != fp {
		r.mu.Unlock()
		return false, false
	}
	prev, had := r.shares[n]
	if had && prev.share == share && prev.rolled == rolled {
		r.mu.Unlock()
		return true, false
	}
	if had && prev.rolled && !rolled && prev.fp == fp {
		// A rollback sticks for its plan: a state saved before it (an old
		// copy of the state file) cannot reopen the canary.
		r.mu.Unlock()
		return true, false
	}
	if !had && share == b.plan.steps[0].Share && !rolled {
		// the share the plan starts at, which the Router already applies
		r.shares[n] = planShare{fp: fp, share: share}
		r.mu.Unlock()
		return true, false
	}
	rollback := rolled && !(had && prev.rolled)
	if rollback {
		r.epochs[n]++
	}
	r.shares[n] = planShare{fp: fp, share: share, rolled: rolled}
	old := r.snap.Load()
	rels := maps.Clone(old.rels)
	rels[n] = r.instance(n)
	r.snap.Store(&snapshot{rels: rels, names: old.names})
	s := r.sticky[n]
	r.mu.Unlock()
	if rollback && s != nil {
		s.c.Purge()
	}
	return true, true
}

// forgetAbsent drops the kept share of every release absent from the
// config (or without a plan) for which keep is false: a Planner calls it
// when it forgets an absent plan, a follower for the releases its state
// file no longer lists, so a release that comes back much later starts
// its plan again like the Planner does.
func (r *Router) forgetAbsent(keep func(string) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for n := range r.shares {
		if b := r.base[n]; (b == nil || b.plan == nil) && !keep(n) {
			delete(r.shares, n)
		}
	}
}

func (r *Router) reloadError(err error) {
	if r.hooks.OnReloadError != nil {
		r.hooks.OnReloadError(err)
	}
}

// releaseOf is the routable release n of the current snapshot, or nil.
func (r *Router) releaseOf(n string) *release {
	return r.snap.Load().rels[n]
}
