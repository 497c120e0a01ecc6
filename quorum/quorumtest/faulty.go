package quorumtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/quorum"
)

// Errors a Faulty replica returns. Each is wrapped with the replica's name,
// so match them with errors.Is.
var (
	// ErrDown is returned at once by a replica marked down with SetDown: it is
	// unreachable, and the call never reached it.
	ErrDown = errors.New("quorumtest: replica down")
	// ErrCrashed is returned by calls to a crashed replica, and by calls that
	// were in flight when it crashed (a Put among those may have been applied).
	ErrCrashed = errors.New("quorumtest: replica crashed")
	// ErrInjected is the default injected error (Faults.ErrorP and
	// Faults.LostReplyP).
	ErrInjected = errors.New("quorumtest: injected fault")
	// ErrNilReplica is returned by every call of a Faulty that wraps nil.
	ErrNilReplica = errors.New("quorumtest: nil replica")
)

// Faults are the random faults a Faulty replica injects into each call. The
// zero Faults injects nothing. Probabilities are in [0, 1]; durations are
// non-negative and at most MaxFaultDelay.
type Faults struct {
	// Latency is added to every call.
	Latency time.Duration
	// Jitter adds a uniformly drawn extra delay in [0, Jitter) to every call.
	Jitter time.Duration
	// TailP is the share of calls that get TailDelay on top of Latency: a
	// tail-heavy replica is, for example, TailP 0.1 and TailDelay 50ms.
	TailP     float64
	TailDelay time.Duration
	// ReplyDelayP is the share of delayed calls whose delay comes after the
	// wrapped replica has handled the call (a slow reply) rather than
	// before it (a slow request). A caller that gives up during a slow
	// reply sees an error although a Put was applied; a caller that gives
	// up during a slow request leaves the replica untouched.
	ReplyDelayP float64
	// ErrorP is the share of calls that fail with Err before reaching the
	// wrapped replica (certainly not applied).
	ErrorP float64
	// LostReplyP is the share of calls that reach the wrapped replica but
	// whose reply is lost: the caller gets Err although a Put may have been
	// stored.
	LostReplyP float64
	// Err is the injected error; nil means ErrInjected.
	Err error
}

// MaxFaultDelay bounds every delay in Faults, so a typo cannot hang a test
// for hours.
const MaxFaultDelay = time.Minute

func (f Faults) validate() error {
	probs := []struct {
		name string
		p    float64
	}{{"TailP", f.TailP}, {"ReplyDelayP", f.ReplyDelayP}, {"ErrorP", f.ErrorP}, {"LostReplyP", f.LostReplyP}}
	for _, p := range probs {
		if !(p.p >= 0 && p.p <= 1) { // also rejects NaN
			return fmt.Errorf("quorumtest: %s %v outside [0, 1]", p.name, p.p)
		}
	}
	durs := []struct {
		name string
		d    time.Duration
	}{{"Latency", f.Latency}, {"Jitter", f.Jitter}, {"TailDelay", f.TailDelay}}
	for _, d := range durs {
		if d.d < 0 || d.d > MaxFaultDelay {
			return fmt.Errorf("quorumtest: %s %v outside [0, %v]", d.name, d.d, MaxFaultDelay)
		}
	}
	return nil
}

// Options configure Wrap. The zero Options are usable.
type Options struct {
	// Name identifies the replica in errors; default "replica".
	Name string
	// Seed seeds the replica's random number generator: the same seed and
	// the same sequence of calls draw the same faults.
	Seed uint64
	// After returns a channel that receives when d has passed, as
	// time.After does (the default, which testing/synctest bubbles turn
	// into fake time). Tests that drive time by hand inject their own.
	// Delays end early when the caller's context ends or the replica
	// crashes; the wrapper never derives contexts from the caller's.
	After func(d time.Duration) <-chan time.Time
	// Zone is reported by Zone; default: the wrapped replica's zone, if it
	// implements quorum.Zoned.
	Zone string
	// ReportHealth makes Healthy report down, crashed and paused replicas
	// as unhealthy, so that a quorum client skips them and fails fast.
	// Without it Healthy always reports true and the client meets the
	// faults: timeouts, blocked calls, errors.
	ReportHealth bool
}

// Stats counts what a Faulty replica did. All counts are cumulative.
type Stats struct {
	Gets, Puts int64 // calls received
	Stored     int64 // Puts that stored their record
	Failed     int64 // calls that returned an error
	Delayed    int64 // calls that got a non-zero delay
	Paused     int64 // calls that waited for Resume
}

