package metricstest_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/metrics"
	"github.com/bulwark-go/bulwark/metrics/metricstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecorderPassesTestSink(t *testing.T) {
	var r metricstest.Recorder
	metricstest.TestSink(t, &r, r.Intervals)
}

// TestSinkDelivery: inside a synctest bubble, Run ticks every second and
// delivers each closed minute to the sinks; a sink that blocks fills its
// bounded queue and the rest are dropped and counted, while the other sink
// still gets every minute.
func TestSinkDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := metrics.NewRegistry()
		c := r.CounterVec("req_total", "", "path")
		var fast metricstest.Recorder
		block := make(chan struct{})
		slow := &blocking{release: block}
		r.AddSink(&fast)
		r.AddSink(slow)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		minutes := metrics.SinkQueue + 10
		for m := 0; m < minutes; m++ {
			for s := 0; s < 60; s++ {
				c.With("/a").Add(2)
				c.With("<b>").Inc()
				time.Sleep(time.Second)
			}
		}
		time.Sleep(time.Second)
		synctest.Wait()
		got := fast.Intervals()
		require.GreaterOrEqual(t, len(got), minutes-1)
		var total float64
		for _, iv := range got {
			assert.Equal(t, time.Minute, iv.End.Sub(iv.Start))
			for _, s := range iv.Series {
				if s.Metric == "req_total" && len(s.Values) == 1 && s.Values[0] == "/a" {
					total += s.Point.Value
				}
			}
		}
		// every increment of closed minutes arrived once
		assert.LessOrEqual(t, total, float64(c.With("/a").Value()))
		assert.GreaterOrEqual(t, total, float64(c.With("/a").Value())-2*62)
		dropped := r.CounterVec("bulwark_metrics_sink_dropped_total", "Closed minutes a sink's full queue dropped.", "sink").With("1").Value()
		// the slow sink holds one interval in Export and SinkQueue in queue
		assert.Equal(t, uint64(len(got)-metrics.SinkQueue-1), dropped)
		close(block)
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
	})
}

type blocking struct {
	release chan struct{}
	mu      sync.Mutex
	n       int
}

func (b *blocking) Export(ctx context.Context, _ metrics.Interval) error {
	b.mu.Lock()
	b.n++
	b.mu.Unlock()
	select {
	case <-b.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}
