// Package service_test builds examples/service, runs its -short bad day and
// watches the service's metrics dashboard in a real headless Chromium while
// the scenario runs.
package service_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/e2e/internal/browser"
	"github.com/chromedp/chromedp"
)

// output collects the child's stdout lines as they come.
type output struct {
	mu    sync.Mutex
	lines []string
	dash  chan string
}

func (o *output) text() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.lines, "\n")
}

// TestServiceDashboard builds the example, starts `service -short` on a
// free port, loads its dashboard while the bad day runs, and checks that
// the page draws the service's own series with live data, that it changes
// from one poll to the next, and that the alert table shows the alerts the
// scenario makes fire (overload shedding, the canary's error ratio). The
// scenario runs to its end: its invariants must hold (nothing acknowledged
// lost, no field dropped, no undyed debug line, a clean shutdown); a missed
// service level, or a "machine too busy" verdict, is only logged here,
// since the browser shares the machine (the examples step and
// examples/service's own test require exit 0). With SERVICE_SCREENSHOT
// set, the test runs the full bad day instead (-scenario: the dashboard's
// top movers need 20 s of history before the canary alert fires) and saves
// the viewport there as a PNG while that alert fires.
func TestServiceDashboard(t *testing.T) {
	bin := browser.Find()
	if bin == "" {
		t.Skip("no chromium found: install it (apt-get install chromium) or set CHROMIUM=/path/to/chrome, then run: cd e2e && go test ./service/")
	}
	root, err := filepath.Abs("../..")
	browser.NoErr(t, err)
	exe := filepath.Join(t.TempDir(), "service")
	build := exec.Command("go", "build", "-o", exe, "./examples/service")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/service: %v\n%s", err, out)
	}

	length := "-short"
	if os.Getenv("SERVICE_SCREENSHOT") != "" {
		length = "-scenario"
	}
	cmd := exec.Command(exe, length, "-addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	browser.NoErr(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	browser.NoErr(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill() }()
	out := &output{dash: make(chan string, 1)}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			out.mu.Lock()
			out.lines = append(out.lines, line)
			out.mu.Unlock()
			if f := strings.Fields(line); len(f) == 2 && f[0] == "dashboard:" {
				out.dash <- f[1]
			}
		}
	}()
	var dash string
	select {
	case dash = <-out.dash:
	case <-time.After(30 * time.Second):
		t.Fatalf("no dashboard URL printed:\n%s", out.text())
	}

	ctx := browser.Open(t, bin, 1500, 1000)
	poll := chromedp.WithPollingInterval(100 * time.Millisecond)

	browser.NoErr(t, chromedp.Do(ctx, chromedp.Navigate(dash), chromedp.WaitVisible(chromedp.CSS("svg polyline"))), "the dashboard drew no chart")

	// The service's own series, from every package's wiring, are on the page.
	want := []string{
		`http_requests_total{route="/api/send",code="200"}`,
		`chat_handled_total{variant="v1",outcome="ok"}`,
		`quorum_replica_seconds{zone="zone-b"}`,
		`downstream_calls_total{outcome="ok"}`,
		`gray_canary_share_percent`,
		`overload_level_business`,
	}
	cards := `[...document.querySelectorAll(".card")].map(c => c.dataset.series).join("\n")`
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(`(() => { const s = %s; return %s; })()`, cards, jsAll(want)), poll))
	if err != nil {
		names, _ := chromedp.Run(ctx, chromedp.Evaluate[string](cards))
		t.Fatalf("series missing from the dashboard (%v); want %q; have:\n%s", err, want, names)
	}

	// Live data: the request counter's per-second chart changes between polls.
	sel := `([...document.querySelectorAll(".card")].find(c => c.dataset.series === ` + browser.JSString(want[0]) +
		`)?.querySelector("svg:last-of-type polyline")?.getAttribute("points") ?? "")`
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](sel+` !== ""`, poll))
	browser.NoErr(t, err, "the send counter's per-second chart has no line")
	before, err := chromedp.Run(ctx, chromedp.Evaluate[string](sel))
	browser.NoErr(t, err)
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](sel+` !== `+browser.JSString(before), poll))
	browser.NoErr(t, err, "the per-second chart did not change while the scenario ran")

	// The alerts the scenario makes fire show up as firing.
	firing := func(rule string) string {
		return `[...document.querySelectorAll("#alerts tr")].some(tr => tr.cells[0].textContent === ` + browser.JSString(rule) + ` && tr.cells[1].classList.contains("firing"))`
	}
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](firing("front-shedding"), poll))
	browser.NoErr(t, err, "the overload phase's shedding alert never showed as firing")
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](firing("canary-error-ratio"), poll))
	browser.NoErr(t, err, "the bad release's canary alert never showed as firing")

	// Two more polls, so the charts show the canary's errors, then the picture.
	updates, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.updates`))
	browser.NoErr(t, err)
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`+document.body.dataset.updates >= `+updates+` + 2`, poll))
	browser.NoErr(t, err, "the dashboard stopped polling")
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	browser.NoErr(t, err)
	browser.NoErr(t, os.WriteFile(filepath.Join(t.ArtifactDir(), "service-dashboard.png"), png, 0o644))
	if p := os.Getenv("SERVICE_SCREENSHOT"); p != "" {
		browser.NoErr(t, os.MkdirAll(filepath.Dir(p), 0o755))
		browser.NoErr(t, os.WriteFile(p, png, 0o644))
		t.Logf("screenshot: %s (%d bytes)", p, len(png))
	}

	// The bad day runs to its end. Its invariants (nothing acknowledged
	// lost, no field dropped, no undyed debug line, a clean shutdown) must
	// hold here too; its service levels are required by the examples step
	// and by examples/service's own test, which do not share the machine
	// with a browser, so here a missed one is only reported.
	werr := make(chan error, 1)
	go func() { <-readDone; werr <- cmd.Wait() }()
	select {
	case err = <-werr:
	case <-time.After(60 * time.Second):
		t.Fatalf("the scenario did not finish:\n%s", out.text())
	}
	text := out.text()
	switch {
	case strings.Contains(text, "OK: every phase met its expectations"):
	case err != nil && (strings.Contains(text, "(service level)") || strings.Contains(text, "(machine too busy)")) &&
		!strings.Contains(text, "(invariant)") && !strings.Contains(text, "FAIL startup") && !strings.Contains(text, "interrupted"):
		t.Logf("service levels missed on this machine (the browser shares it):\n%s", text)
	default:
		t.Fatalf("service %s: %v\nstdout:\n%s\nstderr:\n%s", length, err, text, stderr.String())
	}
}

// jsAll is a JS expression true when the string s contains every item.
func jsAll(items []string) string {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = "s.includes(" + browser.JSString(it) + ")"
	}
	return strings.Join(parts, " && ")
}
