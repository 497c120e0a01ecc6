package logging

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHashKeysGenerative: values of hashed keys never appear raw, equal
// values hash equal, different values (almost surely) differ, and a key
// that is both hashed and denylisted is redacted.
func TestHashKeysGenerative(t *testing.T) {
	hashRE := regexp.MustCompile(`^h:[0-9a-f]{24}$`)
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 13))
		var buf bytes.Buffer
		opts := &Options{HashKeys: []string{"user", "Token"}, HashKey: [16]byte{byte(seed)}}
		log := slog.New(NewHandler(newNext(&buf, false), opts))
		vals := make([]string, 1+rng.IntN(5))
		for i := range vals {
			vals[i] = fmt.Sprintf("V%dX%d", seed, rng.IntN(3))
		}
		seen := map[string]string{}
		for _, v := range vals {
			buf.Reset()
			key := []string{"user", "USER", "uSeR"}[rng.IntN(3)]
			log.Info("m", key, v, slog.Group("g", "user", v), "token", v)
			out := buf.String()
			require.NotContains(t, out, v, "seed %d", seed)
			ms := parseJSONLines(t, buf.Bytes())
			h := ms[0][key].(string)
			assert.Regexp(t, hashRE, h)
			assert.Equal(t, h, ms[0]["g"].(map[string]any)["user"])
			assert.Equal(t, Redacted, ms[0]["token"], "deny beats hash")
			if prev, ok := seen[v]; ok {
				assert.Equal(t, prev, h)
			}
			for ov, oh := range seen {
				if ov != v {
					assert.NotEqual(t, oh, h)
				}
			}
			seen[v] = h
		}
	}
}

// TestFlightConcurrent: goroutines log on one flight request while one of
// them errs; every record is written at most once, none is lost when the
// buffer is large enough, and -race sees no race.
func TestFlightConcurrent(t *testing.T) {
	var got []string
	h := NewHandler(recorder(&got), &Options{FlightBytes: 1 << 24})
	log := slog.New(h)
	ctx := WithFlight(context.Background())
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				log.DebugContext(ctx, fmt.Sprintf("d%d-%d", g, i))
				if g == 0 && i == 100 {
					log.ErrorContext(ctx, "boom")
				}
			}
		})
	}
	wg.Wait()
	require.Len(t, got, 801)
	uniq := map[string]bool{}
	for _, m := range got {
		uniq[m] = true
	}
	require.Len(t, uniq, 801)
	// Each goroutine's records come out in the order it logged them.
	last := map[string]int{}
	for _, m := range got {
		if m == "boom" {
			continue
		}
		var g, i int
		_, err := fmt.Sscanf(strings.TrimPrefix(m, "d"), "%d-%d", &g, &i)
		require.NoError(t, err)
		prev, ok := last[fmt.Sprint(g)]
		require.True(t, !ok || i > prev, "goroutine %d: %d after %d", g, i, prev)
		last[fmt.Sprint(g)] = i
	}
}

func TestNilInputsDoNotPanic(t *testing.T) {
	h := NewHandler(nil, nil)
	//lint:ignore SA1012 a nil context must not panic
	assert.False(t, h.Enabled(nil, slog.LevelDebug)) //nolint:staticcheck
	//lint:ignore SA1012 a nil context must not panic
	assert.NoError(t, h.Handle(nil, slog.NewRecord(timeZero, slog.LevelInfo, "m", 0))) //nolint:staticcheck
	//lint:ignore SA1012 a nil context must not panic
	_ = WithKey(nil, "k") //nolint:staticcheck
}

// textValue is a TextMarshaler whose text is a token.
type textValue struct{ s string }

func (v textValue) MarshalText() ([]byte, error) { return []byte(v.s), nil }

// hashGen builds random attribute trees whose leaves are unique tokens and
// records, for each token, whether it must appear raw, hashed or redacted.
type hashGen struct {
	rng    *rand.Rand
	json   bool // []byte shows as base64 in JSON
	n      int
	plain  []string
	hashed []string
	secret []string
}

func (g *hashGen) key() string {
	return []string{"user", "UID", "uSer", "token", "name", "id", "g", "Password"}[g.rng.IntN(8)]
}

