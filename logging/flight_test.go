package logging

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// chargedSize is what a flight buffer charges for r logged on ctx.
func chargedSize(h *Handler, ctx context.Context, r slog.Record) int {
	r = r.Clone()
	h.prepare(&r, stateFrom(ctx))
	var k keptRecord
	keep(&k, h, &r, h.c.flightMode, true, 0)
	return k.size
}

var flightLevels = []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, slog.LevelError + 4}

// TestFlightModel logs random records (random sizes, levels, handler
// levels including ones above Error and LevelNever, context attributes,
// a hashed key, KeyAttr) on flight requests and checks against a model:
// the buffer never exceeds FlightBytes; the first Error-or-above record,
// whatever the handler's level, writes the newest buffered records that
// fit, in order, then itself; after it every record is written; a request
// that never errs writes none of its below-level records; and every line
// is prepared exactly once (one context attribute, the hash of the raw
// value).
func TestFlightModel(t *testing.T) {
	hashRE := regexp.MustCompile(`"uid":"(h:[0-9a-f]{24})"`)
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 5))
		limit := 200 + rng.IntN(4000)
		level := []slog.Leveler{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, slog.LevelError + 1, LevelNever()}[rng.IntN(6)]
		var buf bytes.Buffer
		opts := &Options{FlightBytes: limit, Level: level, HashKeys: []string{"uid", "who"}, HashKey: [16]byte{byte(seed)}}
		if rng.IntN(2) == 0 {
			opts.KeyAttr = "who"
		}
		_, h := NewWithHandler(&buf, opts)
		ctx := WithFlight(context.Background())
		if rng.IntN(2) == 0 {
			ctx = With(ctx, slog.String("req", fmt.Sprint("r", seed)))
		}
		ctx = WithKey(ctx, "user-7")
		f := stateFrom(ctx).flight
		type rec struct {
			id   string
			size int
		}
		var buffered []rec
		var want []string
		failed := false
		for i := range 1 + rng.IntN(60) {
			id := fmt.Sprint(i)
			l := flightLevels[rng.IntN(len(flightLevels))]
			r := slog.NewRecord(timeZero, l, "m", 0)
			r.AddAttrs(slog.String("id", id), slog.String("uid", fmt.Sprint("u", rng.IntN(3))), slog.String("pad", strings.Repeat("x", rng.IntN(400))))
			require.True(t, h.Enabled(ctx, l))
			size := chargedSize(h, ctx, r)
			require.NoError(t, h.Handle(ctx, r))
			switch {
			case l >= slog.LevelError && !failed:
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
			case l >= level.Level() || failed:
				want = append(want, id)
			default:
				if size <= limit {
					buffered = append(buffered, rec{id, size})
				}
			}
			f.mu.Lock()
			require.LessOrEqual(t, f.bytes, limit, "seed %d", seed)
			f.mu.Unlock()
		}
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			if line == "" {
				continue
			}
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(line), &m), line)
			if m["msg"] == "logging: flight recorder dropped earlier records" {
				continue
			}
			got = append(got, m["id"].(string))
			require.LessOrEqual(t, strings.Count(line, `"req":`), 1, "seed %d: prepared twice: %s", seed, line)
			require.LessOrEqual(t, strings.Count(line, `"who":`), 1, "seed %d: prepared twice: %s", seed, line)
			hm := hashRE.FindStringSubmatch(line)
			require.NotNil(t, hm, "seed %d: %s", seed, line)
			ok := false
			for u := range 3 {
				ok = ok || hm[1] == hashOf(opts.HashKey, fmt.Sprint("u", u))
			}
			require.True(t, ok, "seed %d: uid hashed twice: %s", seed, line)
			if opts.KeyAttr != "" {
				require.Equal(t, hashOf(opts.HashKey, "user-7"), m["who"], "seed %d", seed)
			}
		}
		require.Equal(t, want, got, "seed %d level %v", seed, level)
	}
}

// hashOf is HashKeys' hash computed independently.
func hashOf(key [16]byte, text string) string {
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(text))
	return "h:" + hex.EncodeToString(m.Sum(nil)[:12])
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
	log, h := NewWithHandler(&buf, &Options{FlightBytes: 1 << 10})
	ctx := WithFlight(context.Background())
	r := slog.NewRecord(timeZero, slog.LevelDebug, "d", 0)
	r.AddAttrs(slog.Int("i", 0))
	per := chargedSize(h, ctx, r)
	n := 1<<10/per + 3 // three more than fit
	for i := range n {
		log.DebugContext(ctx, "d", "i", i)
	}
	log.WithGroup("req").ErrorContext(ctx, "boom")
	ms := parseJSONLines(t, buf.Bytes())
	require.Equal(t, "logging: flight recorder dropped earlier records", ms[0]["msg"])
	require.Equal(t, float64(3), ms[0]["dropped"], "at the top level, not in the caller's group")
	require.Len(t, ms, 1+(n-3)+1)
	require.Equal(t, float64(3), ms[1]["i"])
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
