package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Value types a caller may log and change afterwards.
type cart struct{ Items []string }

type stackErr struct {
	msg   string
	frame *string
}

func (e *stackErr) Error() string { return e.msg }
func (e *stackErr) Format(s fmt.State, verb rune) {
	if verb == 'v' && s.Flag('+') {
		_, _ = io.WriteString(s, e.msg+"\n\tat "+*e.frame)
		return
	}
	_, _ = io.WriteString(s, e.msg)
}

type jsonErr struct{ code *int }

func (e jsonErr) Error() string                { return fmt.Sprint("code ", *e.code) }
func (e jsonErr) MarshalJSON() ([]byte, error) { return json.Marshal(map[string]int{"code": *e.code}) }

type counter struct{ n int }

func (c *counter) String() string { return fmt.Sprint("count=", c.n) }

type ipish struct{ b []byte }

func (p *ipish) MarshalText() ([]byte, error) { return append([]byte("ip:"), p.b...), nil }

type badJSON struct{ C chan int }

type mapValuer struct{ m map[string]int }

func (v mapValuer) LogValue() slog.Value { return slog.AnyValue(v.m) }

type userID int64

// mutable is a logged value and how the caller changes it afterwards.
type mutable struct {
	v      any
	mutate func()
}

func randomMutable(rng *rand.Rand, depth int) mutable {
	switch rng.IntN(13) {
	case 0:
		m := map[string]int{"a": 1, "b": rng.IntN(9)}
		return mutable{m, func() { m["z"] = 26; delete(m, "a") }}
	case 1:
		s := []string{"x", "y"}
		return mutable{s, func() { s[0] = "changed" }}
	case 2:
		c := &cart{Items: []string{"book"}}
		return mutable{c, func() { c.Items = append(c.Items, "pen", "ink") }}
	case 3:
		b := []byte("payload")
		return mutable{b, func() { copy(b, "XXXXXXX") }}
	case 4:
		frame := "main.go:1"
		e := &stackErr{msg: "stack", frame: &frame}
		return mutable{e, func() { frame = "changed.go:9"; e.msg = "other" }}
	case 5:
		code := 7
		return mutable{jsonErr{&code}, func() { code = 500 }}
	case 6:
		c := &counter{n: 1}
		return mutable{c, func() { c.n = 99 }}
	case 7:
		p := &ipish{b: []byte("10.0.0.1")}
		return mutable{p, func() { p.b[0] = '9' }}
	case 8:
		e := fmt.Errorf("wrapped: %w", errors.New("inner"))
		return mutable{e, func() {}}
	case 9:
		m := map[string]int{"k": 1}
		return mutable{mapValuer{m}, func() { m["k"] = 2 }}
	case 10:
		return mutable{badJSON{}, func() {}}
	case 11:
		return mutable{userID(rng.IntN(100)), func() {}}
	}
	if depth > 2 {
		return mutable{nil, func() {}}
	}
	a, b := randomMutable(rng, depth+1), randomMutable(rng, depth+1)
	g := []slog.Attr{slog.Any("a", a.v), slog.Any("b", b.v)}
	return mutable{slog.GroupValue(g...), func() { a.mutate(); b.mutate(); g[0] = slog.String("a", "replaced") }}
}

// fmtHandler stands for a handler this package does not know: it writes
// every value with %+v, marking errors, so the test sees what such a
// handler would.
type fmtHandler struct {
	mu  *sync.Mutex
	w   io.Writer
	pre string
}

func (f fmtHandler) Enabled(context.Context, slog.Level) bool { return true }
func (f fmtHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%v %s%s", r.Level, r.Message, f.pre)
	var add func(prefix string, a slog.Attr)
	add = func(prefix string, a slog.Attr) {
		v := a.Value.Resolve()
		if v.Kind() == slog.KindGroup {
			for _, c := range v.Group() {
				add(prefix+a.Key+".", c)
			}
			return
		}
		if _, ok := v.Any().(error); ok && v.Kind() == slog.KindAny {
			fmt.Fprintf(&b, " %s%s=ERR(%+v)", prefix, a.Key, v.Any())
			return
		}
		fmt.Fprintf(&b, " %s%s=%+v", prefix, a.Key, v.Any())
	}
	r.Attrs(func(a slog.Attr) bool { add("", a); return true })
	f.mu.Lock()
	defer f.mu.Unlock()
	_, err := fmt.Fprintln(f.w, b.String())
	return err
}
func (f fmtHandler) WithAttrs(as []slog.Attr) slog.Handler {
	for _, a := range as {
		f.pre += fmt.Sprintf(" %s=%+v", a.Key, a.Value.Resolve().Any())
	}
	return f
}
func (f fmtHandler) WithGroup(name string) slog.Handler { f.pre += " [" + name + "]"; return f }

