package overload

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// HTTP header names.
const (
	// LevelHeader carries the server's admission level ("business.user") on
	// every response, admitted or shed.
	LevelHeader = "Bulwark-Level"
	// PriorityHeader carries the request's priority ("business.user") to
	// downstream tiers, so every tier sheds the same requests.
	PriorityHeader = "Bulwark-Priority"
	// GateLevelHeader carries, on a request, the level the sender's Gate
	// enforces for this downstream ("business.user"), when it caches a
	// closed one, and GateHeldHeader how many requests that Gate refused
	// since its previous request (decimal): the downstream then knows the
	// demand it did not see (see Controller.ObserveGate).
	GateLevelHeader = "Bulwark-Gate-Level"
	GateHeldHeader  = "Bulwark-Gate-Held"
)

type priorityKey struct{}

// WithPriority returns ctx carrying p; RoundTripper forwards it downstream.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

// PriorityFromContext returns the priority stored by WithPriority (the
// Middleware stores each request's).
func PriorityFromContext(ctx context.Context) (Priority, bool) {
	if ctx == nil {
		return Priority{}, false
	}
	p, ok := ctx.Value(priorityKey{}).(Priority)
	return p, ok
}

// LowestPriority is what PriorityFromHeader gives a request without a valid
// PriorityHeader: the least important there is.
var LowestPriority = Priority{Business: 255, User: 255}

// PriorityFromHeader reads the PriorityHeader set by an upstream tier's
// RoundTripper, or returns LowestPriority. It is the Middleware's default
// priority function, right for inner tiers; an entry tier should instead
// derive the priority from the request (its API and authenticated user),
// since clients can set any header.
func PriorityFromHeader(r *http.Request) Priority {
	if v := r.Header.Get(PriorityHeader); v != "" {
		if p, err := ParsePriority(v); err == nil {
			return p
		}
	}
	return LowestPriority
}

// Middleware returns net/http middleware that admits each request through c.
// priority gives a request's priority (nil means PriorityFromHeader). An
// admitted request runs with its priority in the context (for
// RoundTripper) and the slot held until the handler returns; a shed request
// gets 503 Service Unavailable with Retry-After. Both carry the LevelHeader.
// A request whose client leaves while queued is answered 503 too, without
// running the handler. A valid GateLevelHeader on the request is passed to
// c.ObserveGate with the GateHeldHeader. (A client that forges them can
// only make the level reopen in steps instead of at once; an entry tier
// facing untrusted clients may delete them.)
func Middleware(c *Controller, priority func(*http.Request) Priority) func(http.Handler) http.Handler {
	if priority == nil {
		priority = PriorityFromHeader
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := priority(r)
			if v := r.Header.Get(GateLevelHeader); v != "" {
				if l, err := ParseLevel(v); err == nil {
					held, _ := strconv.ParseInt(r.Header.Get(GateHeldHeader), 10, 64)
					c.ObserveGate(l, held)
				}
			}
			permit, err := c.Acquire(r.Context(), p)
			if errors.Is(err, ErrNotInitialized) {
				// A programming error, not overload: say so, and send no level.
				http.Error(w, "overload: Controller not constructed (use overload.New)", http.StatusInternalServerError)
				return
			}
			if err != nil {
				h := w.Header()
				h.Set(LevelHeader, c.Level().String())
				retry := time.Second
				var se *ShedError
				if errors.As(err, &se) && se.RetryAfter > 0 {
					retry = se.RetryAfter
				}
				h.Set("Retry-After", strconv.FormatInt(retryAfterSeconds(retry), 10))
				http.Error(w, "overloaded", http.StatusServiceUnavailable)
				return
			}
			defer permit.Release()
			w.Header().Set(LevelHeader, c.Level().String())
			next.ServeHTTP(w, r.WithContext(WithPriority(r.Context(), p)))
		})
	}
}

// RoundTripper returns an http.RoundTripper that sends requests through next
// (nil means http.DefaultTransport) with collaborative admission: it forwards
// the request's priority in the PriorityHeader, asks g whether the downstream
// (the URL's host) would admit it, and feeds the LevelHeader of every
// response back into g. The priority is the context's (see WithPriority) when
// it has one, which wins over a PriorityHeader already on the request;
// otherwise a valid PriorityHeader on the request is used. The caller's
// request is never modified: the header goes on a clone. A request the Gate
// sheds fails with a *ShedError without being sent. A request sent while
// g caches a closed level for the downstream carries that level in the
// GateLevelHeader and the count of requests g refused since in the
// GateHeldHeader (Gate.Enforced), so the downstream's Middleware knows
// what was held back. Requests with no priority are sent ungated.
func RoundTripper(g *Gate, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &gatedTransport{gate: g, next: next}
}

type gatedTransport struct {
	gate *Gate
	next http.RoundTripper
}

var errNilRequest = errors.New("overload: nil request")

func (t *gatedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req == nil || req.URL == nil {
		return nil, errNilRequest
	}
	host := req.URL.Host
	p, ok := PriorityFromContext(req.Context())
	if !ok {
		if v := req.Header.Get(PriorityHeader); v != "" {
			pp, err := ParsePriority(v)
			p, ok = pp, err == nil
		}
	}
	if ok {
		if err := t.gate.Allow(host, p); err != nil {
			if req.Body != nil {
				_ = req.Body.Close() // the RoundTripper contract: always close the body
			}
			return nil, err
		}
		gl, held, gated := t.gate.Enforced(host)
		want := p.String()
		if req.Header.Get(PriorityHeader) != want || gated || req.Header.Get(GateLevelHeader) != "" || req.Header.Get(GateHeldHeader) != "" {
			// Never write into the caller's request: clone it (Clone copies
			// the Header, and a nil Header becomes a new one).
			req = req.Clone(req.Context())
			if req.Header == nil {
				req.Header = make(http.Header, 2)
			}
			req.Header.Set(PriorityHeader, want)
			req.Header.Del(GateLevelHeader)
			req.Header.Del(GateHeldHeader)
			if gated {
				req.Header.Set(GateLevelHeader, gl.String())
				req.Header.Set(GateHeldHeader, strconv.FormatInt(held, 10))
			}
		}
	}
	resp, err := t.next.RoundTrip(req)
	if resp != nil {
		if v := resp.Header.Get(LevelHeader); v != "" {
			if l, perr := ParseLevel(v); perr == nil {
				t.gate.Observe(host, l)
			}
		}
	}
	return resp, err
}

// retryAfterSeconds rounds d up to whole seconds without overflowing, for
// the Retry-After header (RFC 9110 delay-seconds, never negative).
func retryAfterSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}
