package metrics

import (
	_ "embed"
	"net/http"
)

//go:embed dashboard.html
var dashboardHTML []byte

// Dashboard serves a live view of r: one self-contained HTML page (no
// external scripts, styles or fonts) that polls the registry's JSON
// snapshot every second and draws, per series, an SVG chart of the last 60
// minutes (per minute) and of the last 5 minutes (per second), with p50 and
// p99 lines for histograms, under the metric's name, label values and help
// text; the alert table with state and since-when; and the top movers with
// their relative change, in the order SnapshotHandler ranks them. Label
// values, help texts and rule names are inserted as text nodes, never as
// markup, so values from user input cannot inject HTML.
//
// Mount it on its own path; the page fetches "?data=1" from its own URL,
// which the handler answers with SnapshotHandler's document and its query
// parameters, with at most DashboardSeries (50) series per metric: that is
// the default limit, and a larger one is capped to it. A bad parameter gets
// 400 with the reason, as from SnapshotHandler.
func Dashboard(r *Registry) http.Handler {
	snap := r.snapshotHandler(DashboardSeries, DashboardSeries)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Query().Get("data") != "" {
			snap.ServeHTTP(w, req)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(dashboardHTML)
	})
}