// TestKeptRecordsShowLogTimeValues logs random values (maps, slices,
// struct pointers, byte slices, errors with and without %+v detail or
// MarshalJSON, Stringers, TextMarshalers, LogValuers, values JSON cannot
// encode, groups of them) on a flight request and to a ring, changes every
// one of them afterwards, and checks that the flushed lines and the ring's
// lines are byte for byte what a direct handler wrote at log time: JSON,
// text, and a handler the package does not know.
func TestKeptRecordsShowLogTimeValues(t *testing.T) {
	for seed := range uint64(150) {
		rng := rand.New(rand.NewPCG(seed, 17))
		var out, ref, refRing bytes.Buffer
		mu := &sync.Mutex{}
		kind := rng.IntN(3)
		next := func(w io.Writer) slog.Handler {
			switch kind {
			case 0:
				return slog.NewJSONHandler(w, nil)
			case 1:
				return slog.NewTextHandler(w, nil)
			}
			return fmtHandler{mu: mu, w: w}
		}
		opts := &Options{FlightBytes: 1 << 20, RingSize: 64}
		h := NewHandler(next(&out), opts)
		direct := NewHandler(next(&ref), &Options{Level: slog.LevelDebug})
		ringRef := NewHandler(slog.NewJSONHandler(&refRing, nil), &Options{Level: slog.LevelDebug})
		var sh, sd, sr slog.Handler = h, direct, ringRef
		var mutations []func()
		for range rng.IntN(3) {
			if rng.IntN(2) == 0 {
				name := fmt.Sprint("g", rng.IntN(9))
				sh, sd, sr = sh.WithGroup(name), sd.WithGroup(name), sr.WithGroup(name)
				continue
			}
			m := randomMutable(rng, 0)
			mutations = append(mutations, m.mutate)
			as := []slog.Attr{slog.Any("with", m.v)}
			sh, sd, sr = sh.WithAttrs(as), sd.WithAttrs(as), sr.WithAttrs(as)
		}
		ctx := WithFlight(context.Background())
		t0 := time.Unix(1_700_000_000, 0)
		n := 1 + rng.IntN(6)
		for i := range n {
			level := slog.LevelDebug
			if i == n-1 {
				level = slog.LevelError // the flush
			}
			r := slog.NewRecord(t0.Add(time.Duration(i)), level, fmt.Sprint("rec ", i), 0)
			if level == slog.LevelError {
				for _, m := range mutations { // buffered values change before the flush
					m()
				}
			}
			for j := range 1 + rng.IntN(6) {
				m := randomMutable(rng, 0)
				mutations = append(mutations, m.mutate)
				r.AddAttrs(slog.Any(fmt.Sprint("k", j), m.v))
			}
			require.NoError(t, sd.Handle(ctx, r.Clone()))
			require.NoError(t, sr.Handle(ctx, r.Clone()))
			require.NoError(t, sh.Handle(ctx, r))
		}
		for _, m := range mutations {
			m()
		}
		require.Equal(t, ref.String(), out.String(), "seed %d kind %d: flushed records", seed, kind)
		rec := httptest.NewRecorder()
		h.Ring().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		require.Equal(t, refRing.String(), rec.Body.String(), "seed %d kind %d: ring", seed, kind)
	}
}

// TestRingDoesNotReadLoggedMaps: the review's crash. A map logged into the
// ring and then changed by the app must not be read by a GET (a map read
// while written is a fatal error; the race detector sees the read).
func TestRingDoesNotReadLoggedMaps(t *testing.T) {
	h := NewHandler(slog.DiscardHandler, &Options{RingSize: 16, FlightBytes: 1 << 16})
	log := slog.New(h)
	m := map[string]int{}
	for i := range 50 {
		m[fmt.Sprint("k", i)] = i
	}
	ctx := WithFlight(context.Background())
	log.Info("state", "m", m)
	log.With("m", m).Info("with")
	log.DebugContext(ctx, "buffered", "m", m)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			m[fmt.Sprint("y", i%50)] = i
			delete(m, fmt.Sprint("y", (i+25)%50))
		}
	})
	for range 200 {
		rec := httptest.NewRecorder()
		h.Ring().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		require.Equal(t, 200, rec.Code)
	}
	log.ErrorContext(ctx, "boom") // flushes the buffered map
	close(done)
	wg.Wait()
}