// mode of a key below a parent mode (0 plain, 1 hashed, 2 redacted).
func keyMode(parent int, key string) int {
	switch {
	case parent == 2 || strings.EqualFold(key, "token") || strings.EqualFold(key, "password"):
		return 2
	case parent == 1 || strings.EqualFold(key, "user") || strings.EqualFold(key, "uid"):
		return 1
	}
	return 0
}

func (g *hashGen) leaf(mode int) slog.Value {
	g.n++
	tok := fmt.Sprintf("T%dQ", g.n)
	switch mode {
	case 0:
		g.plain = append(g.plain, tok)
	case 1:
		g.hashed = append(g.hashed, tok)
	default:
		g.secret = append(g.secret, tok)
	}
	switch g.rng.IntN(5) {
	case 0:
		if mode == 0 && g.json {
			g.plain[len(g.plain)-1] = base64.StdEncoding.EncodeToString([]byte(tok))
		}
		return slog.AnyValue([]byte(tok))
	case 1:
		return slog.AnyValue(textValue{tok})
	case 2:
		return slog.AnyValue(errors.New(tok))
	case 3:
		return slog.AnyValue(valuer{slog.StringValue(tok)})
	}
	return slog.StringValue(tok)
}

func (g *hashGen) attr(depth, parent int) slog.Attr {
	k := g.key()
	m := keyMode(parent, k)
	if depth < 3 && g.rng.IntN(3) == 0 {
		n := 1 + g.rng.IntN(3)
		kids := make([]slog.Attr, n)
		for i := range kids {
			kids[i] = g.attr(depth+1, m)
		}
		if g.rng.IntN(4) == 0 {
			return slog.Any(k, valuer{slog.GroupValue(kids...)})
		}
		return slog.Attr{Key: k, Value: slog.GroupValue(kids...)}
	}
	return slog.Attr{Key: k, Value: g.leaf(m)}
}

// TestHashKeysChainsGenerative: random chains of WithGroup (hashed,
// denied and plain names), WithAttrs, context attributes and records
// with groups, LogValuers, []byte, TextMarshaler and error leaves. Every
// leaf under a hashed key appears only as the hash of its text (computed
// independently), every leaf under a denied key not at all, every other
// leaf raw. The review found WithGroup("user") left values readable and
// []byte hashed as "[97 108 …]".
func TestHashKeysChainsGenerative(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 43))
		var buf bytes.Buffer
		key := [16]byte{byte(seed), 9}
		h := NewHandler(newNext(&buf, seed%2 == 1), &Options{HashKeys: []string{"user", "uid"}, HashKey: key})
		g := &hashGen{rng: rng, json: seed%2 == 0}
		var sh slog.Handler = h
		mode := 0
		ctx := context.Background()
		var ctxAttrs int
		for range rng.IntN(5) {
			switch rng.IntN(3) {
			case 0:
				name := g.key()
				sh = sh.WithGroup(name)
				mode = keyMode(mode, name)
			case 1:
				sh = sh.WithAttrs([]slog.Attr{g.attr(0, mode)})
			default:
				ctxAttrs++
			}
		}
		for range ctxAttrs { // context attributes land in the open groups
			ctx = With(ctx, g.attr(0, mode))
		}
		r := slog.NewRecord(timeZero, slog.LevelInfo, "m", 0)
		for range 1 + rng.IntN(5) {
			r.AddAttrs(g.attr(0, mode))
		}
		require.NoError(t, sh.Handle(ctx, r))
		out := buf.String()
		for _, tok := range g.plain {
			require.Contains(t, out, tok, "seed %d", seed)
		}
		for _, tok := range append(g.hashed, g.secret...) {
			require.NotContains(t, out, tok, "seed %d: %s readable:\n%s", seed, tok, out)
			require.NotContains(t, out, base64.StdEncoding.EncodeToString([]byte(tok)), "seed %d: %s readable:\n%s", seed, tok, out)
		}
		for _, tok := range g.hashed {
			require.Contains(t, out, hashOf(key, tok), "seed %d: %s not hashed by its text:\n%s", seed, tok, out)
		}
	}
}
