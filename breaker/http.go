package breaker

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// RoundTripper returns a transport that sends each request through the
// breaker of its host in g. A nil next means http.DefaultTransport.
//
// The key is req.URL.Host (req.Host when that is empty) in lower case
// (Unicode letters included), its port without leading zeros, and without
// the scheme's default port: http://A.example:80/x, http://a.example:080/
// and https://a.example/y all go through the breaker of "a.example", and
// http://a.example:8080 through that of "a.example:8080". Names are not
// resolved: "localhost" and "127.0.0.1" are two keys, and so are
// "a.example." and "a.example".
//
// A 5xx response, a timeout (including the request context's deadline,
// with or without a cause) and a connection error count as failures; 4xx
// responses and the caller's cancellation do not: once the request's
// context is cancelled, an error matching context.Canceled or the
// context's cause (net/http returns the cause; errgroup cancels with one)
// is the caller's. This is the rule of every entry point (see "Outcomes"
// in the package doc), and Config.IsExcluded can narrow it. The response
// is returned to the caller unchanged, 5xx included, so the caller still owns its body. A
// refused request returns an error matching ErrOpen (or
// ErrTooManyRequests) without dialling, and its body is closed, as the
// http.RoundTripper contract requires.
func RoundTripper(g *Group[*http.Response], next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &roundTripper{g: g, next: next}
}

type roundTripper struct {
	g    *Group[*http.Response]
	next http.RoundTripper
}

// statusError marks a 5xx response as a failure for the breaker.
type statusError struct{ code int }

func (e *statusError) Error() string { return "breaker: http status " + strconv.Itoa(e.code) }

func (rt *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	host := hostKey(req)
	ran := false
	resp, err := rt.g.Execute(req.Context(), host, func(ctx context.Context) (*http.Response, error) {
		ran = true
		resp, err := rt.next.RoundTrip(req)
		if err != nil {
			if resp != nil && resp.Body != nil { // a broken transport: never leak
				resp.Body.Close()
			}
			return nil, err
		}
		if resp.StatusCode >= 500 {
			return resp, &statusError{resp.StatusCode}
		}
		return resp, nil
	})
	if !ran && req.Body != nil {
		req.Body.Close() // refused (or ctx already done): RoundTrip owns the body
	}
	var se *statusError
	if errors.As(err, &se) {
		return resp, nil
	}
	if err != nil && resp != nil && resp.Body != nil {
		resp.Body.Close()
		resp = nil
	}
	return resp, err
}

// hostKey is the Group key of req: its host (req.URL.Host, or req.Host
// when that is empty) in lower case (Unicode letters too), its port as a
// decimal number without leading zeros, and without the scheme's default
// port (80 for http, 443 for https) or an empty one. It allocates only when
// the host has upper-case or non-ASCII letters or a port with a leading 0.
func hostKey(req *http.Request) string {
	host := req.URL.Host
	if host == "" {
		host = req.Host
	}
	name, port := host, ""
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		name, port = host[:i], host[i+1:]
	}
	if len(port) > 1 && port[0] == '0' {
		if p, err := strconv.ParseUint(port, 10, 16); err == nil {
			port = strconv.FormatUint(p, 10)
			host = name + ":" + port
		}
	}
	switch {
	case port == "",
		port == "80" && strings.EqualFold(req.URL.Scheme, "http"),
		port == "443" && strings.EqualFold(req.URL.Scheme, "https"):
		host = name
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; 'A' <= c && c <= 'Z' || c >= 0x80 {
			return strings.ToLower(host)
		}
	}
	return host
}
