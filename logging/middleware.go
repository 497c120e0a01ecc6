package logging

import (
	"net/http"
)

// Middleware tags each request's context with key(r) (when key is non-nil
// and returns a non-empty key) and, when the handler has FlightBytes > 0,
// a flight buffer that is freed when the request returns. The key is not
// logged unless Options.KeyAttr names an attribute for it.
func Middleware(h *Handler, key func(*http.Request) string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			if key != nil {
				if k := key(r); k != "" {
					ctx = WithKey(ctx, k)
				}
			}
			var f *flight
			if h.c.flightN > 0 {
				ctx = WithFlight(ctx)
				f = stateFrom(ctx).flight
			}
			next.ServeHTTP(w, r.WithContext(ctx))
			if f != nil {
				f.release()
			}
		})
	}
}
