package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var secretRE = regexp.MustCompile(`S[0-9]+Z`)

var plainKeys = []string{"user", "count", "ok", "pass", "tokens", "secretary", "passwordx", "k", "id", "cookies", "api", "x"}

// randomKey returns a key and whether the default denylist covers it.
func randomKey(rng *rand.Rand) (string, bool) {
	if rng.IntN(3) == 0 {
		k := defaultRedactKeys[rng.IntN(len(defaultRedactKeys))]
		var b strings.Builder
		for _, r := range k {
			switch {
			case r == 's' && rng.IntN(8) == 0:
				b.WriteRune('ſ') // folds to s
			case r == 'k' && rng.IntN(4) == 0:
				b.WriteRune('\u212a') // Kelvin sign folds to k
			case (r == '-' || r == '_') && rng.IntN(2) == 0:
				b.WriteRune('-' + '_' - r)
			case rng.IntN(2) == 0:
				b.WriteString(strings.ToUpper(string(r)))
			default:
				b.WriteRune(r)
			}
		}
		return b.String(), true
	}
	return plainKeys[rng.IntN(len(plainKeys))], false
}

type valuer struct{ v slog.Value }

func (v valuer) LogValue() slog.Value { return v.v }

type treeGen struct {
	rng    *rand.Rand
	n      int
	plains []string
}

func (g *treeGen) token(secret bool) string {
	g.n++
	if secret {
		return fmt.Sprintf("S%dZ", g.n)
	}
	s := fmt.Sprintf("P%dZ", g.n)
	g.plains = append(g.plains, s)
	return s
}

// attr builds a random attribute; under is true below a denied key.
func (g *treeGen) attr(depth int, under bool) slog.Attr {
	key, denied := g.randomKey()
	sec := under || denied
	var a slog.Attr
	switch r := g.rng.IntN(10); {
	case r < 3 && depth < 4:
		n := g.rng.IntN(4)
		kids := make([]any, 0, n)
		for range n {
			kids = append(kids, g.attr(depth+1, sec))
		}
		if n == 0 { // an empty group vanishes; keep a leaf so values are checked
			kids = append(kids, g.attr(depth+1, sec))
		}
		a = slog.Group(key, kids...)
		if !denied && !under && g.rng.IntN(6) == 0 {
			a.Key = "" // inlined group: members are at this level
		}
	case r < 4:
		a = slog.Any(key, valuer{slog.StringValue(g.token(sec))})
	case r < 5 && depth < 4:
		kid := g.attr(depth+1, sec)
		a = slog.Any(key, valuer{slog.GroupValue(kid)})
	case r < 6:
		a = slog.Any(key, fmt.Errorf("err %s", g.token(sec)))
	default:
		a = slog.String(key, g.token(sec))
	}
	return a
}

func (g *treeGen) randomKey() (string, bool) { return randomKey(g.rng) }

func randomMessage(rng *rand.Rand) string {
	parts := []string{"login", "password=hunter2", "token", " ", "Authorization: Bearer x", "ok", "ſecret"}
	var b strings.Builder
	for range rng.IntN(4) {
		b.WriteString(parts[rng.IntN(len(parts))])
	}
	return b.String()
}

// TestRedactionGenerative logs random attribute trees through random
// With/WithGroup/context chains and checks that no value below a denied
// key appears, every other value does, and the message is intact.
func TestRedactionGenerative(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		text := seed%2 == 1
		var buf bytes.Buffer
		h := NewHandler(newNext(&buf, text), nil)
		g := &treeGen{rng: rng}
		var sh slog.Handler = h
		under := false
		ctx := context.Background()
		ctxCalls := 0
		for range rng.IntN(5) {
			switch rng.IntN(3) {
			case 0:
				name, denied := g.randomKey()
				sh = sh.WithGroup(name)
				under = under || denied
			case 1:
				n := 1 + rng.IntN(3)
				as := make([]slog.Attr, n)
				for i := range as {
					as[i] = g.attr(0, under)
				}
				sh = sh.WithAttrs(as)
			case 2:
				ctxCalls++
			}
		}
		// Context attributes land inside the handler's open groups, so
		// whether they are secret depends on the final group chain.
		for range ctxCalls {
			ctx = With(ctx, g.attr(0, under))
		}
		msg := randomMessage(rng)
		r := slog.NewRecord(timeZero, slog.LevelInfo, msg, 0)
		for range 1 + rng.IntN(6) {
			r.AddAttrs(g.attr(0, under))
		}
		require.NoError(t, sh.Handle(ctx, r))
		out := buf.String()
		assert.False(t, secretRE.MatchString(out), "seed %d: a secret leaked:\n%s", seed, out)
		for _, p := range g.plains {
			assert.Contains(t, out, p, "seed %d: plain value lost:\n%s", seed, out)
		}
		var got string
		if text {
			ms := parseTextLines(t, buf.Bytes())
			require.Len(t, ms, 1)
			got, _ = ms[0]["msg"].(string)
		} else {
			var m map[string]any
			require.NoError(t, json.Unmarshal(buf.Bytes(), &m))
			got, _ = m["msg"].(string)
		}
		assert.Equal(t, msg, got, "seed %d: message rewritten", seed)
	}
}

func newNext(buf *bytes.Buffer, text bool) slog.Handler {
	o := &slog.HandlerOptions{Level: slog.Level(math.MinInt), ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey || a.Key == slog.LevelKey {
			return slog.Attr{}
		}
		return a
	}}
	if text {
		return slog.NewTextHandler(buf, o)
	}
	return slog.NewJSONHandler(buf, o)
}
