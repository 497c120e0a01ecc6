package breaker

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRoundTripperHostKeyNormalised: http://A.example:80 and
// http://a.example share one breaker; another port does not.
func TestRoundTripperHostKeyNormalised(t *testing.T) {
	ft := &fakeTransport{next: func(*http.Request) (int, error) { return 503, nil }}
	g, err := NewGroup[*http.Response](GroupConfig{Breaker: Config{Clock: newFakeClock(), Trip: ConsecutiveFailures(2)}})
	require.NoError(t, err)
	c := &http.Client{Transport: RoundTripper(g, ft)}
	for _, u := range []string{"http://A.example:80/x", "http://a.EXAMPLE/y"} {
		resp, err := c.Get(u)
		require.NoError(t, err)
		resp.Body.Close()
	}
	_, err = c.Get("http://a.example/z")
	require.ErrorIs(t, err, ErrOpen)
	require.Equal(t, 1, g.Len())
	require.Equal(t, StateOpen, g.State("a.example"))
	resp, err := c.Get("http://a.example:8080/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, StateClosed, g.State("a.example:8080"))
}

// spell writes host with a random letter case and, when port is the
// scheme's default, randomly with or without it.
func spell(rng *rand.Rand, scheme, host, port string) string {
	var b strings.Builder
	for _, r := range host {
		if rng.IntN(2) == 0 {
			b.WriteString(strings.ToUpper(string(r)))
		} else {
			b.WriteRune(r)
		}
	}
	h := b.String()
	def := (scheme == "http" && port == "80") || (scheme == "https" && port == "443")
	if port != "" && (!def || rng.IntN(2) == 0) {
		h += ":" + port
	}
	if scheme == "" {
		return h
	}
	if rng.IntN(2) == 0 {
		scheme = strings.ToUpper(scheme)
	}
	return scheme + "://" + h + "/p"
}

// TestHostKeyGenerative: random hosts (names, IPv4, IPv6), schemes and
// ports, spelt with random case and with or without the default port, map
// to the same key exactly when they name the same host and effective port;
// the key is lower case and carries no default port.
func TestHostKeyGenerative(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	hosts := []string{"a.example", "b.example", "xn--bcher-kva.example", "10.0.0.1", "[::1]", "[fe80::1]", "localhost", "ä.example", "bücher.example", "σ.example"}
	ports := []string{"", "80", "443", "8080", "8443", "080", "0443", "08080"}
	schemes := []string{"http", "https"}
	type id struct{ host, scheme, port string }
	canon := func(i id) id {
		i.port = strings.TrimLeft(i.port, "0")
		if i.port == "" || (i.scheme == "http" && i.port == "80") || (i.scheme == "https" && i.port == "443") {
			i.port = ""
		}
		return i
	}
	keyOf := map[string]id{}
	idKey := map[id]string{}
	for i := range 3000 {
		x := id{hosts[rng.IntN(len(hosts))], schemes[rng.IntN(len(schemes))], ports[rng.IntN(len(ports))]}
		raw := spell(rng, x.scheme, x.host, x.port)
		u, err := url.Parse(raw)
		require.NoError(t, err, raw)
		req := &http.Request{URL: u, Host: u.Host}
		if rng.IntN(4) == 0 { // a request built with an empty URL.Host (server side)
			req.URL = &url.URL{Scheme: u.Scheme, Path: u.Path}
		}
		k := hostKey(req)
		what := fmt.Sprintf("%d: %s -> %q", i, raw, k)
		require.Equal(t, strings.ToLower(k), k, what)
		require.False(t, strings.HasSuffix(k, ":80") && x.scheme == "http", what)
		require.False(t, strings.HasSuffix(k, ":443") && x.scheme == "https", what)
		// One breaker per host and explicit non-default port: the
		// scheme's default port is the host itself (so http://h and
		// https://h share h's breaker, as before normalisation).
		c := canon(x)
		eff := id{c.host, "", c.port}
		if prev, ok := keyOf[k]; ok {
			require.Equal(t, prev, eff, "%s: one key for two hosts", what)
		}
		keyOf[k] = eff
		if prev, ok := idKey[eff]; ok {
			require.Equal(t, prev, k, "%s: two keys for one host", what)
		}
		idKey[eff] = k
	}
	require.Zero(t, testing.AllocsPerRun(100, func() {
		_ = hostKey(&http.Request{URL: &url.URL{Scheme: "http", Host: "a.example:80"}})
	}))
}
