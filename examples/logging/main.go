// Command logging shows per-user dyeing and the flight recorder: two users,
// alice and bob, hit a service on loopback. Midway, an operator dyes bob
// through the admin endpoint, and from then on bob's requests log at Debug
// while alice's stay at Info. Finally one of alice's requests fails, and
// the debug records it buffered are written just before its error.
//
//	go run ./examples/logging          # 20 requests per phase
//	go run ./examples/logging -short   # 4 requests per phase
//
// It exits non-zero if bob's debug lines do not appear only after the dye,
// or if the failing request's buffered records are missing.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/bulwark-go/bulwark/logging"
)

// syncBuffer collects the log while the example also echoes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	out io.Writer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	return s.out.Write(p)
}

func main() {
	short := flag.Bool("short", false, "fewer requests")
	flag.Parse()
	if err := run(*short); err != nil {
		fmt.Fprintln(os.Stderr, "logging example:", err)
		os.Exit(1)
	}
}

func run(short bool) error {
	n := 20
	if short {
		n = 4
	}
	out := &syncBuffer{out: os.Stdout}
	// KeyAttr puts each request's key (the user) on its lines.
	log, h := logging.NewWithHandler(out, &logging.Options{FlightBytes: 32 << 10, RingSize: 100, KeyAttr: "user"})

	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		log.DebugContext(ctx, "cache lookup", "hit", false)
		log.DebugContext(ctx, "db query", "rows", 3)
		if r.URL.Query().Get("fail") != "" {
			log.ErrorContext(ctx, "request failed", "err", errors.New("db: deadline exceeded"))
			http.Error(w, "failed", http.StatusInternalServerError)
			return
		}
		log.InfoContext(ctx, "request done", "password", "never-logged")
	})
	mux := http.NewServeMux()
	mux.Handle("/api", logging.Middleware(h, func(r *http.Request) string { return r.Header.Get("X-User") })(app))
	mux.Handle("/debug/dyes", h.DyeAdmin())
	mux.Handle("/debug/log", h.Ring())

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Shutdown(context.Background())
	base := "http://" + ln.Addr().String()

	call := func(method, path, user string, form url.Values) (int, error) {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, base+path, body)
		if err != nil {
			return 0, err
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("X-User", user)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	traffic := func() error {
		for range n {
			for _, u := range []string{"alice", "bob"} {
				if _, err := call("GET", "/api", u, nil); err != nil {
					return err
				}
			}
		}
		return nil
	}

	fmt.Println("--- phase 1: nobody dyed")
	if err := traffic(); err != nil {
		return err
	}
	mark := countDebug(out, "bob")
	fmt.Println("--- phase 2: dye bob for 10 minutes through the admin endpoint (curl -d key=bob -d ttl=10m)")
	if code, err := call("POST", "/debug/dyes", "operator", url.Values{"key": {"bob"}, "ttl": {"10m"}}); err != nil || code != http.StatusNoContent {
		return fmt.Errorf("dye bob: %d %v", code, err)
	}
	if err := traffic(); err != nil {
		return err
	}
	fmt.Println("--- phase 3: one of alice's requests fails")
	if _, err := call("GET", "/api?fail=1", "alice", nil); err != nil {
		return err
	}

	// Checks.
	if mark != 0 {
		return fmt.Errorf("bob logged %d debug lines before the dye", mark)
	}
	if got := countDebug(out, "bob"); got != 2*n {
		return fmt.Errorf("bob logged %d debug lines after the dye, want %d", got, 2*n)
	}
	if got := countDebug(out, "alice"); got != 2 {
		return fmt.Errorf("alice: %d debug lines, want the failing request's 2", got)
	}
	out.mu.Lock()
	text := out.buf.String()
	out.mu.Unlock()
	if strings.Contains(text, "never-logged") {
		return errors.New("a password reached the log")
	}
	fmt.Println("--- ok: bob dyed at run time, alice's failure flushed its debug records, no secret logged")
	return nil
}

// countDebug counts DEBUG lines for user in the collected output.
func countDebug(s *syncBuffer, user string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, line := range bytes.Split(s.buf.Bytes(), []byte{'\n'}) {
		var m map[string]any
		if json.Unmarshal(line, &m) != nil {
			continue
		}
		if m["level"] == "DEBUG" && m["user"] == user {
			n++
		}
	}
	return n
}
