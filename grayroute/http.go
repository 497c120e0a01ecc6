package grayroute

import (
	"context"
	"net/http"
	"strings"
)

// Header carries a request's decisions across hops: comma-separated
// release=variant pairs, e.g. "chat-v2=canary,search=stable".
const Header = "Bulwark-Gray"

// maxHeaderLen bounds the incoming header Middleware parses.
const maxHeaderLen = 8 << 10

type ctxKey struct{}

// decisions is the per-request set stored in the context.
type decisions struct {
	list []Decision
}

// WithDecisions returns ctx carrying ds, as Middleware stores them; for
// callers that decide outside net/http (gRPC, queues).
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
// where clients could forge the header. A trusted pair naming an unknown
// release or variant is ignored and that release is decided locally.
func Middleware(r *Router, request func(*http.Request) Request, trust func(*http.Request) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
			var incoming string
			if trust != nil {
				if v := hr.Header.Values(Header); len(v) > 0 && trust(hr) {
					incoming = strings.Join(v, ",")
				}
			}
			q := request(hr)
			snap := r.snap.Load()
			list := make([]Decision, 0, len(snap.names))
			for _, n := range snap.names {
				rel := snap.rels[n]
				if v, ok := propagated(incoming, rel); ok {
					list = append(list, Decision{Release: n, Variant: v, Bucket: -1, Reason: ReasonPropagated})
					continue
				}
				list = append(list, rel.decide(&q, nil))
			}
			ctx := context.WithValue(hr.Context(), ctxKey{}, &decisions{list: list})
			next.ServeHTTP(w, hr.WithContext(ctx))
		})
	}
}

// propagated finds rel's variant in a header value.
func propagated(h string, rel *release) (string, bool) {
	if h == "" || len(h) > maxHeaderLen {
		return "", false
	}
	for h != "" {
		var pair string
		pair, h, _ = strings.Cut(h, ",")
		name, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || name != rel.name {
			continue
		}
		for _, x := range rel.variants {
			if x == v {
				return x, true
			}
		}
		return "", false
	}
	return "", false
}

// RoundTripper forwards the decisions in the outgoing request's context in
// Header, so the next hop (trusting this one) keeps the request in the same
// lane. A request without decisions passes through untouched; nil next
// means http.DefaultTransport.
func RoundTripper(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripper{next}
}

type roundTripper struct{ next http.RoundTripper }

func (t roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	d, _ := req.Context().Value(ctxKey{}).(*decisions)
	if d == nil || len(d.list) == 0 {
		return t.next.RoundTrip(req)
	}
	var b strings.Builder
	for _, x := range d.list {
		if x.Variant == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(x.Release)
		b.WriteByte('=')
		b.WriteString(x.Variant)
	}
	r2 := req.Clone(req.Context())
	r2.Header.Set(Header, b.String())
	return t.next.RoundTrip(r2)
}
