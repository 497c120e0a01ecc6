package grayroute

import (
	"context"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// refParse is ParseHeader's specification written independently: split on
// commas, trim spaces and tabs, every pair name=name by a regexp, no
// release twice.
var refPair = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}=[A-Za-z0-9._-]{1,64}$`)

func refParse(v string) ([]Decision, bool) {
	if len(v) > MaxHeaderLen {
		return nil, false
	}
	if strings.Trim(v, " \t") == "" {
		return nil, true
	}
	var out []Decision
	seen := map[string]bool{}
	for _, p := range strings.Split(v, ",") {
		p = strings.Trim(p, " \t")
		if !refPair.MatchString(p) {
			return nil, false
		}
		n, x, _ := strings.Cut(p, "=")
		if seen[n] {
			return nil, false
		}
		seen[n] = true
		out = append(out, Decision{Release: n, Variant: x, Bucket: -1, Reason: ReasonPropagated})
	}
	return out, true
}

// genHeaderName is a name, valid or (bad > 0) with a hostile byte.
func genHeaderName(rng *rand.Rand, bad bool) string {
	const ok = "abcXYZ019._-"
	n := 1 + rng.IntN(8)
	if rng.IntN(40) == 0 {
		n = 64 + rng.IntN(2) // at and past the limit
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = ok[rng.IntN(len(ok))]
	}
	if bad {
		hostile := []string{",", "=", " ", "\t", "\x00", "\n", "\r", ";", "é", "\x7f", "\"", ",x=y", "a=b,c"}
		i := rng.IntN(len(b) + 1)
		return string(b[:i]) + hostile[rng.IntN(len(hostile))] + string(b[i:])
	}
	return string(b)
}

func genHeaderValue(rng *rand.Rand) string {
	if rng.IntN(4) == 0 {
		// raw noise from the bytes that matter
		const pool = "ab=,= \t\x00;xé-._"
		b := make([]byte, rng.IntN(20))
		for i := range b {
			b[i] = pool[rng.IntN(len(pool))]
		}
		return string(b)
	}
	var parts []string
	for range rng.IntN(5) {
		p := genHeaderName(rng, rng.IntN(8) == 0) + "=" + genHeaderName(rng, rng.IntN(8) == 0)
		switch rng.IntN(10) {
		case 0:
			p = " " + p
		case 1:
			p += "\t"
		case 2:
			p = ""
		case 3:
			p = strings.Replace(p, "=", " = ", 1)
		}
		parts = append(parts, p)
	}
	if len(parts) > 1 && rng.IntN(5) == 0 {
		parts = append(parts, parts[0]) // a release twice
	}
	return strings.Join(parts, ",")
}

func TestParseHeaderMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	accepted := 0
	for i := range scaled(50000, 10) {
		v := genHeaderValue(rng)
		got, err := ParseHeader(v)
		want, ok := refParse(v)
		if !ok {
			require.ErrorIs(t, err, ErrBadHeader, "case %d %q", i, v)
			require.Nil(t, got)
			continue
		}
		accepted++
		require.NoError(t, err, "case %d %q", i, v)
		require.Equal(t, want, got, "case %d %q", i, v)
	}
	require.Greater(t, accepted, scaled(50000, 10)/5, "the generator must produce valid headers too")
	_, err := ParseHeader(strings.Repeat("a=b,", MaxHeaderLen/4) + "c=d")
	require.ErrorIs(t, err, ErrBadHeader)
}

// TestFormatHeaderRoundTrip: for every valid set of decisions,
// ParseHeader(FormatHeader(ds)) gives them back; any hostile name is
// refused.
func TestFormatHeaderRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	for i := range scaled(20000, 10) {
		var ds []Decision
		valid := true
		seen := map[string]bool{}
		for range rng.IntN(6) {
			bad := rng.IntN(10) == 0
			d := Decision{Release: genHeaderName(rng, bad), Variant: genHeaderName(rng, rng.IntN(10) == 0), Rule: "r", Bucket: rng.IntN(Buckets), Reason: ReasonSplit}
			if rng.IntN(15) == 0 {
				d.Variant = "" // an unknown release: left out
			}
			if d.Variant != "" {
				if !validName(d.Release) || !validName(d.Variant) || seen[d.Release] {
					valid = false
				}
				seen[d.Release] = true
			}
			ds = append(ds, d)
		}
		h, err := FormatHeader(ds)
		if !valid {
			require.ErrorIs(t, err, ErrBadHeader, "case %d %q", i, ds)
			continue
		}
		require.NoError(t, err, "case %d %q", i, ds)
		got, err := ParseHeader(h)
		require.NoError(t, err, "case %d %q", i, h)
		var want []Decision
		for _, d := range ds {
			if d.Variant != "" {
				want = append(want, Decision{Release: d.Release, Variant: d.Variant, Bucket: -1, Reason: ReasonPropagated})
			}
		}
		require.Equal(t, want, got, "case %d", i)
	}
}

type captureRT struct{ got []*http.Request }

func (c *captureRT) RoundTrip(r *http.Request) (*http.Response, error) {
	c.got = append(c.got, r)
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
}

// The review's injection: a variant with a comma must not add a pair.
func TestRoundTripperInjection(t *testing.T) {
	var c captureRT
	rt := RoundTripper(&c)
	ctx := WithDecisions(context.Background(), []Decision{{Release: "r", Variant: "stable,payments=canary"}, {Release: "ok", Variant: "v"}})
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://svc/", nil)
	_, err := rt.RoundTrip(req)
	require.NoError(t, err)
	require.Equal(t, "ok=v", c.got[0].Header.Get(Header))
}

// TestRoundTripperRandom: random context decisions (some hostile), a random
// header the caller set, a random scope: what goes out parses strictly, is
// the caller's pairs followed by the sendable, in-scope decisions of the
// other releases, and the caller's request is untouched.
func TestRoundTripperRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(65, 66))
	for i := range scaled(5000, 10) {
		var ds []Decision
		for range rng.IntN(6) {
			ds = append(ds, Decision{Release: genHeaderName(rng, rng.IntN(8) == 0), Variant: genHeaderName(rng, rng.IntN(8) == 0)})
		}
		if len(ds) > 0 && rng.IntN(4) == 0 {
			ds = append(ds, Decision{Release: ds[0].Release, Variant: "other"})
		}
		caller := ""
		if rng.IntN(3) == 0 {
			caller = genHeaderValue(rng)
		}
		host := []string{"mine.internal", "api.thirdparty.com"}[rng.IntN(2)]
		var send func(*http.Request, string) bool
		if rng.IntN(2) == 0 {
			send = func(r *http.Request, release string) bool {
				return strings.HasSuffix(r.URL.Host, ".internal") && !strings.HasPrefix(release, "a")
			}
		}
		var c captureRT
		rt := ScopedRoundTripper(&c, send)
		req, _ := http.NewRequestWithContext(WithDecisions(context.Background(), ds), "GET", "http://"+host+"/", nil)
		if caller != "" {
			req.Header.Set(Header, caller)
		}
		_, err := rt.RoundTrip(req)
		require.NoError(t, err)
		require.Len(t, c.got, 1)
		require.Equal(t, caller, req.Header.Get(Header), "the caller's request is not modified")
		sent := c.got[0].Header.Get(Header)

		own, ok := refParse(caller)
		if !ok {
			require.Equal(t, caller, sent, "case %d: a bad caller value goes as it is", i)
			continue
		}
		want := own
		for _, d := range ds {
			if !validName(d.Release) || !validName(d.Variant) || (send != nil && !send(req, d.Release)) {
				continue
			}
			dup := false
			for _, w := range want {
				dup = dup || w.Release == d.Release
			}
			if !dup {
				want = append(want, Decision{Release: d.Release, Variant: d.Variant, Bucket: -1, Reason: ReasonPropagated})
			}
		}
		got, err := ParseHeader(sent)
		require.NoError(t, err, "case %d: sent %q", i, sent)
		if len(want) == len(own) {
			require.Equal(t, caller, sent, "case %d: nothing to add, untouched", i)
			continue
		}
		require.Equal(t, want, got, "case %d: caller %q, decisions %q", i, caller, ds)
	}
}

func TestMiddlewareKeepsForeignReleases(t *testing.T) {
	r := twoReleaseRouter(t)
	var got []Decision
	h := Middleware(r, func(*http.Request) Request { return Request{Key: "u"} }, func(*http.Request) bool { return true })(
		http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
			d, _ := hr.Context().Value(ctxKey{}).(*decisions)
			got = d.list
		}))
	hr, _ := http.NewRequest("GET", "/", nil)
	hr.Header.Add(Header, "pay=canary, chat=canary")
	hr.Header.Add(Header, "search=ghost")
	h.ServeHTTP(nil, hr)
	require.Equal(t, []Decision{
		{Release: "chat", Variant: "canary", Bucket: -1, Reason: ReasonPropagated},
		r.Route("search", Request{Key: "u"}), // unknown variant: decided here
		{Release: "pay", Variant: "canary", Bucket: -1, Reason: ReasonPropagated},
	}, got)
}
