package metrics

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzLabelsAndSnapshotQuery feeds arbitrary bytes as label values and as
// a snapshot query string: With never panics, the kept value is the
// specified cleaning (valid UTF-8, at most MaxLabelValueLen bytes), two
// values with the same cleaning share a series, and the snapshot handler
// answers 200 with valid JSON, or 400/404 with a reason.
func FuzzLabelsAndSnapshotQuery(f *testing.F) {
	f.Add("a\xff", "b\xfe", "limit=3&history=second")
	f.Add(strings.Repeat("\xffa", 600), "é", "limit=0")
	f.Add("", "<b>", "metric=x_total&limit=99999999999999999999")
	f.Add("\uFFFD", "\xed\xa0\x80", "history=bogus&limit=%ff")
	f.Fuzz(func(t *testing.T, a, b, query string) {
		r := NewRegistry(WithMaxSeries(3), WithClock(fixedClock{t0}))
		v := r.CounterVec("x_total", "help "+a, "a", "b")
		c := v.With(a, b)
		c.Inc()
		if v.With(cleanValue(a), cleanValue(b)) != c {
			t.Fatalf("%q %q: the cleaned values are another series", a, b)
		}
		for _, s := range v.f.all() {
			for _, x := range s.values {
				if !utf8.ValidString(x) || len(x) > MaxLabelValueLen {
					t.Fatalf("kept value %q", x)
				}
			}
		}
		if got, want := cleanValue(a), cutClean(a); got != want {
			t.Fatalf("cleanValue(%q) = %q, want %q", a, got, want)
		}
		r.Tick(t0.Add(2 * 1e9))
		rec := httptest.NewRecorder()
		r.SnapshotHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/?"+asQuery(query), nil))
		switch rec.Code {
		case 200:
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("query %q: invalid JSON", query)
			}
		case 400, 404:
			if !strings.HasPrefix(rec.Body.String(), "metrics: ") {
				t.Fatalf("query %q: %d without a reason: %q", query, rec.Code, rec.Body.String())
			}
		default:
			t.Fatalf("query %q: status %d", query, rec.Code)
		}
		r.WriteText(bufio.NewWriter(io.Discard))
	})
}

// asQuery makes s usable as a request target's query (httptest.NewRequest
// panics on a malformed target).
func asQuery(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '#' {
			b.WriteString("%")
			b.WriteString(strings.ToUpper(string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&15])))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
