package breaker

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// ThrottleConfig configures a Throttle. The zero value is Google SRE's
// recommendation: K = 2 over a 2-minute window.
type ThrottleConfig struct {
	// K is the multiplier of accepts: the throttle rejects once requests
	// exceed K × accepts. Lower is more aggressive; 1.1 lets about one
	// backend rejection through per ten accepts. Zero means 2 (SRE book,
	// "Handling Overload"). At least 1.
	K float64
	// Window is how far back requests and accepts count. Zero means 2 min.
	Window time.Duration
	// Buckets is the window's granularity. Zero means 120 (1 s buckets with
	// the default window). At most MaxBuckets.
	Buckets int
	// MinRequests keeps the throttle from rejecting until the window holds
	// that many requests. Zero means no minimum.
	MinRequests int
	// Clock is the time source; nil means time.Now.
	Clock Clock
}

// Throttle is Google SRE's adaptive client-side throttling: a client that
// sees its backend reject most requests stops sending the excess itself,
// rejecting locally with probability
//
//	max(0, (requests − K·accepts) / (requests + 1))
//
// over the window, where requests counts every Allow (including local
// rejections) and accepts counts Record(true). It is lock-free and safe for
// concurrent use; build it with NewThrottle.
//
// A request counts when Allow lets it go, its accept only when Record
// reports it, so requests in flight count as not (yet) accepted. While the
// window holds few requests (right after a silence longer than the window)
// a burst of concurrent requests can therefore have more than K times as
// many requests as accepts in flight, and the formula sheds part of it
// even though the backend accepts everything. Set MinRequests to the
// concurrency a burst may reach to keep the throttle quiet until the
// window holds that many requests. Sequential callers (each Record before
// the next Allow) of a backend that accepts everything are never shed.
//
// To stay cheap under load it reads the clock only every stride-th Allow,
// where the stride (1 to 64) shrinks as soon as calls grow sparse: between
// two reads less than a sixteenth of a bucket passes. An Allow that might
// reject always reads the clock first.
type Throttle struct {
	k       float64
	min     uint64
	period  int64 // bucket length in ns
	n       uint64
	clock   Clock
	epoch   time.Time
	reqs    atomic.Uint64 // cumulative requests
	accepts atomic.Uint64 // cumulative accepts
	cur     atomic.Uint64 // current bucket number since epoch
	stride  atomic.Uint64 // the clock is read when reqs%stride == 0
	lastNs  atomic.Int64  // time of the last clock read, ns since epoch
	rotate  sync.Mutex
	// snaps[i%(n+1)] holds the cumulative counters at the start of bucket
	// i; the window of bucket c starts at snaps[(c-n+1)%(n+1)]. One spare
	// slot keeps the slot a reader uses from being overwritten by the next
	// rotation.
	snaps []snap
	start atomic.Pointer[snap] // the current window's start slot
}

type snap struct{ reqs, accepts atomic.Uint64 }

// NewThrottle returns a Throttle, or an error naming an impossible field.
func NewThrottle(cfg ThrottleConfig) (*Throttle, error) {
	switch {
	case math.IsNaN(cfg.K) || cfg.K < 0 || (cfg.K > 0 && cfg.K < 1) || math.IsInf(cfg.K, 0):
		return nil, fmt.Errorf("breaker: ThrottleConfig.K %v: want 0 (default) or a finite value >= 1", cfg.K)
	case cfg.Window < 0:
		return nil, fmt.Errorf("breaker: negative ThrottleConfig.Window %v", cfg.Window)
	case cfg.Buckets < 0 || cfg.Buckets > MaxBuckets:
		return nil, fmt.Errorf("breaker: ThrottleConfig.Buckets %d outside [0, %d]", cfg.Buckets, MaxBuckets)
	case cfg.MinRequests < 0:
		return nil, fmt.Errorf("breaker: negative ThrottleConfig.MinRequests %d", cfg.MinRequests)
	}
	t := &Throttle{k: cfg.K, min: uint64(cfg.MinRequests), clock: cfg.Clock}
	if t.k == 0 {
		t.k = 2
	}
	w, n := cfg.Window, cfg.Buckets
	if w == 0 {
		w = 2 * time.Minute
	}
	if n == 0 {
		n = 120
	}
	if time.Duration(n) > w {
		return nil, fmt.Errorf("breaker: ThrottleConfig.Window %v shorter than %d buckets of 1ns", w, n)
	}
	t.period = int64(w) / int64(n)
	t.n = uint64(n)
	t.snaps = make([]snap, n+1)
	t.stride.Store(1)
	t.start.Store(&t.snaps[2%(n+1)])
	t.epoch = t.now()
	return t, nil
}

