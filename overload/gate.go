package overload

import (
	"fmt"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Gate defaults.
const (
	DefaultGateDownstreams = 1024
	DefaultGateTTL         = 2 * time.Second
	DefaultProbeInterval   = 200 * time.Millisecond
)

// GateConfig configures a Gate. Zero fields take the documented defaults.
type GateConfig struct {
	// MaxDownstreams bounds the downstreams remembered (default 1,024);
	// the least recently used is forgotten first, and a forgotten downstream
	// is sent everything until it reports a level again.
	MaxDownstreams int
	// TTL is how long a reported level is trusted after the last response
	// that carried it (default 2 s). After it, the Gate sends everything
	// until a new level arrives. Every response refreshes it, so under
	// traffic a level is never older than ProbeInterval plus a round trip;
	// TTL matters after the traffic stops. Keep it at most twice the
	// downstream's Window: a downstream reopens fully after an idle gap of
	// two Windows, and a longer TTL keeps refusing at the client after the
	// downstream has reopened (until the first probe's response).
	TTL time.Duration
	// ProbeInterval lets one request per interval and downstream through
	// even when the cached level would shed it (default 200 ms), so a
	// downstream whose level rose is noticed even if all traffic to it is
	// below the stale level.
	ProbeInterval time.Duration
	// Clock is the time source; nil means time.Now.
	Clock Clock
}

// Gate is the client side of collaborative admission (DAGOR §4.3): it caches
// the admission level each downstream reports on its responses and sheds
// requests that the downstream would refuse, before sending them. It starts
// no goroutine. It is safe for concurrent use. A nil or zero Gate caches
// nothing and allows everything.
type Gate struct {
	cache *lru.Cache[string, *gateEntry]
	ttl   int64
	probe int64
	clk   clockSource
}

type gateEntry struct {
	level     atomic.Uint32 // Level.Uint16
	expires   atomic.Int64  // gate nanotime
	nextProbe atomic.Int64  // gate nanotime
	held      atomic.Int64  // refusals since the last Enforced
	err       atomic.Pointer[ShedError]
}

// NewGate returns a Gate, or an error for impossible values.
func NewGate(cfg GateConfig) (*Gate, error) {
	if cfg.MaxDownstreams < 0 || cfg.TTL < 0 || cfg.ProbeInterval < 0 {
		return nil, fmt.Errorf("overload: negative GateConfig field in %+v", cfg)
	}
	if cfg.MaxDownstreams == 0 {
		cfg.MaxDownstreams = DefaultGateDownstreams
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultGateTTL
	}
	if cfg.ProbeInterval == 0 {
		cfg.ProbeInterval = DefaultProbeInterval
	}
	cache, err := lru.New[string, *gateEntry](cfg.MaxDownstreams)
	if err != nil {
		return nil, fmt.Errorf("overload: gate cache: %w", err)
	}
	return &Gate{cache: cache, ttl: int64(cfg.TTL), probe: int64(cfg.ProbeInterval), clk: newClockSource(cfg.Clock)}, nil
}

// Observe records the level downstream reported. An open level forgets the
// downstream.
func (g *Gate) Observe(downstream string, l Level) {
	if g == nil || g.cache == nil {
		return
	}
	if l.IsOpen() {
		g.cache.Remove(downstream)
		return
	}
	now := g.clk.nanotime()
	e, ok := g.cache.Get(downstream)
	if !ok {
		e = &gateEntry{}
		if prev, found, _ := g.cache.PeekOrAdd(downstream, e); found {
			e = prev
		}
	}
	if uint16(e.level.Load()) != l.Uint16() || e.err.Load() == nil {
		e.err.Store(&ShedError{Reason: ReasonDownstream, Level: l, RetryAfter: time.Duration(g.probe)})
	}
	e.level.Store(uint32(l.Uint16()))
	e.expires.Store(satAdd(now, g.ttl))
}

// Level returns the cached level of downstream, and false when none is
// cached or it expired.
func (g *Gate) Level(downstream string) (Level, bool) {
	if g == nil || g.cache == nil {
		return LevelOpen, false
	}
	e, ok := g.cache.Peek(downstream)
	if !ok || g.clk.nanotime() >= e.expires.Load() {
		return LevelOpen, false
	}
	return LevelFromUint16(uint16(e.level.Load())), true
}

// Allow returns nil if a request of priority p may be sent to downstream,
// and a *ShedError (ReasonDownstream, matching ErrShed) if the downstream's
// cached level would refuse it. One request per ProbeInterval is let
// through regardless, to learn whether the level rose.
func (g *Gate) Allow(downstream string, p Priority) error {
	if g == nil || g.cache == nil {
		return nil // no cached levels: send
	}
	e, ok := g.cache.Get(downstream)
	if !ok {
		return nil
	}
	if LevelFromUint16(uint16(e.level.Load())).Admits(p) {
		return nil
	}
	now := g.clk.nanotime()
	if now >= e.expires.Load() {
		g.cache.Remove(downstream)
		return nil
	}
	if np := e.nextProbe.Load(); now >= np && e.nextProbe.CompareAndSwap(np, satAdd(now, g.probe)) {
		return nil // the probe
	}
	e.held.Add(1)
	return e.err.Load()
}

// Enforced returns the level the Gate enforces for downstream and how many
// requests it refused for it since the previous call, and false when it
// caches no level (then it refuses nothing). Call it for each request
// sent, and pass both to the downstream: RoundTripper puts them in the
// GateLevelHeader and GateHeldHeader, which Middleware hands to
// Controller.ObserveGate; callers that pair a Gate with Acquire or Admit
// call ObserveGate themselves. The downstream then knows the demand it did
// not see.
func (g *Gate) Enforced(downstream string) (l Level, held int64, ok bool) {
	if g == nil || g.cache == nil {
		return LevelOpen, 0, false
	}
	e, ok := g.cache.Peek(downstream)
	if !ok || g.clk.nanotime() >= e.expires.Load() {
		return LevelOpen, 0, false
	}
	return LevelFromUint16(uint16(e.level.Load())), e.held.Swap(0), true
}
