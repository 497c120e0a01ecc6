package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/bulwark-go/bulwark/grayroute"
	"github.com/bulwark-go/bulwark/logging"
	"github.com/bulwark-go/bulwark/metrics"
)

// telemetry is every metric the service keeps. The packages never see it:
// each reports through its own hooks, and the funcs below (wired in
// service.go) turn those reports into counters and gauges.
type telemetry struct {
	reg *metrics.Registry

	httpReqs *metrics.CounterVec   // route, code: every response, sheds included
	httpLat  *metrics.HistogramVec // route

	handled    *metrics.CounterVec   // variant, outcome (ok/error/unavailable): requests the handlers ran
	handlerLat *metrics.HistogramVec // variant
	canaryReqs *metrics.Counter      // the canary's requests and errors, for the rollback alert
	canaryErrs *metrics.Counter
	grayShare  *metrics.Gauge      // the plan's canary share in percent
	grayEvents *metrics.CounterVec // event (advance/rollback)
	grayLost   *metrics.Counter    // downstream answers whose variant differed from ours

	shed     *metrics.CounterVec // reason: overload refusals at the front
	levelB   *metrics.Gauge      // admission level, business part (255 = open)
	capacity *metrics.Gauge      // the Controller's measured capacity, req/s

	replicaLat *metrics.HistogramVec // replica (zone)
	replicaErr *metrics.CounterVec   // replica (zone)
	repairs    *metrics.CounterVec   // replica (zone): successful repairs only

	downCalls       *metrics.CounterVec // outcome (ok/error/shed): calls that reached the transport
	fallbacks       *metrics.Counter
	breakerOpen     *metrics.Gauge // 1 while the downstream's breaker is not closed
	breakerTrans    *metrics.CounterVec
	breakerRejected *metrics.Counter

	logSampled *metrics.Counter
}

func newTelemetry(reg *metrics.Registry) *telemetry {
	return &telemetry{
		reg:      reg,
		httpReqs: reg.CounterVec("http_requests_total", "Responses of the chat API by route and status code (sheds included).", "route", "code"),
		httpLat:  reg.HistogramVec("http_request_duration_seconds", "Time to answer a chat API request, queueing included.", "route"),

		handled:    reg.CounterVec("chat_handled_total", "Requests the v1 or v2 handlers ran, by outcome.", "variant", "outcome"),
		handlerLat: reg.HistogramVec("chat_handler_seconds", "Handler time by variant (inside the overload slot).", "variant"),
		canaryReqs: reg.Counter("gray_canary_requests_total", "Requests served by the canary (v2)."),
		canaryErrs: reg.Counter("gray_canary_errors_total", "Canary (v2) requests that failed."),
		grayShare:  reg.Gauge("gray_canary_share_percent", "The staged plan's canary share."),
		grayEvents: reg.CounterVec("gray_plan_events_total", "Plan advances and rollbacks.", "event"),
		grayLost:   reg.Counter("gray_propagation_mismatch_total", "Downstream answers made in another gray lane than the request's."),

		shed:     reg.CounterVec("overload_shed_total", "Requests the front refused, by reason.", "reason"),
		levelB:   reg.Gauge("overload_level_business", "Admission level, business class (255: open)."),
		capacity: reg.Gauge("overload_capacity_rps", "Capacity the Controller measured, requests per second."),

		replicaLat: reg.HistogramVec("quorum_replica_seconds", "Replica call latency.", "zone"),
		replicaErr: reg.CounterVec("quorum_replica_errors_total", "Replica calls that failed.", "zone"),
		repairs:    reg.CounterVec("quorum_repairs_total", "Records written back to stale replicas (successful writes only).", "zone"),

		downCalls:       reg.CounterVec("downstream_calls_total", "Calls to the preview service that were sent or gated, by outcome.", "outcome"),
		fallbacks:       reg.Counter("downstream_fallbacks_total", "Previews answered by the fallback."),
		breakerOpen:     reg.Gauge("downstream_breaker_open", "1 while the preview service's breaker is open or half-open."),
		breakerTrans:    reg.CounterVec("downstream_breaker_transitions_total", "Breaker state changes by new state.", "to"),
		breakerRejected: reg.Counter("downstream_breaker_rejected_total", "Calls the breaker refused without sending."),

		logSampled: reg.Counter("log_sampled_out_total", "Log records dropped by sampling."),
	}
}

// newLogger builds the log pipeline: slog's JSON (or text) handler behind
// logging's handler, which adds dyes, sampling, the flight recorder and
// redaction. The inner handler accepts every level: logging decides.
func newLogger(w io.Writer, text bool, tel *telemetry) (*slog.Logger, *logging.Handler) {
	inner := &slog.HandlerOptions{Level: slog.Level(math.MinInt)}
	var next slog.Handler = slog.NewJSONHandler(w, inner)
	if text {
		next = slog.NewTextHandler(w, inner)
	}
	h := logging.NewHandler(next, &logging.Options{
		Level:       slog.LevelInfo,
		FlightBytes: 16 << 10,
		RingSize:    256,
		Sampling: &logging.Sampling{First: 10, Thereafter: 100, Interval: time.Second,
			OnDrop: func(slog.Level, string, int) { tel.logSampled.Inc() }},
	})
	return slog.New(h), h
}

// metricsHealth is the gray plan's HealthSource, read from the metrics
// history: what the planner judges is what the dashboard shows.
type metricsHealth struct{ reg *metrics.Registry }

// Health sums the variant's per-second points that end after since. P99 is
// the request-weighted mean of the per-second p99s: per-second histograms
// cannot be merged from their quantiles, and the same estimate for both
// variants keeps the ratio the gate compares fair (a variant with few
// requests per second has a lower per-second p99, so the estimate never
// makes a small canary look slower than it is).
func (m metricsHealth) Health(_ context.Context, _, variant string, since time.Time) (grayroute.Health, error) {
	var h grayroute.Health
	for _, outcome := range []string{"ok", "error"} {
		pts, err := m.history("chat_handled_total", variant, outcome)
		if err != nil {
			return h, err
		}
		for _, p := range pts {
			if p.Time.Add(time.Second).After(since) {
				h.Requests += int64(p.Value)
				if outcome == "error" {
					h.Errors += int64(p.Value)
				}
			}
		}
	}
	pts, err := m.history("chat_handler_seconds", variant)
	if err != nil {
		return h, err
	}
	var sum, n float64
	for _, p := range pts {
		if p.Time.Add(time.Second).After(since) && p.Count > 0 && !math.IsNaN(p.P99) {
			sum += p.P99 * p.Count
			n += p.Count
		}
	}
	if n > 0 {
		h.P99 = time.Duration(sum / n * float64(time.Second))
	}
	return h, nil
}

// history is Registry.History with "no data yet" as no points.
func (m metricsHealth) history(name string, labels ...string) ([]metrics.Point, error) {
	pts, err := m.reg.History(name, time.Second, labels...)
	if errors.Is(err, metrics.ErrUnknownMetric) || errors.Is(err, metrics.ErrNoHistory) {
		return nil, nil
	}
	return pts, err
}
