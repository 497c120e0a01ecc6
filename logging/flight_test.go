package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFlightModel logs random records (random sizes and levels) on flight
// requests and checks: the buffer never exceeds FlightBytes; before the
// first Error the output holds the newest buffered records that fit, in
// order; a request that never errs writes none of its debug records.
func TestFlightModel(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 5))
		limit := 500 + rng.IntN(4000)
		var got []string
		h := NewHandler(idRecorder(&got), &Options{FlightBytes: limit})
		ctx := WithFlight(context.Background())
		f := stateFrom(ctx).flight
		type rec struct {
			id   string
			size int
		}
		var buffered []rec
		var want []string
		failed := false
		n := 1 + rng.IntN(60)
		for i := range n {
			id := fmt.Sprint(i)
			r := slog.NewRecord(timeZero, slog.LevelDebug, "m", 0)
			r.AddAttrs(slog.String("id", id), slog.String("pad", strings.Repeat("x", rng.IntN(400))))
			switch x := rng.IntN(10); {
			case x == 0:
				r.Level = slog.LevelError
			case x < 3:
				r.Level = slog.LevelInfo
			}
			require.True(t, h.Enabled(ctx, r.Level))
			require.NoError(t, h.Handle(ctx, r))
			switch {
			case r.Level >= slog.LevelError && !failed:
				// newest records that fit, in order
				total, start := 0, len(buffered)
				for start > 0 && total+buffered[start-1].size <= limit {
					start--
					total += buffered[start].size
				}
				for _, b := range buffered[start:] {
					want = append(want, b.id)
				}
				want = append(want, id)
				failed, buffered = true, nil
			case r.Level >= slog.LevelInfo || failed:
				want = append(want, id)
			default:
				if s := recordSize(r); s <= limit {
					buffered = append(buffered, rec{id, s})
				}
			}
			f.mu.Lock()
			require.LessOrEqual(t, f.bytes, limit, "seed %d", seed)
			f.mu.Unlock()
		}
		require.Equal(t, want, got, "seed %d", seed)
	}
}

func TestFlightNotWrittenWithoutError(t *testing.T) {
	var got []string
	h := NewHandler(recorder(&got), &Options{FlightBytes: 1 << 16})
	log := slog.New(h)
	ctx := WithFlight(context.Background())
	log.DebugContext(ctx, "d1")
	log.InfoContext(ctx, "i1")
	log.DebugContext(context.Background(), "no flight")
	require.Equal(t, []string{"i1"}, got)
	// A handler without FlightBytes ignores the flight.
	var got2 []string
	h2 := NewHandler(recorder(&got2), nil)
	require.False(t, h2.Enabled(ctx, slog.LevelDebug))
}

func TestFlightEvictionReported(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, &Options{FlightBytes: 2 * recordOverhead})
	ctx := WithFlight(context.Background())
	for i := range 5 {
		log.DebugContext(ctx, "d", "i", i)
	}
	log.ErrorContext(ctx, "boom")
	ms := parseJSONLines(t, buf.Bytes())
	require.Equal(t, "flight recorder dropped earlier records", ms[0]["msg"])
	require.Equal(t, "boom", ms[len(ms)-1]["msg"])
}

func TestMiddlewareFlight(t *testing.T) {
	var buf bytes.Buffer
	h := NewHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug - 10}), &Options{FlightBytes: 1 << 16})
	log := slog.New(h)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.DebugContext(r.Context(), "step", "user", r.Header.Get("X-User"))
		if r.URL.Path == "/fail" {
			log.ErrorContext(r.Context(), "failed")
		}
	})
	srv := Middleware(h, func(r *http.Request) string { return r.Header.Get("X-User") })(app)
	for _, p := range []string{"/ok", "/fail"} {
		req := httptest.NewRequest("GET", p, nil)
		req.Header.Set("X-User", "u"+p)
		srv.ServeHTTP(httptest.NewRecorder(), req)
	}
	ms := parseJSONLines(t, buf.Bytes())
	require.Len(t, ms, 2)
	require.Equal(t, "u/fail", ms[0]["user"])
	require.Equal(t, "failed", ms[1]["msg"])
}

func TestRingKeepsLast(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		size := 1 + rng.IntN(20)
		h := NewHandler(slog.DiscardHandler, &Options{RingSize: size})
		log := slog.New(h).With("svc", "x").WithGroup("g")
		n := rng.IntN(60)
		for i := range n {
			log.Info("m", "i", i)
		}
		rec := httptest.NewRecorder()
		h.Ring().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		require.Equal(t, 200, rec.Code)
		lines := parseJSONLines(t, rec.Body.Bytes())
		require.Len(t, lines, min(n, size))
		for j, m := range lines {
			require.Equal(t, "x", m["svc"])
			g := m["g"].(map[string]any)
			require.Equal(t, float64(n-len(lines)+j), g["i"])
		}
	}
}

var _ = json.Marshal
