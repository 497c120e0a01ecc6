// Package metrics_test drives the metrics dashboard in a real headless
// Chromium.
package metrics_test

import (
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/e2e/internal/browser"
	"github.com/bulwark-go/bulwark/metrics"
	"github.com/chromedp/chromedp"
)

// markup is a label value an attacker controls; it must show as text.
const markup = `<img src=x onerror="document.body.dataset.pwned=1"><b id="injected">bold</b>`

// helpMarkup is a help text with markup; the card shows it as text.
const helpMarkup = `Requests by <i id="helpinjected">route</i> and code.`

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// TestDashboardInBrowser loads the dashboard served on loopback in headless
// Chromium, waits for the charts, checks the series names, that a chart
// changes after new data, and that a label value holding markup shows as
// text; it saves a screenshot in the test's artifact directory (and to
// $METRICS_SCREENSHOT when set).
func TestDashboardInBrowser(t *testing.T) {
	bin := browser.Find()
	if bin == "" {
		t.Skip("no chromium found: install it (apt-get install chromium) or set CHROMIUM=/path/to/chrome, then run: cd e2e && go test ./metrics/")
	}
	clk := &clock{t: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)}
	r := metrics.NewRegistry(metrics.WithClock(clk))
	reqs := r.CounterVec("http_requests_total", helpMarkup, "route", "code")
	lat := r.HistogramVec("http_request_duration_seconds", "Request latency.", "route")
	inflight := r.Gauge("http_in_flight", "Requests in progress.")
	browser.NoErr(t, r.AddRule(metrics.Rule{Name: "high-error-rate", Metric: "http_requests_total", Labels: []string{"*", "500"},
		Kind: metrics.Ratio, Denominator: "http_requests_total", Above: true, Threshold: 0.05, Window: time.Minute}))
	step := func(n int, errs int) {
		for i := 0; i < n; i++ {
			reqs.With("/api/items", "200").Add(uint64(20 + i%7))
			reqs.With(markup, "200").Add(3)
			reqs.With("/api/items", "500").Add(uint64(errs))
			for j := 0; j < 30; j++ {
				lat.With("/api/items").Observe(0.002 * float64(1+(i+j)%20))
			}
			inflight.Set(float64(5 + i%4))
			r.Tick(clk.add(time.Second))
		}
	}
	movers := r.CounterVec("jobs_total", "Jobs by queue.", "queue")
	step(150, 0) // two and a half minutes of history
	// jobs: six queues at 10/s (queue 0 at 0/s) for 70 s, then for 10 s at
	// 1×, 0.2×, 3×, 1.5× and 8× (queue 0 at 25/s: a rise from 0)
	factors := []float64{0, 1, 0.2, 3, 1.5, 8}
	for i := range factors {
		movers.With(strconv.Itoa(i)).Inc() // history from here on
	}
	step(1, 0)
	for s := 0; s < 80; s++ {
		for i, f := range factors {
			n := 10.0
			if s >= 70 {
				n *= f
			}
			if i == 0 {
				n = 0
				if s >= 70 {
					n = 25
				}
			}
			movers.With(strconv.Itoa(i)).Add(uint64(n))
		}
		step(1, 0)
	}
	srv := httptest.NewServer(metrics.Dashboard(r))
	defer srv.Close()

	ctx := browser.Open(t, bin, 1400, 1100)

	browser.NoErr(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("svg polyline"))))

	names, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".card")].map(c => c.dataset.series)`))
	browser.NoErr(t, err)
	joined := strings.Join(names, "\n")
	for _, want := range []string{`http_requests_total{route="/api/items",code="200"}`, `http_request_duration_seconds{route="/api/items"}`, "http_in_flight", "bulwark_metrics_overflow_total"} {
		if want == "bulwark_metrics_overflow_total" {
			continue // nothing overflowed: the family has no series
		}
		if !strings.Contains(joined, want) {
			t.Fatalf("series %s missing from the page; have:\n%s", want, joined)
		}
	}

	// markup in a label value is text: no element was created from it, the
	// onerror never ran, and the literal text is on the page
	injected, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("injected") !== null || document.querySelector(".card img") !== null || document.body.dataset.pwned === "1"`))
	browser.NoErr(t, err)
	if injected {
		t.Fatal("label markup became elements")
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("charts").textContent`))
	browser.NoErr(t, err)
	if !strings.Contains(text, markup) {
		t.Fatalf("label value not shown as text; page text:\n%s", text)
	}

	// help texts are text on the cards, markup included
	helps, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".card .help")].map(e => e.textContent)`))
	browser.NoErr(t, err)
	if !slices.Contains(helps, helpMarkup) || !slices.Contains(helps, "Jobs by queue.") {
		t.Fatalf("help texts missing from the cards; have %q", helps)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("helpinjected") !== null`)); n {
		t.Fatal("help markup became an element")
	}

	// the movers table is ordered by the relative change it shows
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#movers tbody tr")].map(tr => tr.cells[0].textContent + "|" + tr.cells[4].textContent + "|" + tr.dataset.relative)`))
	browser.NoErr(t, err)
	if len(rows) < 5 {
		t.Fatalf("movers table has %d rows, want the 5 queues that moved: %q", len(rows), rows)
	}
	prev := math.Inf(1)
	for _, row := range rows {
		parts := strings.Split(row, "|")
		rel, err := strconv.ParseFloat(parts[2], 64)
		browser.NoErr(t, err, row)
		if rel > prev {
			t.Fatalf("movers not sorted by the relative change shown: %q", rows)
		}
		prev = rel
	}
	if !strings.HasPrefix(rows[0], `jobs_total{queue="0"}|from 0`) || !strings.Contains(rows[1], `jobs_total{queue="5"}|+700.0 %`) {
		t.Fatalf("top movers: want queue 0 (from 0), then queue 5 (+700 %%); have %q", rows)
	}

	// a chart changes after new data
	sel := `document.querySelector('.card[data-series^="http_in_flight"] svg:last-of-type polyline').getAttribute("points")`
	before, err := chromedp.Run(ctx, chromedp.Evaluate[string](sel))
	browser.NoErr(t, err)
	if before == "" {
		t.Fatal("the per-second chart has no line")
	}
	step(5, 40) // new data: the error rate jumps and the rule fires
	for _, x := range []int{30, 31, 32} {
		inflight.Set(float64(x))
		r.Tick(clk.add(time.Second))
	}
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('.card[data-series^="http_in_flight"] svg:last-of-type polyline').getAttribute("points") !== `+browser.JSString(before), chromedp.WithPollingInterval(100*time.Millisecond)))
	browser.NoErr(t, err, "the per-second chart did not change after new data")
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`[...document.querySelectorAll("#alerts td.firing")].length > 0`, chromedp.WithPollingInterval(100*time.Millisecond)))
	browser.NoErr(t, err, "the alert table does not show the firing rule")

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	browser.NoErr(t, err)
	dir := t.ArtifactDir()
	browser.NoErr(t, os.WriteFile(filepath.Join(dir, "dashboard.png"), png, 0o644))
	if p := os.Getenv("METRICS_SCREENSHOT"); p != "" {
		browser.NoErr(t, os.WriteFile(p, png, 0o644))
	}
	t.Logf("screenshot: %s (%d bytes)", filepath.Join(dir, "dashboard.png"), len(png))
}
