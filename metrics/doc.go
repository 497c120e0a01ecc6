// Package metrics is monitoring embedded in the process: cheap counters,
// gauges and histograms, bounded label sets, per-second and per-minute
// history, alert rules evaluated in process, Prometheus exposition, a push
// sink and a live dashboard — in the spirit of WeChat's OssAttr monitoring,
// where every module reports integer counters aggregated per minute and
// alerts compare against the recent past.
//
// # Quick start
//
//	reg := metrics.NewRegistry()
//	reqs := reg.CounterVec("http_requests_total", "Requests by route and code.", "route", "code")
//	lat := reg.HistogramVec("http_request_duration_seconds", "Latency.", "route")
//
//	// in the handler
//	start := time.Now()
//	...
//	reqs.With("/items", "200").Inc()
//	lat.With("/items").Observe(time.Since(start).Seconds())
//
//	// alert when more than 5 % of /items requests fail over a minute
//	_ = reg.AddRule(metrics.Rule{Name: "items-errors", Metric: "http_requests_total",
//		Labels: []string{"/items", "500"}, Kind: metrics.Ratio,
//		Denominator: "http_requests_total", DenominatorLabels: []string{"/items", "*"},
//		Above: true, Threshold: 0.05, For: 30 * time.Second, MinCount: 100,
//		OnFire: func(a metrics.Alert) { log.Println("firing", a.Rule, a.Value) }})
//
//	mux.Handle("/metrics", reg.Handler())            // Prometheus text format 0.0.4
//	mux.Handle("/debug/metrics", metrics.Dashboard(reg))
//	go reg.Run(ctx)                                  // ticks every second until ctx ends
//
// (Example_quickStart is this code, compiled and run.)
//
// # Model
//
// A Registry holds metric families by name. Counter, Gauge and Histogram
// register a metric without labels; CounterVec, GaugeVec and HistogramVec
// one with labels, whose With(values...) returns the series for a label
// combination. Attr is the OssAttr shape: a module id and keys 0..keys-1,
// exposed as name{id="…",key="…"}; the ids of one name share its series
// cap. Registering a name again returns the same metric when kind, help and
// labels agree and panics otherwise; names and label names follow
// Prometheus's rules, and a histogram's _bucket, _sum and _count names are
// reserved with it.
//
// Nothing runs by itself. Tick(now) closes every second that ended before
// now (and the minutes among them), evaluates the rules and queues the
// closed minutes for the sinks; Run(ctx) calls it every second and owns the
// sink goroutines, which stop before it returns.
//
// # Bounded by construction
//
// A vector holds at most WithMaxSeries label combinations (default 10,000).
// Past that, new combinations share one overflow series whose label values
// are all "__overflow__"; existing series are never evicted, and
// bulwark_metrics_overflow_total{metric="…",reason="series"} counts the With
// calls folded into it. A label value is cleaned (each run of invalid UTF-8
// becomes U+FFFD) and then cut at a rune boundary to MaxLabelValueLen
// (1 KiB); values with the same result share a series and count once
// against the cap, even past it. The ids of an Attr name count against the
// cap too (keys+1 series each; the first id always fits); past it an Attr
// call for a new id returns the name's overflow Attr. An Attr key out of range goes to the id's overflow key
// (reason="key").
//
// A series costs about 300 bytes plus its label text: a million distinct
// label values into one vector grow the heap by about 3 MiB (10,000 series
// kept). A counter that cores contend on adds its padded cells (see
// Counter): 1 KiB at GOMAXPROCS 2, at most 8 KiB + 32 B, so a vector of
// counters all hammered from 16 or more cores at once can reach MaxSeries ×
// 8.3 KiB (about 80 MiB at the default cap). Label text is at most
// 2 × MaxSeries × labels × MaxLabelValueLen per vector (series and their
// aliases).
//
// History is charged to WithHistoryBudget (default 64 MiB) at its heap
// cost, allocator rounding included: 14,528 bytes per counter or gauge
// series, 67,296 per histogram series, of which 32 × 512 bytes are bucket
// snapshots reserved up front but allocated only for the bucket ranges the
// histogram uses (figures for 64-bit Go 1.26; the registry measures them
// at run time). A series gets history when it first closes a second with
// activity (a counter or histogram that counted something, a gauge that
// reads other than 0), so the default budget holds about 4,600 counter
// series; a series past the budget has none (History returns ErrNoHistory,
// reason="history" counts it) but is still exposed, alerted on and sent to
// sinks.
//
// # Histograms
//
// Buckets are fixed and identical in every process, so histograms merge:
// base-2 exponential at scale 3, bucket i holding (2^((i-1)/8), 2^(i/8)],
// the layout of OpenTelemetry exponential histograms at scale 3 and of
// Prometheus native histograms with schema 3, with the bounds as the very
// float64 values client_golang uses (a test in benchmarks/metrics compares
// every bound), so a later export of values in (2^-64, 2^64] to either is
// lossless. A quantile is reported as the harmonic mean of its bucket's
// bounds, within 4.33 % of the observation of that rank for values in
// [2^-64, 2^64] (5.4e-20 to 1.8e19); Quantile(q) is NaN for q outside
// (0, 1]. Values ≤ 0 count in a zero bucket,
// values above 2^64 only in +Inf, NaN not at all. Observe in base units
// (seconds, bytes). The text exposition lists the cumulative count at every
// bucket bound that has held an observation, then +Inf.
//
// # History and alerts
//
// History(name, step, labels...) returns per-second points for the last 5
// minutes or per-minute points for the last 24 hours: a counter's increase,
// a gauge's value at the close, a histogram's count, sum, p50, p90 and p99.
// Counters are read, not reset, at each close, so no increment is lost: the
// points of a series sum exactly to its total. Increments between two Ticks
// go to the last second the later Tick closes. Times, from Tick or the
// clock, are clamped to years 1 to 9999, so no clock can break the history.
//
// Rules are evaluated at every Tick (Anomaly rules at each closed minute)
// and follow Prometheus: the condition must hold at every evaluation for
// For before the rule fires, and a firing rule stays firing KeepFiringFor
// after the condition stops, both exact to the Tick. MinCount keeps a rule
// quiet on too little data (a ratio over three requests). Threshold
// measures a counter's rate per second or a gauge's mean over Window; Ratio
// divides two increases, each series set chosen by labels (Labels,
// DenominatorLabels); Percentile takes a histogram's quantile over Window;
// Anomaly compares the Threshold value with the same minute yesterday, or
// with an EWMA (α = 0.2, after 5 minutes) while less than a day exists. A
// rule reads its series at every evaluation and keeps a sample every
// Window/60 (at least every second), so a window spans Window to Window +
// Window/60. NaN gauge readings are left out, and Anomaly baselines learn
// only finite values. AddRule refuses rules that could never fire. OnFire
// and OnResolve run after Tick releases its locks.
//
// # Sinks and exposition
//
// Handler serves the Prometheus text format; SnapshotHandler a JSON document
// (shape in its doc) of the series with their history, the alerts and the
// top movers, at most MaxSnapshotSeries (1,000) series per metric, streamed
// without holding up Tick, bad query parameters answered 400 with the
// reason; Dashboard a self-contained HTML page (no external assets) drawing
// them as SVG, at most 50 series per metric, label values and help texts
// always inserted as text. AddSink adds a Sink fed each closed
// minute from a queue of SinkQueue minutes per sink; a full queue drops the
// minute and counts it in bulwark_metrics_sink_dropped_total. Package
// metricstest has a fake clock, a recording sink and TestSink for
// implementations.
//
// # Performance
//
// Counter.Inc is one load and one compare-and-swap while uncontended; the
// first failed swap gives the counter 4×GOMAXPROCS (at most 64) padded cells
// picked by goroutine stack address, as Java's LongAdder does. A With whose
// values hold invalid UTF-8 or pass MaxLabelValueLen allocates while it has
// no alias (the raw values of such a long value never get one). With on an
// existing series is a seeded hash and a lock-free table probe, no lock and
// no allocation; Histogram.Observe is one atomic add and a compare-and-swap
// for the sum. See benchmarks/metrics/RESULTS.md for figures against
// Prometheus client_golang and VictoriaMetrics/metrics.
//
// # What it does not do
//
// It does not expose OpenMetrics or protobuf, native histograms in the text
// format, exemplars or summaries; it does not evict idle series or
// unregister metrics; negative histogram observations are counted in the zero
// bucket (their quantile reads 0); counters wrap at 2^64 rather than
// saturate; reads racing with writers are not linearizable snapshots;
// history is in memory only and lost on restart.
package metrics