// Faulty wraps a Replica and injects faults: fixed and tail latency, errors,
// lost replies, being down, pauses (calls block until Resume), data loss
// (Forget, Wipe) and crashes with restarts. Faults are drawn from a seeded
// generator. A Faulty is safe for concurrent use and owns no goroutine.
//
// Data loss is simulated inside the wrapper, so it works over any Replica: a
// forgotten key (or every key, after Wipe) is served from then on by a
// small in-memory store in the wrapper that starts empty.
type Faulty struct {
	inner        quorum.Replica
	name         string
	zone         string
	timer        func(d time.Duration) <-chan time.Time
	reportHealth bool
	healthy      atomic.Bool // kept up to date under mu

	mu      sync.Mutex
	rng     *rand.Rand
	faults  Faults
	down    bool
	pause   chan struct{} // non-nil while paused; closed by Resume
	life    context.Context
	kill    context.CancelCauseFunc
	crashed bool
	wiped   bool                     // every key is served from overlay
	overlay map[string]quorum.Record // keys that lost their data
	stats   Stats
}

// Wrap returns a Faulty around r that injects no fault until told to.
func Wrap(r quorum.Replica, opts Options) *Faulty {
	if opts.Name == "" {
		opts.Name = "replica"
	}
	if opts.After == nil {
		opts.After = time.After
	}
	if z, ok := r.(quorum.Zoned); ok && opts.Zone == "" {
		opts.Zone = z.Zone()
	}
	f := &Faulty{
		inner:        r,
		name:         opts.Name,
		zone:         opts.Zone,
		timer:        opts.After,
		reportHealth: opts.ReportHealth,
		rng:          rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
	}
	f.life, f.kill = context.WithCancelCause(context.Background())
	f.healthy.Store(true)
	return f
}

var _ interface {
	quorum.Replica
	quorum.Zoned
	quorum.HealthReporter
	quorum.Versioner
} = (*Faulty)(nil)

// Zone implements quorum.Zoned.
func (f *Faulty) Zone() string { return f.zone }

// updateHealth recomputes the health flag; f.mu is held.
func (f *Faulty) updateHealth() {
	f.healthy.Store(!f.down && !f.crashed && f.pause == nil)
}

// Inner returns the wrapped replica.
func (f *Faulty) Inner() quorum.Replica { return f.inner }

// StoreID forwards the wrapped replica's quorum.StoreIdentifier identity
// ("" if it has none), so that quorum.New refuses two wrappers of one store.
func (f *Faulty) StoreID() string {
	if si, ok := f.inner.(quorum.StoreIdentifier); ok {
		return si.StoreID()
	}
	return ""
}

// Name returns the name given in Options.
func (f *Faulty) Name() string { return f.name }

// SetFaults replaces the random faults. It returns an error, and changes
// nothing, when a probability or duration is out of range.
func (f *Faulty) SetFaults(faults Faults) error {
	if err := faults.validate(); err != nil {
		return err
	}
	f.mu.Lock()
	f.faults = faults
	f.mu.Unlock()
	return nil
}

// Faults returns the current random faults.
func (f *Faulty) Faults() Faults {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.faults
}

// SetDown marks the replica unreachable (true) or reachable again (false).
// Calls made while down fail at once with ErrDown; calls already in flight
// finish normally.
func (f *Faulty) SetDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.updateHealth()
	f.mu.Unlock()
}

// Pause makes calls block before they reach the replica, as if its process
// were stopped, until Resume, a crash, or the caller's context ends (then the
// call fails without having been applied). Pausing a paused replica does
// nothing.
func (f *Faulty) Pause() {
	f.mu.Lock()
	if f.pause == nil {
		f.pause = make(chan struct{})
	}
	f.updateHealth()
	f.mu.Unlock()
}

// Resume releases the calls blocked by Pause.
func (f *Faulty) Resume() {
	f.mu.Lock()
	if f.pause != nil {
		close(f.pause)
		f.pause = nil
	}
	f.updateHealth()
	f.mu.Unlock()
}

// Crash stops the replica: calls in flight fail with ErrCrashed as soon as
// they wait or return (a Put among them may have been applied), and new calls
// fail with ErrCrashed until Restart. Stored data survives, as on a replica
// with durable storage; combine with Wipe or Forget for amnesia.
func (f *Faulty) Crash() {
	f.mu.Lock()
	if !f.crashed {
		f.crashed = true
		f.kill(ErrCrashed)
	}
	f.updateHealth()
	f.mu.Unlock()
}