func (t *Throttle) now() time.Time {
	if t.clock == nil {
		return time.Now()
	}
	return t.clock.Now()
}

// Allow counts a request and reports whether to send it. A false result is
// a local rejection: do not send, and do not call Record.
func (t *Throttle) Allow() bool {
	r := t.reqs.Add(1)
	if r&(t.stride.Load()-1) == 0 {
		t.tick()
	}
	// The decision uses the counts before this request, as the SRE book's
	// client does: the first request of a fresh window always goes.
	p := t.probability(r - 1)
	if p <= 0 {
		return true
	}
	// About to reject on figures that may be a stride old: refresh them.
	t.tick()
	p = t.probability(t.reqs.Load() - 1)
	return p <= 0 || rand.Float64() >= p
}

// Record reports the outcome of a request that Allow let through: accepted
// is false when the backend refused it for overload (or failed it, if such
// failures should slow the client down too).
func (t *Throttle) Record(accepted bool) {
	if accepted {
		t.accepts.Add(1)
	}
}

// RejectProbability returns the current probability that Allow rejects.
func (t *Throttle) RejectProbability() float64 {
	t.tick()
	return max(0, t.probability(t.reqs.Load()))
}

// probability is the SRE formula over the window ending at the current
// bucket, with r the cumulative request count before the request being
// decided. r may be behind the window's start snapshot: a rotation done on
// behalf of this very request (or of a concurrent one) snapshots a count
// that already includes it, and then no request of the window precedes it.
func (t *Throttle) probability(r uint64) float64 {
	s := t.start.Load()
	var reqs uint64
	if base := s.reqs.Load(); r > base {
		reqs = r - base
	}
	if reqs < t.min || reqs == 0 {
		return 0
	}
	acc := t.accepts.Load() - s.accepts.Load()
	return (float64(reqs) - t.k*float64(acc)) / float64(reqs+1)
}

// tick reads the clock, adapts the stride and starts new buckets.
func (t *Throttle) tick() {
	ns := int64(t.now().Sub(t.epoch))
	if ns < 0 {
		ns = 0
	}
	last := t.lastNs.Swap(ns)
	stride := t.stride.Load()
	switch gap := ns - last; {
	case gap > t.period/16 && stride > 1:
		t.stride.Store(1)
	case gap < t.period/256 && stride < 64:
		t.stride.Store(stride * 2)
	}
	b := uint64(ns / t.period)
	if b <= t.cur.Load() || !t.rotate.TryLock() {
		return
	}
	c := t.cur.Load()
	if b > c {
		r, a := t.reqs.Load(), t.accepts.Load()
		from := c + 1
		if b-c > t.n+1 {
			from = b - t.n
		}
		for i := from; i <= b; i++ {
			s := &t.snaps[i%(t.n+1)]
			s.reqs.Store(r)
			s.accepts.Store(a)
		}
		t.start.Store(&t.snaps[(b+2)%(t.n+1)]) // start of bucket b-n+1 (-n ≡ 1 mod n+1)
		t.cur.Store(b)
	}
	t.rotate.Unlock()
}
