package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

// hostile returns a random string rich in line breaks, control characters,
// Unicode separators and invalid UTF-8.
func hostile(rng *rand.Rand) string {
	var b strings.Builder
	for range rng.IntN(20) {
		switch rng.IntN(6) {
		case 0:
			b.WriteByte(byte(rng.IntN(0x20))) // any C0 control
		case 1:
			b.WriteString([]string{"\n", "\r", "\u2028", "\u2029", "\u0085", "\x7f", "\u200b", "\ufeff"}[rng.IntN(8)])
		case 2:
			b.WriteByte(byte(0x80 + rng.IntN(0x80))) // stray byte
		case 3:
			b.WriteString([]string{"=", "\"", " ", "\\", "level=ERROR msg=forged", "time="}[rng.IntN(6)])
		default:
			b.WriteRune(rune('a' + rng.IntN(26)))
		}
	}
	return b.String()
}

func checkTextLine(t *testing.T, msg, key, val string) {
	t.Helper()
	var buf bytes.Buffer
	log := New(&buf, &Options{Text: true, NoDefaultRedact: true})
	log.Info(msg, slog.String(key, val), slog.Group("g", slog.String(key, val)))
	out := buf.String()
	require.Equal(t, 1, strings.Count(out, "\n"), "extra line in %q", out)
	require.True(t, strings.HasSuffix(out, "\n"))
	line := strings.TrimSuffix(out, "\n")
	for _, sep := range []string{"\r", "\u2028", "\u2029", "\u0085"} {
		require.NotContains(t, line, sep)
	}
	for _, c := range line {
		require.False(t, c < 0x20 || c == 0x7f, "raw control %U in %q", c, line)
	}
	kv, err := parseLogfmt(line)
	require.NoError(t, err, "%q", line)
	got := map[string]string{}
	for _, p := range kv {
		got[p[0]] = p[1]
	}
	require.Equal(t, msg, got["msg"], "%q", line)
	if key != "" {
		require.Equal(t, val, got[key], "%q", line)
		require.Equal(t, val, got["g."+key], "%q", line)
	}
}

func TestTextOutputCannotForgeLines(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		checkTextLine(t, hostile(rng), hostile(rng), hostile(rng))
	}
	// Every single control character and separator, alone.
	for c := rune(0); c < 0x20; c++ {
		checkTextLine(t, string(c), "k"+string(c), string(c))
	}
	// Every control, format and line/paragraph separator rune.
	for c := rune(0x7f); c <= unicode.MaxRune; c++ {
		if unicode.IsControl(c) || unicode.In(c, unicode.Zl, unicode.Zp, unicode.Cf) {
			checkTextLine(t, "m"+string(c), "k"+string(c), string(c)+"v")
		}
	}
}

func FuzzTextOutput(f *testing.F) {
	f.Add("a\nb", "k\r", "v\u2028")
	f.Add("level=ERROR msg=x", "=", "\"")
	f.Add("\xff", "\u2029", "\x00")
	f.Fuzz(func(t *testing.T, msg, key, val string) {
		if strings.Contains(key, ".") {
			return // a dot in a key is ambiguous with group nesting in logfmt
		}
		checkTextLine(t, msg, key, val)
	})
}

var _ = context.Background

// unicodeLines splits as Unicode-aware readers do (Python's
// str.splitlines): at \n, \r, \v, \f, \x1c-\x1e, U+0085, U+2028, U+2029.
func unicodeLines(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		switch r {
		case '\n', '\r', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			return true
		}
		return false
	})
}

// TestJSONOutputLinesSplitAlike: New's JSON output and the Ring's lines
// split into the same lines by \n and by a Unicode-aware splitter, each a
// valid JSON object keeping the logged text, whatever messages, keys and
// values hold (the review found a raw U+0085 split a record in two).
func TestJSONOutputLinesSplitAlike(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var buf bytes.Buffer
	log, h := NewWithHandler(&buf, &Options{NoDefaultRedact: true, RingSize: 8, FlightBytes: 1 << 16})
	for i := range 1000 {
		buf.Reset()
		msg, key, val := hostile(rng), hostile(rng)+"k", hostile(rng)
		ctx := WithFlight(context.Background())
		log.DebugContext(ctx, msg, slog.String(key, val), slog.Any("b", []byte(val)))
		log.ErrorContext(ctx, msg, slog.Group("g", slog.String(key, val)))
		rec := httptest.NewRecorder()
		h.Ring().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		for _, out := range []string{buf.String(), rec.Body.String()} {
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			require.Equal(t, lines, unicodeLines(out), "case %d: %q", i, out)
			for _, line := range lines[len(lines)-2:] { // the ring holds earlier cases too
				var m map[string]any
				require.NoError(t, json.Unmarshal([]byte(line), &m), "case %d: %q", i, line)
				require.Equal(t, perByteValid(msg), m["msg"])
			}
		}
	}
}

// perByteValid replaces each invalid byte with U+FFFD, as slog's JSON does.
func perByteValid(s string) string {
	var b strings.Builder
	for _, r := range s { // range yields U+FFFD for each invalid byte
		b.WriteRune(r)
	}
	return b.String()
}
