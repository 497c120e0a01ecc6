package logging_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark/logging"
)

// noTime drops the time so the output is deterministic.
func noTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// stdout is slog's JSONHandler at its default level (Info): the Handler
// decides what is written, so Debug lines of dyed and failed requests
// still come out.
func stdout() slog.Handler {
	return slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime})
}

func Example() {
	h := logging.NewHandler(stdout(), nil)
	log := slog.New(h)
	alice := logging.WithKey(context.Background(), "alice")
	bob := logging.WithKey(context.Background(), "bob")

	h.Dyes().Add("alice", 10*time.Minute) // alice logs at Debug now
	log.DebugContext(alice, "cache miss", "item", 7)
	log.DebugContext(bob, "cache miss", "item", 8) // bob stays at Info
	log.InfoContext(bob, "login", "password", "hunter2")
	// Output:
	// {"level":"DEBUG","msg":"cache miss","item":7}
	// {"level":"INFO","msg":"login","password":"[REDACTED]"}
}

func ExampleWithFlight() {
	log := slog.New(logging.NewHandler(stdout(), &logging.Options{FlightBytes: 64 << 10}))
	ok := logging.WithFlight(context.Background())
	log.DebugContext(ok, "step 1") // dropped: this request never fails

	bad := logging.WithFlight(context.Background())
	log.DebugContext(bad, "step 1")
	log.DebugContext(bad, "step 2")
	log.ErrorContext(bad, "request failed")
	// Output:
	// {"level":"DEBUG","msg":"step 1"}
	// {"level":"DEBUG","msg":"step 2"}
	// {"level":"ERROR","msg":"request failed"}
}

func ExampleWith() {
	log := slog.New(logging.NewHandler(stdout(), nil))
	ctx := logging.With(context.Background(), slog.String("request", "r-1"))
	ctx = logging.With(ctx, slog.String("api_key", "k-123"))
	log.InfoContext(ctx, "served")
	// Output:
	// {"level":"INFO","msg":"served","request":"r-1","api_key":"[REDACTED]"}
}

func ExampleOptions_hashKeys() {
	opts := &logging.Options{HashKeys: []string{"user"}, HashKey: [16]byte{1, 2, 3}}
	log := slog.New(logging.NewHandler(stdout(), opts))
	log.Info("a", "user", "alice")
	log.Info("b", "user", "alice") // same hash: joinable, not readable
	// Output:
	// {"level":"INFO","msg":"a","user":"h:40ad28c3ee7c9cad4e0aa169"}
	// {"level":"INFO","msg":"b","user":"h:40ad28c3ee7c9cad4e0aa169"}
}

func ExampleSampling() {
	s := &logging.Sampling{First: 2, Thereafter: 3, OnDrop: func(_ slog.Level, msg string, n int) {}}
	clock := fixedClock{time.Unix(1_700_000_000, 0)} // one window for the example
	log := slog.New(logging.NewHandler(stdout(), &logging.Options{Sampling: s, Clock: clock}))
	for i := range 6 {
		log.Info("tick", "i", i) // within one second: 0, 1, then every 3rd
	}
	// Output:
	// {"level":"INFO","msg":"tick","i":0}
	// {"level":"INFO","msg":"tick","i":1}
	// {"level":"INFO","msg":"tick","i":4}
}

func ExampleHandler_DyeAdmin() {
	h := logging.NewHandler(stdout(), nil)
	rec := httptest.NewRecorder()
	h.DyeAdmin().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/dyes?key=alice&ttl=5m", nil))
	fmt.Println(rec.Code, len(h.Dyes().List()))
	// Output:
	// {"level":"INFO","msg":"logging: dye added","dye":"alice","ttl":"5m0s","remote":"192.0.2.1:1234"}
	// 204 1
}

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

func ExampleNew() {
	var buf strings.Builder
	log := logging.New(&buf, &logging.Options{Text: true})
	log.Info("login", "user", "a\nlevel=ERROR msg=forged", "token", "t-1")
	line := buf.String()
	fmt.Print(line[strings.Index(line, "level="):]) // skip the time
	// Output:
	// level=INFO msg=login user="a\nlevel=ERROR msg=forged" token=[REDACTED]
}

// Example_service is the quick start of the package doc: a service whose
// users can be dyed at run time and whose failing requests show their
// debug records, each line naming the user.
func Example_service() {
	log, h := logging.NewWithHandler(os.Stdout, &logging.Options{FlightBytes: 64 << 10, KeyAttr: "user"})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.DebugContext(r.Context(), "cache miss", "item", r.URL.Path)
	})
	mux := http.NewServeMux()
	mux.Handle("/debug/dyes", h.DyeAdmin()) // curl -d key=alice -d ttl=10m host/debug/dyes
	mux.Handle("/", logging.Middleware(h, func(r *http.Request) string { return r.Header.Get("X-User") })(app))
	_ = mux // http.ListenAndServe(addr, mux)
}

// ExampleOptions_keyAttr: with KeyAttr, a dyed request's lines say whose
// request it was; with the key in HashKeys too, joinably but unreadably.
func ExampleOptions_keyAttr() {
	h := logging.NewHandler(stdout(), &logging.Options{KeyAttr: "user"})
	log := slog.New(h)
	h.Dyes().Add("bob", time.Hour)
	log.DebugContext(logging.WithKey(context.Background(), "bob"), "cache lookup", "item", 4)
	// Output:
	// {"level":"DEBUG","msg":"cache lookup","user":"bob","item":4}
}

// ExampleNewWithHandler: text output with the Handler at hand for the dye
// admin endpoint.
func ExampleNewWithHandler() {
	var buf strings.Builder
	log, h := logging.NewWithHandler(&buf, &logging.Options{Text: true})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/debug/dyes", strings.NewReader("key=alice&ttl=5m"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	h.DyeAdmin().ServeHTTP(rec, req)
	log.DebugContext(logging.WithKey(context.Background(), "alice"), "cache miss")
	fmt.Println(rec.Code, strings.Count(buf.String(), "\n"), "lines")
	// Output:
	// 204 2 lines
}

// ExampleWithFlight_values: a buffered record shows a value as it was when
// logged, not as it is at the flush.
func ExampleWithFlight_values() {
	log := slog.New(logging.NewHandler(stdout(), &logging.Options{FlightBytes: 64 << 10}))
	ctx := logging.WithFlight(context.Background())
	cart := map[string]int{"book": 1}
	log.DebugContext(ctx, "cart", "items", cart)
	cart["pen"] = 2
	log.ErrorContext(ctx, "checkout failed", "items", cart)
	// Output:
	// {"level":"DEBUG","msg":"cart","items":{"book":1}}
	// {"level":"ERROR","msg":"checkout failed","items":{"book":1,"pen":2}}
}
