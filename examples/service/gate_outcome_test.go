package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/grayroute"
	"github.com/bulwark-go/bulwark/metrics"
	"github.com/stretchr/testify/require"
)

// A dependency being unavailable (503) is not the release's failure: the
// plan's gate and the canary alert see only the code's own errors, so a
// zone lost for a moment cannot roll a healthy v2 back.
func TestUnavailableIsNotTheReleasesError(t *testing.T) {
	reg := metrics.NewRegistry()
	tel := newTelemetry(reg)
	codes := []int{http.StatusOK, http.StatusServiceUnavailable, http.StatusInternalServerError,
		http.StatusServiceUnavailable, http.StatusOK, http.StatusBadGateway}
	var next int
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(codes[next%len(codes)])
		next++
	})
	handler := byVariant(h, h, tel, &holdMeter{})
	start := time.Now().Truncate(time.Second)
	reg.Tick(start)
	for _, variant := range []string{"v1", "v2"} {
		ctx := grayroute.WithDecisions(context.Background(), []grayroute.Decision{{Release: release, Variant: variant}})
		for range codes {
			handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil))
		}
	}
	reg.Tick(start.Add(time.Second))
	for _, variant := range []string{"v1", "v2"} {
		h, err := metricsHealth{reg}.Health(context.Background(), release, variant, start)
		require.NoError(t, err)
		require.Equal(t, int64(4), h.Requests, variant) // 2 ok, 500, 502: the two 503s left out
		require.Equal(t, int64(2), h.Errors, variant)
	}
	require.Equal(t, uint64(4), tel.canaryReqs.Value())
	require.Equal(t, uint64(2), tel.canaryErrs.Value())
	require.Equal(t, uint64(2), tel.handled.With("v2", "unavailable").Value())
}
