package main

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/overload"
)

// The load generator is open-loop: requests arrive as a Poisson process at
// the set rate whatever the service answers, as users do, each with the
// client's own 1 s timeout. Every choice (class, user, client version,
// message, which acknowledged message a read asks for) is drawn from one
// seeded generator in the order requests are issued, so a run with the same
// seed issues the same requests; only the timing is the machine's.

// The request mix by business class: 15 % sends (class 0), 35 % reads,
// 20 % previews, 30 % typing indicators.
var classMix = [4]float64{0.15, 0.35, 0.20, 0.30}

const (
	clientTimeout = time.Second
	maxInFlight   = 4096
	users         = 5000
	maxKept       = 1 << 20 // latencies and acknowledged messages kept per run
)

type loadGen struct {
	api   *apiClient
	seed  uint64
	rate  atomic.Uint64 // requests per second, float64 bits
	smu   sync.Mutex    // orders swaps with issuing: no request joins stats once swapped out
	stats *phaseStats
	dyed  atomic.Pointer[string] // while set, every 10th request is this user's
	acked ackedSet
	wg    sync.WaitGroup
	slots chan struct{}

	stalled  atomic.Int64 // nanoseconds the generator woke up more than 100 ms late, in all
	lastShed atomic.Int64 // unix nanoseconds of the last shed, whatever the phase
}

func newLoadGen(api *apiClient, seed uint64) *loadGen {
	g := &loadGen{api: api, seed: seed, slots: make(chan struct{}, maxInFlight)}
	g.stats = newPhaseStats()
	return g
}

func (g *loadGen) setRate(perSecond float64) { g.rate.Store(math.Float64bits(perSecond)) }

// swap starts counting into a new phaseStats and returns the old one; no
// request is added to the old one after swap returns, so its wg.Wait ends
// once its last request has been answered.
func (g *loadGen) swap() *phaseStats {
	g.smu.Lock()
	defer g.smu.Unlock()
	old := g.stats
	g.stats = newPhaseStats()
	return old
}

// current returns the phaseStats requests are counted into now.
func (g *loadGen) current() *phaseStats {
	g.smu.Lock()
	defer g.smu.Unlock()
	return g.stats
}

// join counts one more request in flight into the current phaseStats.
func (g *loadGen) join() *phaseStats {
	g.smu.Lock()
	defer g.smu.Unlock()
	g.stats.wg.Add(1)
	return g.stats
}

// Run issues requests until ctx ends, then waits for those in flight.
func (g *loadGen) Run(ctx context.Context) {
	defer g.wg.Wait()
	rng := rand.New(rand.NewPCG(g.seed, 0x5eed))
	zipf := rand.NewZipf(rng, 1.1, 8, users-1)
	next := time.Now()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for seq := uint64(1); ; seq++ {
		rate := math.Float64frombits(g.rate.Load())
		if rate <= 0 {
			rate = 1 // idle: look at the rate again soon
			if !wait(ctx, timer, 100*time.Millisecond) {
				return
			}
			next = time.Now()
			continue
		}
		next = next.Add(time.Duration(rng.ExpFloat64() / rate * float64(time.Second)))
		if d := time.Until(next); d > 0 {
			if !wait(ctx, timer, d) {
				return
			}
		} else if d < -100*time.Millisecond {
			g.stalled.Add(int64(-d))
			next = time.Now() // the machine stalled: do not fire a burst to catch up
		}
		if ctx.Err() != nil {
			return
		}
		job := g.draw(rng, zipf, seq)
		select {
		case g.slots <- struct{}{}:
		default:
			st := g.current()
			st.count(func() { st.genDropped++ })
			continue
		}
		st := g.join()
		g.wg.Go(func() {
			defer func() { <-g.slots; st.wg.Done() }()
			g.do(job, st)
		})
	}
}