// Restart brings a crashed replica back. It does not clear Pause or SetDown.
func (f *Faulty) Restart() {
	f.mu.Lock()
	if f.crashed {
		f.crashed = false
		f.life, f.kill = context.WithCancelCause(context.Background())
	}
	f.updateHealth()
	f.mu.Unlock()
}

// Forget makes the replica lose what it stored for keys: from now on each of
// them reads as missing until written again.
func (f *Faulty) Forget(keys ...string) {
	f.mu.Lock()
	if f.overlay == nil {
		f.overlay = make(map[string]quorum.Record)
	}
	for _, k := range keys {
		f.overlay[k] = quorum.Record{}
	}
	f.mu.Unlock()
}

// Wipe makes the replica lose everything it stored, as a restart without
// durable storage does.
func (f *Faulty) Wipe() {
	f.mu.Lock()
	f.wiped = true
	f.overlay = make(map[string]quorum.Record)
	f.mu.Unlock()
}

// Healthy implements quorum.HealthReporter. With Options.ReportHealth it
// reports whether the replica is reachable: not down, not crashed and not
// paused; without it, it always reports true. It is one atomic load.
func (f *Faulty) Healthy() bool {
	return !f.reportHealth || f.healthy.Load()
}

// Stats returns the replica's counters.
func (f *Faulty) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// plan is what the faults decided for one call.
type plan struct {
	delay      time.Duration
	afterApply bool // the delay is on the reply
	failBefore bool
	loseReply  bool
	err        error
	pause      chan struct{}
	life       context.Context
}

// begin draws the faults of one call, or fails it at once.
func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}

