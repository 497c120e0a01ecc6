package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/tlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startService runs a Service until the test ends.
func startService(t *testing.T, cfg Config) (*Service, func() error) {
	t.Helper()
	svc, err := New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return svc, stop
}

// slowConn opens a connection that sends a request's headers and then only
// part of what it announced: part of the headers (body < 0) or the headers
// and body bytes of a declared 100-byte body.
func slowConn(t *testing.T, svc *Service, user string, body int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", svc.frontLn.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	if body < 0 {
		_, err = fmt.Fprintf(c, "POST /api/send HTTP/1.1\r\nHost: x\r\n%s: %s\r\n", UserHeader, user)
	} else {
		_, err = fmt.Fprintf(c, "POST /api/send HTTP/1.1\r\nHost: x\r\n%s: %s\r\nContent-Type: %s\r\nContent-Length: 100\r\n\r\n%s",
			UserHeader, user, contentType, make([]byte, body))
	}
	require.NoError(t, err)
	return c
}

func send(t *testing.T, api *apiClient, user, id, text string) reply {
	t.Helper()
	b, err := tlv.Marshal(&MessageV1{ID: id, From: user, Text: text})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	r, err := api.do(ctx, http.MethodPost, "/api/send", user, b)
	require.NoError(t, err)
	return r
}

// TestSlowBodiesHoldNoSlot: clients that announce a body and trickle it
// (here: never finish it), three times as many as the front has slots,
// must not keep class 0 from being served; each gets 408 once the budget
// has passed. (Before the body was read ahead of admission, each held a
// slot for as long as its connection stayed open.)
func TestSlowBodiesHoldNoSlot(t *testing.T) {
	svc, _ := startService(t, Config{Slots: 2})
	var slow []net.Conn
	for i := range 3 * svc.cfg.Slots {
		slow = append(slow, slowConn(t, svc, fmt.Sprint("slow", i), 1+i%2))
	}
	require.Eventually(t, func() bool { return svc.inflight.Load() == int64(len(slow)) }, 5*time.Second, 5*time.Millisecond,
		"the slow requests never reached the front's handlers")
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	api := &apiClient{base: svc.URL(), http: &http.Client{Transport: transport}}
	for i := range 10 {
		r := send(t, api, "u1", fmt.Sprint("m", i), "hello")
		require.Equal(t, http.StatusOK, r.code, "send %d with %d slow clients connected: %s", i, len(slow), r.body)
	}
	for i, c := range slow {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err, "slow client %d got no answer", i)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode, "slow client %d", i)
	}
}

// TestShutdownWithSlowClients: Run returns nil within the grace (plus a
// little) although clients hold connections half-way through a request,
// and no goroutine is left. (Before, Shutdown waited 10 s for them and Run
// returned its deadline error: the command exited 1.)
func TestShutdownWithSlowClients(t *testing.T) {
	before := goroutines()
	svc, stop := startService(t, Config{Grace: 500 * time.Millisecond, Budget: 5 * time.Second})
	slowConn(t, svc, "slow-body", 1)
	slowConn(t, svc, "slow-head", -1)
	idle, err := net.Dial("tcp", svc.frontLn.Addr().String())
	require.NoError(t, err)
	defer idle.Close()
	require.Eventually(t, func() bool { return svc.inflight.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
	start := time.Now()
	require.NoError(t, stop())
	took := time.Since(start)
	assert.Less(t, took, 2*time.Second, "Run took %v to return", took)
	requireNoLeak(t, before)
}

// TestMessagesBelongToTheirSender: message ids are per sender, so another
// user's send with the same id cannot replace a message; a request without
// a user is refused.
func TestMessagesBelongToTheirSender(t *testing.T) {
	svc, _ := startService(t, Config{Work: time.Millisecond})
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	api := &apiClient{base: svc.URL(), http: &http.Client{Transport: transport}}
	require.Equal(t, http.StatusOK, send(t, api, "alice", "hello-1", "alice's").code)
	require.Equal(t, http.StatusOK, send(t, api, "mallory", "hello-1", "mallory's").code)

	read := func(reader, query string) MessageV1 {
		r, err := api.do(context.Background(), http.MethodGet, "/api/message?"+query, reader, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, r.code, "%s", r.body)
		var m MessageV1
		require.NoError(t, decodeOpts.Unmarshal(r.body, &m))
		return m
	}
	m := read("alice", "id=hello-1")
	assert.Equal(t, "alice", m.From)
	assert.Equal(t, "alice's", m.Text)
	m = read("bob", "id=hello-1&from=alice")
	assert.Equal(t, "alice's", m.Text)
	m = read("bob", "id=hello-1&from=mallory")
	assert.Equal(t, "mallory's", m.Text)

	for _, path := range []string{"/api/send", "/api/typing?room=r", "/api/message?id=hello-1&from=alice"} {
		method := http.MethodPost
		if path[5] == 'm' {
			method = http.MethodGet
		}
		req, err := http.NewRequest(method, svc.URL()+path, nil)
		require.NoError(t, err)
		resp, err := api.http.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s %s without %s", method, path, UserHeader)
	}
}
