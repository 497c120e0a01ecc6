// Package metricstest helps test code that uses package metrics: a fake
// Clock, an in-memory Recorder sink, and TestSink, a conformance suite for
// implementations of metrics.Sink (as testing/slogtest is for slog
// handlers).
package metricstest

import (
	"context"
	"errors"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/metrics"
)

// Clock is a settable metrics.Clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Set sets the time.
func (c *Clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// Advance moves the time by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// Recorder is a metrics.Sink that keeps every Interval it receives. Err, if
// set, is returned by every Export (after recording).
type Recorder struct {
	mu  sync.Mutex
	ivs []metrics.Interval
	Err error
}

// Export records iv.
func (r *Recorder) Export(_ context.Context, iv metrics.Interval) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ivs = append(r.ivs, CloneInterval(iv))
	return r.Err
}

// Intervals returns a copy of what was recorded, in order.
func (r *Recorder) Intervals() []metrics.Interval {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]metrics.Interval(nil), r.ivs...)
}

// CloneInterval deep-copies iv, so a sink may keep it after Export returns.
func CloneInterval(iv metrics.Interval) metrics.Interval {
	out := metrics.Interval{Start: iv.Start, End: iv.End, Series: make([]metrics.SeriesValue, len(iv.Series))}
	for i, s := range iv.Series {
		s.Labels = append([]string(nil), s.Labels...)
		s.Values = append([]string(nil), s.Values...)
		out.Series[i] = s
	}
	return out
}

// TestSink checks a metrics.Sink implementation. It exports intervals with
// awkward content (empty, many series, label values with quotes,
// backslashes, newlines, markup and invalid UTF-8, NaN quantiles) one after
// another and from several goroutines, then calls results, which must return
// what the sink stored, in export order for the sequential part. It checks
// that Export never modifies its argument, that every interval arrived once
// and intact, and that Export with a cancelled context returns promptly
// (nil or an error wrapping context.Canceled).
func TestSink(t *testing.T, s metrics.Sink, results func() []metrics.Interval) {
	t.Helper()
	ivs := sampleIntervals()
	ctx := context.Background()
	for _, iv := range ivs {
		before := CloneInterval(iv)
		if err := s.Export(ctx, iv); err != nil {
			t.Errorf("metricstest: Export(%v) = %v, want nil", iv.Start, err)
		}
		if !sameInterval(before, iv) {
			t.Errorf("metricstest: Export modified the interval of %v", iv.Start)
		}
	}
	var wg sync.WaitGroup
	extra := sampleIntervals()
	for i := range extra {
		extra[i].Start = extra[i].Start.Add(time.Hour)
		extra[i].End = extra[i].End.Add(time.Hour)
		iv := extra[i]
		wg.Go(func() {
			if err := s.Export(ctx, iv); err != nil {
				t.Errorf("metricstest: concurrent Export(%v) = %v, want nil", iv.Start, err)
			}
		})
	}
	wg.Wait()
	got := results()
	if len(got) != len(ivs)+len(extra) {
		t.Fatalf("metricstest: results has %d intervals, want %d", len(got), len(ivs)+len(extra))
	}
	for i, iv := range ivs {
		if !sameInterval(iv, got[i]) {
			t.Errorf("metricstest: interval %d: got %+v, want %+v", i, got[i], iv)
		}
	}
	for _, iv := range extra {
		found := 0
		for _, g := range got[len(ivs):] {
			if sameInterval(iv, g) {
				found++
			}
		}
		if found != 1 {
			t.Errorf("metricstest: concurrent interval %v stored %d times, want once", iv.Start, found)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	done := make(chan error, 1)
	go func() { done <- s.Export(cctx, ivs[0]) }()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("metricstest: Export with a cancelled context = %v, want nil or context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("metricstest: Export with a cancelled context did not return within 5s")
	}
}

func sampleIntervals() []metrics.Interval {
	start := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	nan := math.NaN()
	awkward := []string{"", `"q"`, `back\slash`, "new\nline", "<b>markup</b>", "\uFFFD", "世界", metrics.OverflowValue}
	var ivs []metrics.Interval
	ivs = append(ivs, metrics.Interval{Start: start, End: start.Add(time.Minute)})
	iv := metrics.Interval{Start: start.Add(time.Minute), End: start.Add(2 * time.Minute)}
	for i, v := range awkward {
		iv.Series = append(iv.Series,
			metrics.SeriesValue{Metric: "req_total", Kind: "counter", Labels: []string{"path"}, Values: []string{v}, Point: metrics.Point{Time: iv.Start, Value: float64(i), Count: nan, Sum: nan, P50: nan, P90: nan, P99: nan}},
			metrics.SeriesValue{Metric: "lat_seconds", Kind: "histogram", Labels: []string{"path"}, Values: []string{v}, Point: metrics.Point{Time: iv.Start, Value: 3, Count: 3, Sum: 0.6, P50: 0.2, P90: nan, P99: 0.25}})
	}
	iv.Series = append(iv.Series, metrics.SeriesValue{Metric: "queue", Kind: "gauge", Point: metrics.Point{Time: iv.Start, Value: -1.5, Count: nan, Sum: nan, P50: nan, P90: nan, P99: nan}})
	ivs = append(ivs, iv)
	big := metrics.Interval{Start: start.Add(2 * time.Minute), End: start.Add(3 * time.Minute)}
	for i := 0; i < 1000; i++ {
		big.Series = append(big.Series, metrics.SeriesValue{Metric: "many_total", Kind: "counter", Labels: []string{"i"}, Values: []string{string(rune('a' + i%26))}, Point: metrics.Point{Time: big.Start, Value: float64(i), Count: nan, Sum: nan, P50: nan, P90: nan, P99: nan}})
	}
	return append(ivs, big)
}

// sameInterval compares intervals treating NaN as equal to NaN.
func sameInterval(a, b metrics.Interval) bool {
	if !a.Start.Equal(b.Start) || !a.End.Equal(b.End) || len(a.Series) != len(b.Series) {
		return false
	}
	for i := range a.Series {
		x, y := a.Series[i], b.Series[i]
		if x.Metric != y.Metric || x.Kind != y.Kind || !reflect.DeepEqual(norm(x.Labels), norm(y.Labels)) || !reflect.DeepEqual(norm(x.Values), norm(y.Values)) {
			return false
		}
		if !x.Point.Time.Equal(y.Point.Time) {
			return false
		}
		for _, p := range [][2]float64{{x.Point.Value, y.Point.Value}, {x.Point.Count, y.Point.Count}, {x.Point.Sum, y.Point.Sum}, {x.Point.P50, y.Point.P50}, {x.Point.P90, y.Point.P90}, {x.Point.P99, y.Point.P99}} {
			if p[0] != p[1] && !(math.IsNaN(p[0]) && math.IsNaN(p[1])) {
				return false
			}
		}
	}
	return true
}

func norm(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
