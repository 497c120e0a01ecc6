package breaker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type countingBody struct {
	io.Reader
	closed *atomic.Int64
	once   atomic.Bool
}

func (c *countingBody) Close() error {
	if !c.once.Swap(true) {
		c.closed.Add(1)
	}
	return nil
}

// fakeTransport answers by a per-request script without a network.
type fakeTransport struct {
	calls, opened, closed atomic.Int64
	next                  func(req *http.Request) (int, error)
}

func (f *fakeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f.calls.Add(1)
	if req.Body != nil {
		defer req.Body.Close()
	}
	code, err := f.next(req)
	if err != nil {
		return nil, err
	}
	f.opened.Add(1)
	return &http.Response{StatusCode: code, Body: &countingBody{Reader: strings.NewReader("x"), closed: &f.closed}, Request: req}, nil
}

// TestRoundTripperGenerative sends random request schedules (2xx, 4xx, 5xx,
// connection errors, deadlines, caller cancellations, bodies on both sides)
// and checks: every response body the transport opened is closed once the
// caller closes what it got; every request body is closed; 4xx and
// cancellations never count as failures; 5xx, timeouts and connection
// errors do; a refused request never reaches the transport.
func TestRoundTripperGenerative(t *testing.T) {
	for seed := range uint64(10) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 5))
			clk := newFakeClock()
			g, err := NewGroup[*http.Response](GroupConfig{Breaker: Config{Clock: clk, Trip: ConsecutiveFailures(3)}})
			require.NoError(t, err)
			var kind string
			ft := &fakeTransport{next: func(req *http.Request) (int, error) {
				switch kind {
				case "conn":
					return 0, &net.OpError{Op: "dial", Err: errors.New("connection refused")}
				case "deadline", "cancel":
					<-req.Context().Done()
					return 0, context.Cause(req.Context()) // as net/http does
				case "4xx":
					return 404, nil
				case "5xx":
					return 503, nil
				}
				return 200, nil
			}}
			rt := RoundTripper(g, ft)
			var reqBodies, reqClosed atomic.Int64
			for i := range 300 {
				host := fmt.Sprintf("h%d", rng.IntN(3)) // the key; the URL spells it at random
				target := spell(rng, "http", host, "80") + "x"
				kind = []string{"ok", "4xx", "5xx", "conn", "deadline", "cancel"}[rng.IntN(6)]
				before := g.State(host)
				failuresBefore := uint32(0)
				if e := g.lookup(host); e != nil {
					failuresBefore = e.b.Counts().Failures
				}
				ctx, cancel := context.WithCancel(context.Background())
				switch kind {
				case "deadline":
					ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
				case "cancel":
					time.AfterFunc(time.Millisecond, cancel)
				}
				var body io.ReadCloser
				if rng.IntN(2) == 0 {
					reqBodies.Add(1)
					body = &countingBody{Reader: strings.NewReader("req"), closed: &reqClosed}
				}
				req, _ := http.NewRequestWithContext(ctx, "POST", target, body)
				callsBefore := ft.calls.Load()
				resp, err := rt.RoundTrip(req)
				cancel()
				if resp != nil {
					resp.Body.Close()
				}
				if before == StateOpen && g.State(host) == StateOpen {
					if !errors.Is(err, ErrOpen) { // or a context already done: also never sent
						require.True(t, errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded), "step %d: %v", i, err)
					}
					require.Equal(t, callsBefore, ft.calls.Load(), "refused request reached the transport")
					continue
				}
				if before != StateClosed || errors.Is(err, ErrOpen) || errors.Is(err, ErrTooManyRequests) {
					continue
				}
				if callsBefore == ft.calls.Load() { // the context ended before the call started: never sent
					require.True(t, errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled), "step %d: %v", i, err)
					continue
				}
				e := g.lookup(host)
				require.NotNil(t, e)
				fails := e.b.Counts().Failures
				if e.b.State() != StateClosed {
					continue // tripped: counts were cleared
				}
				switch kind {
				case "ok", "4xx", "cancel":
					require.Equal(t, failuresBefore, fails, "step %d: %s counted as failure", i, kind)
				default:
					require.Equal(t, failuresBefore+1, fails, "step %d: %s not counted", i, kind)
				}
				if kind == "5xx" {
					require.NoError(t, err)
					require.Equal(t, 503, resp.StatusCode)
				}
				if rng.IntN(20) == 0 {
					clk.Advance(10 * time.Second)
				}
			}
			assert.Equal(t, ft.opened.Load(), ft.closed.Load(), "response bodies leaked")
			assert.Equal(t, reqBodies.Load(), reqClosed.Load(), "request bodies leaked")
		})
	}
}

