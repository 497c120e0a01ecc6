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
// p99 lines for histograms; the alert table with state and since-when; and
// the top movers. Label values and help texts are inserted as text nodes,
// never as markup, so values from user input cannot inject HTML.
//
// Mount it on its own path; the page fetches "?data=1" from its own URL,
// which the handler answers with SnapshotHandler's document (at most 50
// series per metric).
func Dashboard(r *Registry) http.Handler {
	snap := r.SnapshotHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Query().Get("data") != "" {
			q := req.URL.Query()
			if q.Get("limit") == "" {
				q.Set("limit", "50")
			}
			req2 := req.Clone(req.Context())
			req2.URL.RawQuery = q.Encode()
			snap.ServeHTTP(w, req2)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(dashboardHTML)
	})
}
