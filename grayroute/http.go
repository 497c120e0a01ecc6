package grayroute

import (
	"context"
	"net/http"
	"slices"
	"strings"
)

type ctxKey struct{}

// decisions is the per-request set stored in the context.
type decisions struct {
	list []Decision
}

// WithDecisions returns ctx carrying ds, as Middleware stores them; for
// callers that decide outside net/http (gRPC, queues: see also ParseHeader
// and FormatHeader). FromContext returns them as given; RoundTripper sends
// only those whose release and variant are valid names.
func WithDecisions(ctx context.Context, ds []Decision) context.Context {
	return context.WithValue(ctx, ctxKey{}, &decisions{list: append([]Decision(nil), ds...)})
}

// FromContext returns the decision for release stored by Middleware (or
// WithDecisions).
func FromContext(ctx context.Context, release string) (Decision, bool) {
	d, _ := ctx.Value(ctxKey{}).(*decisions)
	if d == nil {
		return Decision{}, false
	}
	for _, x := range d.list {
		if x.Release == release {
			return x, true
		}
	}
	return Decision{}, false
}

// Middleware decides every release once per request and stores the
// decisions in the request context (read them with FromContext). request
// maps an HTTP request to the routing Request (its key and attributes).
//
// Decisions in an incoming Header are honoured only when trust returns true
// for the request: nil trust means never, the right default at the edge,
// where clients could forge the header. A trusted header is read with
// ParseHeader: a malformed one is ignored whole and every release decided
// locally; a pair naming a variant this Router does not have, or the
// canary of a plan rolled back with rollback_all, is ignored and that
// release decided locally; pairs of releases this Router does not
// have are kept (FromContext returns them and RoundTripper forwards them),
// so a hop that takes no part in a release keeps its lane.
func Middleware(r *Router, request func(*http.Request) Request, trust func(*http.Request) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
			var incoming []Decision
			if trust != nil {
				if v := hr.Header.Values(Header); len(v) > 0 && trust(hr) {
					incoming, _ = ParseHeader(strings.Join(v, ","))
				}
			}
			q := request(hr)
			snap := r.snap.Load()
			list := make([]Decision, 0, len(snap.names)+len(incoming))
			for _, n := range snap.names {
				rel := snap.rels[n]
				if v, ok := propagated(incoming, rel); ok {
					list = append(list, Decision{Release: n, Variant: v, Bucket: -1, Reason: ReasonPropagated})
					continue
				}
				list = append(list, rel.decide(&q, nil))
			}
			for _, d := range incoming {
				if snap.rels[d.Release] == nil {
					list = append(list, d)
				}
			}
			ctx := context.WithValue(hr.Context(), ctxKey{}, &decisions{list: list})
			next.ServeHTTP(w, hr.WithContext(ctx))
		})
	}
}

// propagated finds rel's variant among parsed incoming decisions; a
// rolled-back canary under rollback_all is refused (decided locally).
func propagated(in []Decision, rel *release) (string, bool) {
	for _, d := range in {
		if d.Release != rel.name {
			continue
		}
		for i, x := range rel.variants {
			if x == d.Variant {
				if rel.rolled && rel.plan != nil && rel.plan.rollbackAll && i == rel.plan.canary {
					// rollback_all: no request reaches the rolled-back
					// canary, not even one an upstream hop sent there.
					return "", false
				}
				return x, true
			}
		}
		return "", false
	}
	return "", false
}

// RoundTripper forwards the decisions in the outgoing request's context in
// Header, so the next hop (trusting this one) keeps the request in the same
// lane. It sends every release's decision to every host: wrap only clients
// that call your own services, or use ScopedRoundTripper. A decision whose
// release or variant is not a valid name (WithDecisions takes anything) is
// not sent, so it cannot inject pairs. A Header the caller already set on
// the request is merged, not replaced: its pairs stay and win for their
// releases, the context's decisions are added for the others; a caller's
// value that ParseHeader refuses is sent as it is, with nothing added. The
// caller's request is never modified (it is cloned). A request without
// decisions passes through untouched; nil next means http.DefaultTransport.
func RoundTripper(next http.RoundTripper) http.RoundTripper {
	return ScopedRoundTripper(next, nil)
}

// ScopedRoundTripper is RoundTripper sending only the decisions for which
// send(req, release) returns true, for example only to your own hosts or
// only the releases a downstream takes part in; nil send sends all.
func ScopedRoundTripper(next http.RoundTripper, send func(req *http.Request, release string) bool) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripper{next, send}
}

type roundTripper struct {
	next http.RoundTripper
	send func(*http.Request, string) bool
}

func (t roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	d, _ := req.Context().Value(ctxKey{}).(*decisions)
	if d == nil || len(d.list) == 0 {
		return t.next.RoundTrip(req)
	}
	var own []Decision
	if v := req.Header.Values(Header); len(v) > 0 {
		var err error
		if own, err = ParseHeader(strings.Join(v, ",")); err != nil {
			return t.next.RoundTrip(req) // the caller's own (bad) value, as set
		}
	}
	var b strings.Builder
	for _, x := range own {
		appendPair(&b, x)
	}
	added := 0
	for _, x := range d.list {
		if !sendable(x) || slices.ContainsFunc(own, func(o Decision) bool { return o.Release == x.Release }) ||
			(t.send != nil && !t.send(req, x.Release)) {
			continue
		}
		if b.Len()+len(x.Release)+len(x.Variant)+2 > MaxHeaderLen {
			break
		}
		appendPair(&b, x)
		own = append(own, x) // a release listed twice in the context: the first wins
		added++
	}
	if added == 0 {
		return t.next.RoundTrip(req)
	}
	r2 := req.Clone(req.Context())
	r2.Header.Set(Header, b.String())
	return t.next.RoundTrip(r2)
}
