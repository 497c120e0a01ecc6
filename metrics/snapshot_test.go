package metrics

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSnapshotJSONWellFormed: random label values (quotes, backslashes,
// newlines, markup, unicode, invalid UTF-8), NaN and infinite values and
// random history; the document is valid JSON and gives back every series'
// values (invalid UTF-8 cleaned) and current value.
func TestSnapshotJSONWellFormed(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		rng := rand.New(rand.NewPCG(seed, 5))
		r := NewRegistry(WithClock(fixedClock{t0}), WithMaxSeries(1+rng.IntN(20)))
		cv := r.CounterVec("c_total", randLabel(rng), "a")
		gv := r.GaugeVec("g", "", "b")
		hv := r.HistogramVec("h_seconds", "", "c")
		require.NoError(t, r.AddRule(Rule{Name: randLabel(rng) + "r", Metric: "c_total", Kind: Threshold, Above: true, Threshold: 1}))
		now := t0
		for i := 0; i < 40; i++ {
			cv.With(randLabel(rng)).Add(uint64(rng.IntN(5)))
			gv.With(randLabel(rng)).Set([]float64{math.NaN(), math.Inf(1), math.Inf(-1), rng.NormFloat64()}[rng.IntN(4)])
			hv.With(randLabel(rng)).Observe([]float64{math.Inf(1), 0, rng.ExpFloat64()}[rng.IntN(3)])
			now = now.Add(time.Duration(1+rng.IntN(20)) * time.Second)
			r.Tick(now)
		}
		rec := httptest.NewRecorder()
		r.SnapshotHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/?x=1", nil))
		body := rec.Body.Bytes()
		require.True(t, json.Valid(body), "seed %d", seed)
		var doc struct {
			Metrics []struct {
				Name   string
				Series []struct {
					Values []string
					Value  *float64
				}
			}
			Alerts []struct{ Rule, State string }
		}
		require.NoError(t, json.Unmarshal(body, &doc))
		for _, m := range doc.Metrics {
			f := r.fams[m.Name]
			require.NotNil(t, f)
			require.Len(t, m.Series, len(f.all()))
			for _, s := range m.Series {
				for _, v := range s.Values {
					assert.Equal(t, strings.ToValidUTF8(v, "\uFFFD"), v)
				}
				if m.Name == "c_total" {
					require.NotNil(t, s.Value)
					assert.Equal(t, float64(cv.With(s.Values...).Value()), *s.Value)
				}
			}
		}
		require.Len(t, doc.Alerts, 1)
		// the dashboard's data endpoint is the same document
		rec = httptest.NewRecorder()
		Dashboard(r).ServeHTTP(rec, httptest.NewRequest("GET", "/?data=1", nil))
		require.True(t, json.Valid(rec.Body.Bytes()))
		rec = httptest.NewRecorder()
		Dashboard(r).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		assert.Contains(t, rec.Header().Get("Content-Type"), "text/html")
		assert.NotContains(t, rec.Body.String(), "http://"+"cdn")
		assert.NotContains(t, rec.Body.String(), "<script src")
		assert.NotContains(t, rec.Body.String(), "innerHTML")
	}
}

// TestMoversRankTheJump: random steady series and one whose rate jumps in
// the last 10 seconds; the jumping one is the top mover.
func TestMoversRankTheJump(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for round := 0; round < 10; round++ {
		r := NewRegistry(WithClock(fixedClock{t0}))
		v := r.CounterVec("x_total", "", "k")
		jump := strconv.Itoa(rng.IntN(20))
		now := t0
		for s := 0; s < 80; s++ {
			for k := 0; k < 20; k++ {
				n := 100 + rng.IntN(10)
				if strconv.Itoa(k) == jump && s >= 70 {
					n *= 3
				}
				v.With(strconv.Itoa(k)).Add(uint64(n))
			}
			now = now.Add(time.Second)
			r.Tick(now)
		}
		snap := r.snapshot("", math.MaxInt, "none")
		require.NotEmpty(t, snap.Movers)
		assert.Equal(t, []string{jump}, snap.Movers[0].Values)
		assert.Greater(t, float64(snap.Movers[0].Change), 150.0)
	}
}
