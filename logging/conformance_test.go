package logging

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"math"
	"strings"
	"testing"
	"testing/slogtest"

	"github.com/stretchr/testify/require"
)

func parseJSONLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal(line, &m), "line %q", line)
		out = append(out, m)
	}
	return out
}

// parseTextLines reads slog text output (key=value, values bare or Go-quoted).
func parseTextLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		kv, err := parseLogfmt(sc.Text())
		require.NoError(t, err, "line %q", sc.Text())
		m := map[string]any{}
		for _, p := range kv {
			cur := m
			parts := strings.Split(p[0], ".")
			for _, g := range parts[:len(parts)-1] {
				sub, ok := cur[g].(map[string]any)
				if !ok {
					sub = map[string]any{}
					cur[g] = sub
				}
				cur = sub
			}
			cur[parts[len(parts)-1]] = p[1]
		}
		out = append(out, m)
	}
	return out
}

func TestSlogtestNewHandler(t *testing.T) {
	lowest := &slog.HandlerOptions{Level: slog.Level(math.MinInt)}
	for _, tc := range []struct {
		name  string
		next  func(*bytes.Buffer) slog.Handler
		parse func(*testing.T, []byte) []map[string]any
	}{
		{"json", func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, lowest) }, parseJSONLines},
		{"text", func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, lowest) }, parseTextLines},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			slogtest.Run(t, func(*testing.T) slog.Handler {
				buf.Reset()
				return NewHandler(tc.next(&buf), nil)
			}, func(t *testing.T) map[string]any {
				ms := tc.parse(t, buf.Bytes())
				require.Len(t, ms, 1)
				return ms[0]
			})
		})
	}
}

func TestSlogtestNew(t *testing.T) {
	for _, text := range []bool{false, true} {
		parse := parseJSONLines
		if text {
			parse = parseTextLines
		}
		var buf bytes.Buffer
		slogtest.Run(t, func(*testing.T) slog.Handler {
			buf.Reset()
			return New(&buf, &Options{Text: text}).Handler()
		}, func(t *testing.T) map[string]any {
			ms := parse(t, buf.Bytes())
			require.Len(t, ms, 1)
			return ms[0]
		})
	}
}