// TestRoundTripperRejectsWithoutDialling uses a real transport and counts
// dials: once the host's breaker is open, requests fail with ErrOpen and no
// connection is attempted.
func TestRoundTripperRejectsWithoutDialling(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	var dials atomic.Int64
	tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	g, err := NewGroup[*http.Response](GroupConfig{Breaker: Config{Clock: newFakeClock(), Trip: ConsecutiveFailures(2)}})
	require.NoError(t, err)
	c := &http.Client{Transport: RoundTripper(g, tr)}
	for range 2 {
		resp, err := c.Get(srv.URL)
		require.NoError(t, err)
		resp.Body.Close()
	}
	n := dials.Load()
	for range 5 {
		_, err := c.Get(srv.URL)
		require.ErrorIs(t, err, ErrOpen)
	}
	assert.Equal(t, n, dials.Load())
}

// TestRoundTripperCancellationGenerative drives a real http.Transport
// against a loopback server with random ways a request ends: the caller
// cancels (plainly, with a cause, or as an errgroup sibling's cause on a
// parent context), the request's deadline passes (with or without a cause,
// or through http.Client.Timeout), the server answers 2xx, 4xx or 5xx, or
// nobody listens. Deadlines, 5xx and connection errors count as failures;
// the caller's cancellations and 4xx never do, whatever error net/http
// hands back (it returns the context's cause).
func TestRoundTripperCancellationGenerative(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/block":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		case "/404":
			w.WriteHeader(http.StatusNotFound)
		case "/503":
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadAddr := ln.Addr().String()
	ln.Close() // nobody listens there any more: connection refused
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	g, err := NewGroup[*http.Response](GroupConfig{Breaker: Config{Clock: newFakeClock(), Trip: Any()}})
	require.NoError(t, err)
	rt := RoundTripper(g, tr)
	liveHost := strings.TrimPrefix(srv.URL, "http://")
	failures := func(host string) uint32 {
		if e := g.lookup(host); e != nil {
			return e.b.Counts().Failures
		}
		return 0
	}
	rng := rand.New(rand.NewPCG(29, 1))
	kinds := []string{"ok", "404", "503", "refused", "cancel", "cancel-cause", "errgroup", "deadline", "deadline-cause", "client-timeout"}
	const wait = 3 * time.Millisecond
	for i := range 60 {
		kind := kinds[rng.IntN(len(kinds))]
		host, path := liveHost, "/block"
		ctx, cleanup := context.Background(), func() {}
		switch kind {
		case "ok":
			path = "/"
		case "404", "503":
			path = "/" + kind
		case "refused":
			host = deadAddr
		case "cancel":
			c, cancel := context.WithCancel(ctx)
			time.AfterFunc(wait, cancel)
			ctx, cleanup = c, cancel
		case "cancel-cause":
			c, cancel := context.WithCancelCause(ctx)
			time.AfterFunc(wait, func() { cancel(errors.New("user navigated away")) })
			ctx, cleanup = c, func() { cancel(nil) }
		case "errgroup":
			gctx, cancel := context.WithCancelCause(ctx)
			c, stop := context.WithCancel(gctx)
			time.AfterFunc(wait, func() { cancel(errors.New("other branch failed")) })
			ctx, cleanup = c, func() { stop(); cancel(nil) }
		case "deadline":
			ctx, cleanup = context.WithTimeout(ctx, wait)
		case "deadline-cause":
			ctx, cleanup = context.WithTimeoutCause(ctx, wait, errors.New("request budget spent"))
		}
		before := failures(host)
		req, err := http.NewRequestWithContext(ctx, "GET", "http://"+host+path, nil)
		require.NoError(t, err)
		var resp *http.Response
		if kind == "client-timeout" {
			resp, err = (&http.Client{Transport: rt, Timeout: wait}).Do(req)
		} else {
			resp, err = rt.RoundTrip(req)
		}
		cleanup()
		if resp != nil {
			resp.Body.Close()
		}
		what := fmt.Sprintf("request %d (%s): err %v", i, kind, err)
		require.Equal(t, StateClosed, g.State(host), what) // Trip: Any() never trips
		switch kind {
		case "ok", "404", "cancel", "cancel-cause", "errgroup":
			require.Equal(t, before, failures(host), "%s: counted as a failure", what)
		default:
			require.Equal(t, before+1, failures(host), "%s: not counted as a failure", what)
		}
	}
}
