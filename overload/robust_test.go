package overload

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// closeByAdmit drives c's level closed with Admit+ObserveQueueTime (200 ms
// waits at 400/s), as the adversary review's repro did.
func closeByAdmit(t *testing.T, c *Controller, clk *fakeClock) {
	t.Helper()
	for w := 0; w < 10 && c.Level().IsOpen(); w++ {
		for i := range 400 {
			if c.Admit(Priority{Business: uint8(i % 4), User: uint8(i % 128)}) == nil {
				c.ObserveQueueTime(200 * time.Millisecond)
			}
			clk.Advance(time.Second / 400)
		}
	}
	require.False(t, c.Level().IsOpen(), "level never closed")
}

// A clock stepping backwards (an injected wall clock corrected by NTP) used
// to freeze the level until WindowRequests arrivals: 299 of 6,000 light
// requests were shed after a 1 h step back. Random step sizes and rates.
func TestClockBackwardsStepReanchors(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 5))
	for i := range 6 {
		clk := newFakeClock()
		c, err := New(Config{MaxConcurrency: 8, Clock: clk})
		require.NoError(t, err)
		closeByAdmit(t, c, clk)
		step := time.Duration(2+rng.Int64N(1000)) * time.Millisecond
		if i%2 == 1 {
			step = time.Duration(1+rng.Int64N(48)) * time.Hour
		}
		clk.Advance(-step)
		gap := time.Duration(30+rng.Int64N(200)) * time.Millisecond // light load
		shedLate := 0
		var elapsed time.Duration
		for j := range 400 {
			p := Priority{Business: uint8(j % 4), User: uint8(j % 128)}
			if c.Admit(p) != nil {
				if elapsed > 5*time.Second {
					shedLate++
				}
			} else {
				c.ObserveQueueTime(0)
			}
			clk.Advance(gap)
			elapsed += gap
		}
		assert.Zero(t, shedLate, "case %d: step back %v, gap %v: shed after 5 s of light load", i, step, gap)
		assert.True(t, c.Level().IsOpen(), "case %d", i)
	}
}

// nanotime never decreases under any schedule of steps, and time moves on
// by the clock's forward steps after a re-anchor.
func TestNanotimeMonotone(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	clk := newFakeClock()
	s := newClockSource(clk)
	last := s.nanotime()
	for range 10000 {
		var d time.Duration
		switch rng.IntN(4) {
		case 0:
			d = -time.Duration(rng.Int64N(int64(48 * time.Hour)))
		case 1:
			d = -time.Duration(rng.Int64N(int64(2 * time.Millisecond)))
		default:
			d = time.Duration(rng.Int64N(int64(time.Second)))
		}
		clk.Advance(d)
		now := s.nanotime()
		require.GreaterOrEqual(t, now, last)
		if d > 0 {
			// forward steps after a re-anchor count in full (jitter below
			// the tolerance may absorb up to that much).
			require.GreaterOrEqual(t, now-last, int64(d)-backStepTolerance)
		}
		last = now
	}
}