func wait(ctx context.Context, t *time.Timer, d time.Duration) bool {
	t.Reset(d)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// job is one request to make.
type job struct {
	class  int
	user   string
	client uint8 // 1 or 2: the app version
	msg    outgoing
	issued time.Time
}

func (g *loadGen) draw(rng *rand.Rand, zipf *rand.Zipf, seq uint64) job {
	x, class := rng.Float64(), 0
	for class < 3 && x >= classMix[class] {
		x -= classMix[class]
		class++
	}
	j := job{class: class, user: "u" + strconv.FormatUint(zipf.Uint64(), 10), client: 1, issued: time.Now()}
	if rng.Float64() < 0.4 {
		j.client = 2
	}
	if d := g.dyed.Load(); d != nil && seq%10 == 0 {
		j.user = *d
	}
	switch class {
	case 0:
		j.msg = outgoing{seq: seq, user: j.user, client: j.client}
	case 1:
		m, ok := g.acked.pick(rng)
		if !ok { // nothing to read yet: send instead
			j.class, j.msg = 0, outgoing{seq: seq, user: j.user, client: j.client}
		} else {
			j.msg = m
		}
	case 2:
		j.msg.seq = seq % 997 // which link
	}
	return j
}

func (g *loadGen) do(j job, st *phaseStats) {
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	// The app knows its request's priority as the front computes it (the
	// API's business class, the user's hourly level), so the client-side
	// Gate can drop what the front's last reported level would refuse.
	ctx = overload.WithPriority(ctx, overload.Priority{Business: uint8(j.class), User: overload.UserPriority(j.user, j.issued)})
	var r reply
	var err error
	switch j.class {
	case 0:
		var b []byte
		if b, err = j.msg.encode(); err == nil {
			r, err = g.api.do(ctx, http.MethodPost, "/api/send", j.user, b)
		}
	case 1:
		r, err = g.api.do(ctx, http.MethodGet, "/api/message?id="+url.QueryEscape(j.msg.id())+"&from="+url.QueryEscape(j.msg.user), j.user, nil)
	case 2:
		r, err = g.api.do(ctx, http.MethodGet, "/api/preview?url="+url.QueryEscape("https://example.com/p/"+strconv.FormatUint(j.msg.seq, 10)), j.user, nil)
	case 3:
		r, err = g.api.do(ctx, http.MethodPost, "/api/typing?room=room-"+strconv.Itoa(int(j.issued.UnixNano()%50)), j.user, nil)
	}
	took := time.Since(j.issued)
	gated := errors.Is(err, overload.ErrShed) // refused by the client's Gate, never sent
	ok := false
	var lost, tlvBad, fallback, mismatch bool
	switch {
	case err != nil:
	case r.shed():
	case j.class == 0 && r.code == http.StatusOK:
		var ack SendAck
		if decodeOpts.Unmarshal(r.body, &ack) == nil && ack.ID == j.msg.id() {
			ok = true
			g.acked.add(j.msg)
		}
	case j.class == 1 && r.code == http.StatusNotFound:
		lost = true // an acknowledged write the store does not have
	case j.class == 1 && r.code == http.StatusOK:
		switch err := j.msg.check(r.body, j.client); {
		case errors.Is(err, errContent):
			lost = true
		case err != nil:
			tlvBad = true
		default:
			ok = true
		}
	case j.class == 2 && r.code == http.StatusOK:
		var p Preview
		if decodeOpts.Unmarshal(r.body, &p) == nil {
			ok, fallback = true, p.Fallback
			mismatch = !p.Fallback && p.Lane != r.variant
		}
	case j.class == 3 && r.code == http.StatusNoContent:
		ok = true
	}
	st.count(func() {
		st.sent[j.class]++
		switch {
		case ok:
			st.ok[j.class]++
			if len(st.lat) < maxKept {
				st.lat = append(st.lat, took)
			}
		case gated || err == nil && r.shed():
			st.shed[j.class]++
			st.lastShed = time.Now()
			g.lastShed.Store(st.lastShed.UnixNano())
			if gated {
				st.gated++
			}
		default:
			st.failed[j.class]++
		}
		if j.class == 0 && ok {
			st.acked++
		}
		if lost {
			st.lost++
			if len(st.lostIDs) < 5 {
				st.lostIDs = append(st.lostIDs, j.msg.id())
			}
		}
		if tlvBad {
			st.tlvBad++
		}
		if r.variant != "" {
			st.served++
			if r.variant == "v2" {
				st.v2++
				if len(st.v2Issued) < maxKept {
					st.v2Issued = append(st.v2Issued, j.issued)
				}
			}
		}
		if j.class == 2 && ok {
			if fallback {
				st.fallback++
			} else {
				st.realPreview++
				if j.issued.After(st.lastRealPreview) {
					st.lastRealPreview = j.issued
				}
			}
		}
		if mismatch {
			st.grayMismatch++
		}
		if d := g.dyed.Load(); d != nil && j.user == *d {
			st.dyedSent++
			if r.variant != "" {
				st.dyedServed++
			}
		}
	})
}

// phaseStats is what the clients saw during one phase.
type phaseStats struct {
	mu              sync.Mutex
	wg              sync.WaitGroup // requests issued in the phase and not yet answered
	start           time.Time
	sent            [4]int
	ok              [4]int
	shed            [4]int
	failed          [4]int // errors, timeouts, wrong answers
	lat             []time.Duration
	served          int // answers made by a v1 or v2 handler
	v2              int
	v2Issued        []time.Time
	fallback        int
	realPreview     int
	lastRealPreview time.Time
	grayMismatch    int
	acked           int
	lost            int
	lostIDs         []string
	tlvBad          int
	dyedSent        int
	dyedServed      int // of which a handler ran (each logs debug lines)
	genDropped      int
	gated           int // sheds decided by the client's Gate
	lastShed        time.Time
}

func newPhaseStats() *phaseStats { return &phaseStats{start: time.Now()} }

func (s *phaseStats) count(f func()) { s.mu.Lock(); f(); s.mu.Unlock() }

func (s *phaseStats) total(a *[4]int) int { return a[0] + a[1] + a[2] + a[3] }

// p99 of the successful requests' latency, as the clients measured it.
func (s *phaseStats) p99() time.Duration {
	if len(s.lat) == 0 {
		return 0
	}
	l := slices.Clone(s.lat)
	slices.Sort(l)
	return l[(len(l)*99+99)/100-1]
}

// ackedSet holds every acknowledged message, for reads to ask for and for
// the final sweep.
type ackedSet struct {
	mu   sync.Mutex
	msgs []outgoing
}

// add keeps m; past maxKept messages (a long serving run) it replaces an
// older one, so memory stays bounded.
func (a *ackedSet) add(m outgoing) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.msgs) < maxKept {
		a.msgs = append(a.msgs, m)
		return
	}
	a.msgs[m.seq%maxKept] = m
}

func (a *ackedSet) pick(rng *rand.Rand) (outgoing, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.msgs) == 0 {
		return outgoing{}, false
	}
	return a.msgs[rng.IntN(len(a.msgs))], true
}

func (a *ackedSet) all() []outgoing {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.msgs)
}
