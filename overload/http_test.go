package overload

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// closedController returns a controller whose level sheds business class >= 2.
func closedController(t *testing.T) *Controller {
	t.Helper()
	clk := newFakeClock()
	c, err := New(Config{Clock: clk, WindowRequests: 1 << 20})
	require.NoError(t, err)
	for i := 0; ; i++ {
		require.Less(t, i, 60)
		drive(t, c, clk, 100, 50*time.Millisecond)
		if c.Level().Business < 2 {
			return c
		}
	}
}

func TestMiddleware(t *testing.T) {
	c := closedController(t)
	var seen Priority
	h := Middleware(c, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = PriorityFromContext(r.Context())
		_, _ = io.WriteString(w, "ok")
	}))

	t.Run("admitted", func(t *testing.T) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set(PriorityHeader, "0.5")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusOK, rec.Code)
		assert.Equal(t, c.Level().String(), rec.Header().Get(LevelHeader))
		assert.Equal(t, Priority{Business: 0, User: 5}, seen)
		assert.Equal(t, 0, c.InUse(), "slot released after the handler")
	})
	t.Run("shed", func(t *testing.T) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set(PriorityHeader, "3.0")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
		assert.Equal(t, "1", rec.Header().Get("Retry-After"))
		assert.Equal(t, c.Level().String(), rec.Header().Get(LevelHeader))
	})
	t.Run("no header is lowest priority", func(t *testing.T) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	})
	t.Run("custom priority func", func(t *testing.T) {
		h := Middleware(c, func(*http.Request) Priority { return Priority{} })(http.NotFoundHandler())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		assert.Equal(t, http.StatusNotFound, rec.Code)
	})
}

func TestRoundTripperCollaborativeShedding(t *testing.T) {
	down := closedController(t)
	var hits atomic.Int64
	var gotPriority atomic.Value
	srv := httptest.NewServer(Middleware(down, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		gotPriority.Store(r.Header.Get(PriorityHeader))
	})))
	defer srv.Close()

	clk := newFakeClock()
	g, err := NewGate(GateConfig{Clock: clk})
	require.NoError(t, err)
	client := &http.Client{Transport: RoundTripper(g, srv.Client().Transport)}

	do := func(p Priority) (*http.Response, error) {
		ctx := WithPriority(context.Background(), p)
		req, err := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		require.NoError(t, err)
		resp, err := client.Do(req)
		if resp != nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		if err == nil {
			assert.Empty(t, req.Header.Get(PriorityHeader), "caller's request not modified")
		}
		return resp, err
	}

	resp, err := do(Priority{Business: 0, User: 9})
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "0.9", gotPriority.Load())
	lvl, ok := g.Level(srv.Listener.Addr().String())
	require.True(t, ok, "gate learned the level from the response")
	assert.Equal(t, down.Level(), lvl)

	// A doomed request: the first is the gate's probe and reaches the
	// server (503), the next is shed locally without being sent.
	before := hits.Load()
	resp, err = do(Priority{Business: 3})
	require.NoError(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	_, err = do(Priority{Business: 3})
	require.ErrorIs(t, err, ErrShed)
	assert.Equal(t, before, hits.Load())

	// No priority: sent ungated.
	resp, err = client.Get(srv.URL)
	require.NoError(t, err)
	_ = resp.Body.Close()

	_, err = RoundTripper(g, nil).RoundTrip(nil)
	assert.Error(t, err)
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestRoundTripperClosesBodyOfShedRequest(t *testing.T) {
	g, err := NewGate(GateConfig{})
	require.NoError(t, err)
	g.Observe("down:80", Level{})
	_ = g.Allow("down:80", LowestPriority) // use up the probe
	body := &closeRecorder{Reader: strings.NewReader("x")}
	req, err := http.NewRequestWithContext(WithPriority(context.Background(), LowestPriority), "POST", "http://down:80/", body)
	require.NoError(t, err)
	sent := false
	rt := RoundTripper(g, roundTripFunc(func(*http.Request) (*http.Response, error) { sent = true; return nil, errors.New("unreachable") }))
	_, err = rt.RoundTrip(req)
	require.ErrorIs(t, err, ErrShed)
	assert.True(t, body.closed, "the RoundTripper contract: the body is closed even on error")
	assert.False(t, sent)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestRoundTripperNeverTouchesTheCallersRequest sends random requests (nil
// or filled Header, priority in the context, in the header, valid or not,
// or none) through a RoundTripper and checks that none panics, that the
// caller's request is never written to, and that the request sent carries
// the priority when there is one.
func TestRoundTripperNeverTouchesTheCallersRequest(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var sent *http.Request
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent = r
		h := http.Header{}
		h.Set(LevelHeader, "3.0")
		return &http.Response{StatusCode: 200, Header: h, Body: http.NoBody}, nil
	})
	g, err := NewGate(GateConfig{})
	require.NoError(t, err)
	rt := RoundTripper(g, next)
	for i := range 2000 {
		u, err := url.Parse("http://svc" + strconv.Itoa(rng.IntN(4)) + "/x")
		require.NoError(t, err)
		req := &http.Request{Method: "GET", URL: u}
		ctx := context.Background()
		var want string
		if rng.IntN(2) == 0 {
			req.Header = http.Header{"X-Other": {"v"}}
			switch rng.IntN(3) {
			case 0:
				p := Priority{Business: uint8(rng.IntN(6)), User: uint8(rng.IntN(256))}
				req.Header.Set(PriorityHeader, p.String())
				want = p.String()
			case 1:
				req.Header.Set(PriorityHeader, "not-a-priority")
			}
		}
		if rng.IntN(2) == 0 {
			p := Priority{Business: uint8(rng.IntN(6)), User: uint8(rng.IntN(256))}
			ctx = WithPriority(ctx, p)
			want = p.String()
		}
		req = req.WithContext(ctx)
		before := req.Header.Clone()
		sent = nil
		resp, err := rt.RoundTrip(req)
		assert.Equal(t, before, req.Header, "request %d: caller's Header changed", i)
		if err != nil {
			require.ErrorIs(t, err, ErrShed)
			assert.Nil(t, sent)
			continue
		}
		_ = resp.Body.Close()
		require.NotNil(t, sent)
		if want != "" {
			assert.Equal(t, want, sent.Header.Get(PriorityHeader), "request %d", i)
		}
	}
}
