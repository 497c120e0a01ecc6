package grayroute

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func twoReleaseRouter(t *testing.T) *Router {
	r, err := New(Config{Releases: map[string]Release{
		"chat":   {Variants: []string{"stable", "canary"}, Rules: []Rule{{Split: map[string]int{"stable": 5000, "canary": 5000}}}},
		"search": {Variants: []string{"old", "new"}, Rules: []Rule{{Keys: []string{"staff"}, Variant: "new"}}},
	}})
	require.NoError(t, err)
	return r
}

func TestMiddlewareTrust(t *testing.T) {
	r := twoReleaseRouter(t)
	rng := rand.New(rand.NewPCG(51, 52))
	reqOf := func(hr *http.Request) Request { return Request{Key: hr.URL.Query().Get("u")} }
	for i := range 500 {
		key := genKey(rng)
		forged := "chat=canary,search=new"
		if rng.IntN(3) == 0 {
			forged = []string{"chat=ghost", "x=y,,=", strings.Repeat("a", 9000), "search = new", "chat=stable"}[rng.IntN(5)]
		}
		trusted := rng.IntN(2) == 0
		var trust func(*http.Request) bool
		switch rng.IntN(3) {
		case 0: // nil: never
			trusted = false
		case 1:
			trust = func(*http.Request) bool { return trusted }
		case 2:
			trust = func(hr *http.Request) bool { return trusted && hr.RemoteAddr != "" }
		}
		var got [2]Decision
		var ok [2]bool
		h := Middleware(r, reqOf, trust)(http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
			got[0], ok[0] = FromContext(hr.Context(), "chat")
			got[1], ok[1] = FromContext(hr.Context(), "search")
		}))
		hr := httptest.NewRequest("GET", "/?u="+key, nil)
		hr.Header.Set(Header, forged)
		h.ServeHTTP(httptest.NewRecorder(), hr)
		require.True(t, ok[0] && ok[1])
		for j, n := range []string{"chat", "search"} {
			local := r.Route(n, Request{Key: key})
			want := local
			if trusted {
				pairs, _ := refParse(forged)
				for _, p := range pairs {
					if p.Release == n && (p.Variant == "canary" || p.Variant == "stable" || p.Variant == "old" || p.Variant == "new") {
						want = p
					}
				}
			}
			require.Equal(t, want, got[j], "case %d trusted=%v header %q", i, trusted, forged)
			if !trusted {
				require.Equal(t, local, got[j], "untrusted header must never be honoured")
			}
		}
	}
}

func TestRoundTripperCarriesDecisionsAcrossHops(t *testing.T) {
	r := twoReleaseRouter(t)
	// Hop 2 trusts hop 1 and decides nothing itself for known releases.
	var hop2 [2]Decision
	back := httptest.NewServer(Middleware(r, func(*http.Request) Request { return Request{Key: "someone-else"} },
		func(*http.Request) bool { return true })(http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
		hop2[0], _ = FromContext(hr.Context(), "chat")
		hop2[1], _ = FromContext(hr.Context(), "search")
	})))
	defer back.Close()
	client := &http.Client{Transport: RoundTripper(nil)}
	front := Middleware(r, func(*http.Request) Request { return Request{Key: "staff"} }, nil)(http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
		req, _ := http.NewRequestWithContext(hr.Context(), "GET", back.URL, nil)
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Empty(t, req.Header.Get(Header), "the caller's request is not modified")
	}))
	hr := httptest.NewRequest("GET", "/", nil)
	hr.Header.Set(Header, "search=old") // forged at the edge: ignored
	front.ServeHTTP(httptest.NewRecorder(), hr)
	require.Equal(t, r.Route("chat", Request{Key: "staff"}).Variant, hop2[0].Variant)
	require.Equal(t, "new", hop2[1].Variant)
	require.Equal(t, ReasonPropagated, hop2[1].Reason)

	_, ok := FromContext(context.Background(), "chat")
	require.False(t, ok)
	ctx := WithDecisions(context.Background(), []Decision{{Release: "x", Variant: "y"}})
	d, ok := FromContext(ctx, "x")
	require.True(t, ok)
	require.Equal(t, "y", d.Variant)
}