func (f *Faulty) begin(put bool) (plan, error) {
	if f.inner == nil {
		return plan{}, ErrNilReplica
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if put {
		f.stats.Puts++
	} else {
		f.stats.Gets++
	}
	switch {
	case f.crashed:
		f.stats.Failed++
		return plan{}, fmt.Errorf("quorumtest: %s: %w", f.name, ErrCrashed)
	case f.down:
		f.stats.Failed++
		return plan{}, fmt.Errorf("quorumtest: %s: %w", f.name, ErrDown)
	}
	fl := f.faults
	p := plan{delay: fl.Latency, err: fl.Err, pause: f.pause, life: f.life}
	if p.err == nil {
		p.err = ErrInjected
	}
	// Draw every number on every call, so that the faults of call n depend
	// only on the seed and n, not on which faults are switched on.
	jit, tail, where, fail, lose := f.rng.Float64(), f.rng.Float64(), f.rng.Float64(), f.rng.Float64(), f.rng.Float64()
	if fl.Jitter > 0 {
		p.delay += time.Duration(jit * float64(fl.Jitter))
	}
	if tail < fl.TailP {
		p.delay += fl.TailDelay
	}
	if p.delay > 0 {
		f.stats.Delayed++
		p.afterApply = where < fl.ReplyDelayP
	}
	p.failBefore = fail < fl.ErrorP
	p.loseReply = lose < fl.LostReplyP
	if p.pause != nil {
		f.stats.Paused++
	}
	return p, nil
}

func (f *Faulty) end(err error, stored bool) {
	if err == nil && !stored {
		return
	}
	f.mu.Lock()
	if err != nil {
		f.stats.Failed++
	}
	if stored {
		f.stats.Stored++
	}
	f.mu.Unlock()
}

// wait sleeps d, or blocks while paused, failing when ctx ends or the
// replica crashes. It selects on the channels instead of deriving a context:
// a derived context of a caller's custom Context starts a goroutine that can
// outlive the call.
func (f *Faulty) wait(ctx context.Context, p plan, d time.Duration, paused bool) error {
	var release <-chan struct{}
	var timer <-chan time.Time
	if paused {
		release = p.pause
	} else {
		timer = f.timer(d)
	}
	select {
	case <-release:
		return nil
	case <-timer:
		return nil
	case <-p.life.Done():
		return fmt.Errorf("quorumtest: %s: %w", f.name, ErrCrashed)
	case <-ctx.Done():
		return fmt.Errorf("quorumtest: %s: %w", f.name, ctx.Err())
	}
}

// before runs the part of a call that comes before the replica handles it.
func (f *Faulty) before(ctx context.Context, p plan) error {
	if p.pause != nil {
		if err := f.wait(ctx, p, 0, true); err != nil {
			return err
		}
	}
	if p.delay > 0 && !p.afterApply {
		if err := f.wait(ctx, p, p.delay, false); err != nil {
			return err
		}
	}
	if p.failBefore {
		return fmt.Errorf("quorumtest: %s: %w", f.name, p.err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("quorumtest: %s: %w", f.name, err)
	}
	if p.life.Err() != nil {
		return fmt.Errorf("quorumtest: %s: %w", f.name, ErrCrashed)
	}
	return nil
}

// after runs the part of a call that comes after the replica handled it.
func (f *Faulty) after(ctx context.Context, p plan) error {
	if p.delay > 0 && p.afterApply {
		if err := f.wait(ctx, p, p.delay, false); err != nil {
			return err
		}
	}
	if p.life.Err() != nil {
		return fmt.Errorf("quorumtest: %s: %w", f.name, ErrCrashed)
	}
	if p.loseReply {
		return fmt.Errorf("quorumtest: %s: %w", f.name, p.err)
	}
	return nil
}

// lost returns the overlay record of key and whether key has lost its data.
func (f *Faulty) lost(key string) (quorum.Record, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.overlay[key]
	if ok || f.wiped {
		return cloneRecord(rec), true
	}
	return quorum.Record{}, false
}

// putLost stores rec in the overlay if key has lost its data and rec is
// newer; handled reports whether the overlay owns key.
func (f *Faulty) putLost(key string, rec quorum.Record) (stored, handled bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, ok := f.overlay[key]
	if !ok && !f.wiped {
		return false, false
	}
	if !rec.Version.Newer(cur.Version) {
		return false, true
	}
	f.overlay[key] = cloneRecord(rec)
	return true, true
}

func cloneRecord(r quorum.Record) quorum.Record {
	if r.Value != nil {
		r.Value = append(make([]byte, 0, len(r.Value)), r.Value...)
	}
	return r
}

// Get implements quorum.Replica with the injected faults.
func (f *Faulty) Get(ctx context.Context, key string) (quorum.Record, error) {
	ctx = orBackground(ctx)
	p, err := f.begin(false)
	if err != nil {
		return quorum.Record{}, err
	}
	if err := f.before(ctx, p); err != nil {
		f.end(err, false)
		return quorum.Record{}, err
	}
	rec, handled := f.lost(key)
	if !handled {
		rec, err = f.inner.Get(ctx, key)
	}
	if err == nil {
		err = f.after(ctx, p)
	}
	f.end(err, false)
	if err != nil {
		return quorum.Record{}, err
	}
	return rec, nil
}

// Version implements quorum.Versioner with the faults of a Get: it uses the
// wrapped replica's Version if it has one, and Get otherwise.
func (f *Faulty) Version(ctx context.Context, key string) (quorum.Version, error) {
	ctx = orBackground(ctx)
	p, err := f.begin(false)
	if err != nil {
		return quorum.Version{}, err
	}
	if err := f.before(ctx, p); err != nil {
		f.end(err, false)
		return quorum.Version{}, err
	}
	var ver quorum.Version
	rec, handled := f.lost(key)
	switch vr, ok := f.inner.(quorum.Versioner); {
	case handled:
		ver = rec.Version
	case ok:
		ver, err = vr.Version(ctx, key)
	default:
		rec, err = f.inner.Get(ctx, key)
		ver = rec.Version
	}
	if err == nil {
		err = f.after(ctx, p)
	}
	f.end(err, false)
	if err != nil {
		return quorum.Version{}, err
	}
	return ver, nil
}

// Put implements quorum.Replica with the injected faults. When it returns
// an error after the record reached the wrapped replica (a lost or late
// reply, a crash in flight), the record may have been stored.
func (f *Faulty) Put(ctx context.Context, key string, rec quorum.Record) (bool, error) {
	ctx = orBackground(ctx)
	p, err := f.begin(true)
	if err != nil {
		return false, err
	}
	if err := f.before(ctx, p); err != nil {
		f.end(err, false)
		return false, err
	}
	stored, handled := f.putLost(key, rec)
	if !handled {
		stored, err = f.inner.Put(ctx, key, rec)
	}
	if err == nil {
		err = f.after(ctx, p)
	}
	f.end(err, stored)
	if err != nil {
		return false, err
	}
	return stored, nil
}