// Huge TTL or ProbeInterval used to wrap now+ttl negative: the Gate shed 0
// of 100 doomed requests. Random large values up to MaxInt64.
func TestGateHugeDurationsSaturate(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	values := []time.Duration{time.Hour, math.MaxInt64, math.MaxInt64 - 1}
	for range 20 {
		values = append(values, time.Duration(rng.Int64N(math.MaxInt64)))
	}
	for _, v := range values {
		for _, cfg := range []GateConfig{{TTL: v}, {ProbeInterval: v}, {TTL: v, ProbeInterval: v}} {
			clk := newFakeClock()
			cfg.Clock = clk
			g, err := NewGate(cfg)
			require.NoError(t, err)
			g.Observe("d", Level{Business: 1})
			shed := 0
			for range 100 {
				if g.Allow("d", Priority{Business: 3}) != nil {
					shed++
				}
				clk.Advance(time.Millisecond)
			}
			// At most the one probe, plus one per ProbeInterval elapsed.
			assert.GreaterOrEqual(t, shed, 99-int(100*time.Millisecond/min(v, 100*time.Millisecond)), "%+v", cfg)
			_, ok := g.Level("d")
			if cfg.TTL > time.Second {
				assert.True(t, ok, "%+v: level forgotten", cfg)
			}
		}
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	ds := []time.Duration{0, -1, 1, time.Second - 1, time.Second, time.Second + 1, math.MaxInt64, math.MinInt64}
	for range 1000 {
		ds = append(ds, time.Duration(rng.Int64()))
	}
	for _, d := range ds {
		s := retryAfterSeconds(d)
		require.GreaterOrEqual(t, s, int64(0), "%v", d)
		if d > 0 {
			require.GreaterOrEqual(t, float64(s), d.Seconds()-1e-9, "%v", d)
			require.Less(t, float64(s), d.Seconds()+1, "%v", d)
		}
	}
}

// The Middleware's Retry-After at the largest Window allowed is positive.
func TestMiddlewareRetryAfterMaxWindow(t *testing.T) {
	c, err := New(Config{MaxConcurrency: 1, MaxQueue: NoQueue, Window: MaxWindow})
	require.NoError(t, err)
	p, err := c.Acquire(context.Background(), Priority{})
	require.NoError(t, err)
	defer p.Release()
	h := Middleware(c, nil)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	n, err := strconv.ParseInt(rec.Header().Get("Retry-After"), 10, 64)
	require.NoError(t, err)
	assert.Equal(t, int64(60), n)
}

// Absurd reported waits used to overflow the window's sum: 8 reports of
// MaxInt64/4 gave a mean of -1 ns and "not overloaded".
func TestObserveQueueTimeHugeWaits(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for range 20 {
		clk := newFakeClock()
		var got []WindowStats
		c, err := New(Config{Clock: clk, Hooks: Hooks{OnWindow: func(s WindowStats) { got = append(got, s) }}})
		require.NoError(t, err)
		n := 1 + rng.IntN(64)
		for range n {
			require.NoError(t, c.Admit(Priority{}))
			c.ObserveQueueTime(time.Duration(math.MaxInt64 - rng.Int64N(math.MaxInt64/2)))
		}
		clk.Advance(time.Second)
		c.maybeRoll(c.nanotime())
		require.NotEmpty(t, got)
		assert.True(t, got[0].Overloaded, "%+v", got[0])
		assert.Greater(t, got[0].MeanQueue, time.Second)
	}
}

func TestNoQueueRefusesAtOnce(t *testing.T) {
	c, err := New(Config{MaxConcurrency: 1, MaxQueue: NoQueue})
	require.NoError(t, err)
	p, err := c.Acquire(context.Background(), Priority{})
	require.NoError(t, err)
	for b := range 4 {
		_, err := c.Acquire(context.Background(), Priority{Business: uint8(b)})
		var se *ShedError
		require.True(t, errors.As(err, &se), "business %d: %v", b, err)
		assert.Equal(t, ReasonQueueFull, se.Reason)
		assert.Zero(t, c.Waiting())
	}
	p.Release()
	p, err = c.Acquire(context.Background(), Priority{})
	require.NoError(t, err)
	p.Release()
}

func TestNewRefusesAbsurdDurations(t *testing.T) {
	bad := []struct {
		cfg   Config
		field string
	}{
		{Config{Window: time.Nanosecond}, "Window"},
		{Config{Window: MinWindow - 1}, "Window"},
		{Config{Window: MaxWindow + 1}, "Window"},
		{Config{Window: math.MaxInt64}, "Window"},
		{Config{QueueThreshold: time.Hour}, "QueueThreshold"},
		{Config{QueueThreshold: MaxQueueThreshold + 1}, "QueueThreshold"},
		{Config{Window: 10 * time.Millisecond, QueueThreshold: 20 * time.Millisecond}, "QueueThreshold"},
		{Config{QueueThreshold: 50 * time.Millisecond, Window: 40 * time.Millisecond}, "QueueThreshold"},
		{Config{MaxQueue: -2}, "MaxQueue"},
	}
	for _, b := range bad {
		_, err := New(b.cfg)
		require.Error(t, err, "%+v", b.cfg)
		assert.Contains(t, err.Error(), b.field)
	}
	for _, ok := range []Config{{Window: MinWindow, QueueThreshold: MinWindow}, {Window: MaxWindow, QueueThreshold: MaxQueueThreshold}, {MaxQueue: NoQueue}} {
		_, err := New(ok)
		require.NoError(t, err, "%+v", ok)
	}
}

// After an idle gap the server reopens; a Gate in front must not keep the
// old level either. With the former 5 s TTL, a 2–5 s gap left the Gate
// refusing at the client. Random gaps, depths and round trips: at most
// three requests after the gap are judged by the old level at the server,
// and the Gate refuses only while their (stale) answers are its latest,
// until its probe's answer: within two round trips (plus a probe interval).
func TestGateAndServerReopenAfterIdle(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 23))
	for i := range 10 {
		clk := newFakeClock()
		c, err := New(Config{MaxConcurrency: 8, Clock: clk})
		require.NoError(t, err)
		g, err := NewGate(GateConfig{Clock: clk})
		require.NoError(t, err)
		closeByAdmit(t, c, clk)
		for range 1 + rng.IntN(6) { // deeper
			drive(t, c, clk, 100, 100*time.Millisecond)
		}
		g.Observe("svc", c.Level())
		gap := 2*time.Second + time.Duration(rng.Int64N(int64(8*time.Second)))
		clk.Advance(gap)
		// Responses come back one round trip later: until the probe's
		// answer arrives, the Gate judges by what it cached.
		rtt := time.Duration(20+rng.Int64N(80)) * time.Millisecond
		type pending struct {
			due time.Duration
			l   Level
		}
		var inflight []pending
		var now time.Duration
		old := 0
		for range 200 { // 1× light load, no queuing
			for len(inflight) > 0 && inflight[0].due <= now {
				g.Observe("svc", inflight[0].l)
				inflight = inflight[1:]
			}
			p := Priority{Business: uint8(rng.IntN(4)), User: uint8(rng.IntN(128))}
			if g.Allow("svc", p) != nil {
				// Only while a stale answer of the server's first
				// requests is the Gate's latest: one round trip more.
				assert.Less(t, now, 2*rtt+DefaultProbeInterval, "case %d: gate refused %v at %v after the gap", i, p, now)
			} else {
				if c.Admit(p) != nil {
					old++
				} else {
					c.ObserveQueueTime(0)
				}
				inflight = append(inflight, pending{now + rtt, c.Level()})
			}
			clk.Advance(5 * time.Millisecond)
			now += 5 * time.Millisecond
		}
		assert.LessOrEqual(t, old, 3, "case %d: gap %v, rtt %v: server refusals", i, gap, rtt)
	}
}
