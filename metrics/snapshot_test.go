package metrics

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
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
	for seed := uint64(1); seed <= 4; seed++ {
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

// snapDoc decodes the snapshot document.
type snapDoc struct {
	Time   time.Time
	Alerts []struct {
		Rule, State string
		Since       time.Time
		Value       *float64
	}
	Movers []struct {
		Metric                           string
		Values                           []string
		Before, Recent, Change, Relative *float64
	}
	Metrics []struct {
		Name, Help, Kind string
		Labels           []string
		Total            int
		Series           []struct {
			Values           []string
			Value            *float64
			History          bool
			Seconds, Minutes []struct {
				T int64
				V *float64
			}
		}
	}
}

func getSnap(t *testing.T, h http.Handler, query string) (int, snapDoc, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/"+query, nil))
	var doc snapDoc
	if rec.Code == http.StatusOK {
		require.True(t, json.Valid(rec.Body.Bytes()), "query %s", query)
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))
	}
	return rec.Code, doc, rec.Body.String()
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
		_, doc, _ := getSnap(t, r.SnapshotHandler(), "?history=none")
		require.NotEmpty(t, doc.Movers)
		assert.Equal(t, []string{jump}, doc.Movers[0].Values)
		assert.Greater(t, *doc.Movers[0].Change, 150.0)
	}
}

// TestMoversSortedAsShown: random series of every kind, some rising from
// zero, some falling, some flat, some born at a random second (0 before it,
// so one born at the onset is a rise from 0); the movers are the ten largest by
// |relative| (a rise from 0 first), sorted that way, with change = recent −
// before and relative = change / |before| as the document and the page show
// them, and values [] for a series without labels.
func TestMoversSortedAsShown(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for round := 0; round < 8; round++ {
		r := NewRegistry(WithClock(fixedClock{t0}))
		v := r.CounterVec("x_total", "", "k")
		g := r.Gauge("g", "")
		c := r.Counter("c_total", "")
		n := 5 + rng.IntN(25)
		before, after := make([]float64, n), make([]float64, n)
		birth := make([]int, n) // the second of a series' first increment
		for k := range birth {
			if rng.IntN(2) == 0 {
				birth[k] = rng.IntN(80)
			}
		}
		for k := range before {
			before[k] = float64([]int{0, 1, 10, 100, 1000}[rng.IntN(5)])
			after[k] = before[k] * []float64{0, 0.5, 1, 2, 10}[rng.IntN(5)]
			if rng.IntN(4) == 0 {
				after[k] += 5
			}
		}
		gb, ga := rng.NormFloat64()*50, rng.NormFloat64()*50
		now := t0
		for s := 0; s < 80; s++ {
			for k := range before {
				x := before[k]
				if s >= 70 {
					x = after[k]
				}
				if s >= birth[k] && (x > 0 || s == birth[k]) {
					v.With(strconv.Itoa(k)).Add(uint64(x) + b2u(s == birth[k])) // born: it gets history from here
				}
			}
			if s < 70 {
				g.Set(gb)
				c.Add(3)
			} else {
				g.Set(ga)
				c.Add(7)
			}
			now = now.Add(time.Second)
			r.Tick(now)
		}
		_, doc, _ := getSnap(t, r.SnapshotHandler(), "?history=none")
		// brute force: every series' means from its own history
		type cand struct {
			rel, change float64
		}
		var all []cand
		for _, f := range []*family{v.f, r.fams["g"], r.fams["c_total"]} {
			for _, s := range f.all() {
				ps, err := r.History(f.name, time.Second, s.values...)
				if err != nil {
					continue
				}
				// every closed second of the run, 0 before the series' history
				dense := make([]float64, 80)
				for _, p := range ps {
					dense[p.Time.Unix()-t0.Unix()] = p.Value
				}
				mean := func(from, to int) float64 {
					sum := 0.0
					for _, x := range dense[len(dense)-to : len(dense)-from] {
						sum += x
					}
					return sum / float64(to-from)
				}
				rec, bef := mean(0, 10), mean(10, 70)
				if rec != bef {
					all = append(all, cand{(rec - bef) / math.Abs(bef), rec - bef})
				}
			}
		}
		require.NotEmpty(t, all, "round %d: nothing moved; the test shows nothing", round)
		require.Len(t, doc.Movers, min(10, len(all)), "round %d", round)
		for i, m := range doc.Movers {
			require.NotNil(t, m.Values, "values must be [], not null")
			require.InDelta(t, *m.Recent-*m.Before, *m.Change, 1e-9)
			if *m.Before == 0 {
				require.Nil(t, m.Relative)
			} else {
				require.InDelta(t, *m.Change/math.Abs(*m.Before), *m.Relative, 1e-9)
			}
			if i == 0 {
				continue
			}
			p := doc.Movers[i-1]
			ra, rb := math.Inf(1), math.Inf(1)
			if p.Relative != nil {
				ra = math.Abs(*p.Relative)
			}
			if m.Relative != nil {
				rb = math.Abs(*m.Relative)
			}
			require.GreaterOrEqual(t, ra, rb, "round %d: movers not sorted by |relative| at %d", round, i)
		}
		// the tenth shown is at least as large as any left out
		if len(all) > 10 {
			sort.Slice(all, func(i, j int) bool { return math.Abs(all[i].rel) > math.Abs(all[j].rel) })
			last := doc.Movers[9]
			lr := math.Inf(1)
			if last.Relative != nil {
				lr = math.Abs(*last.Relative)
			}
			assert.GreaterOrEqual(t, lr, math.Abs(all[10].rel), "round %d", round)
		}
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// TestSnapshotQueryParams: random query strings (limits that are junk,
// negative, zero, huge or fine; history values valid or not; metric names
// known or not) against the documented rules: 400 with the reason for a bad
// limit or history, 404 for an unknown metric, else at most min(limit, cap)
// series per metric in label order with the history asked for. The
// dashboard's endpoint caps at DashboardSeries.
func TestSnapshotQueryParams(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	r := NewRegistry(WithClock(fixedClock{t0}), WithMaxSeries(5000))
	v := r.CounterVec("v_total", "", "k")
	r.Gauge("g", "").Set(1)
	for i := 0; i < 1200; i++ {
		v.With(strconv.Itoa(i)).Inc()
	}
	r.Tick(t0.Add(61 * time.Second)) // closes a minute too
	limits := []string{"", "0", "-1", "abc", "1.5", "99999999999999999999", "1e3", " 5", "+7"}
	hists := []string{"", "all", "none", "second", "minute", "bogus", "Second"}
	metrics := []string{"", "v_total", "g", "nope"}
	for round := 0; round < 80; round++ {
		lim := limits[rng.IntN(len(limits))]
		if rng.IntN(2) == 0 {
			lim = strconv.Itoa(rng.IntN(3000))
		}
		hist, metric := hists[rng.IntN(len(hists))], metrics[rng.IntN(len(metrics))]
		q := url.Values{}
		if lim != "" {
			q.Set("limit", lim)
		}
		if hist != "" {
			q.Set("history", hist)
		}
		if metric != "" {
			q.Set("metric", metric)
		}
		dash := rng.IntN(2) == 0
		h, def, cap := r.SnapshotHandler(), DefaultSnapshotSeries, MaxSnapshotSeries
		if dash {
			q.Set("data", "1")
			h, def, cap = Dashboard(r), DashboardSeries, DashboardSeries
		}
		code, doc, body := getSnap(t, h, "?"+q.Encode())
		n, err := strconv.Atoi(lim)
		wantLimit := def
		switch {
		case lim != "" && (err != nil || n < 1):
			require.Equal(t, http.StatusBadRequest, code, "query %s", q.Encode())
			require.Contains(t, body, "metrics: limit")
			continue
		case lim != "":
			wantLimit = min(n, cap)
		}
		if !slices.Contains([]string{"", "all", "none", "second", "minute"}, hist) {
			require.Equal(t, http.StatusBadRequest, code, "query %s", q.Encode())
			require.Contains(t, body, "metrics: history")
			continue
		}
		if metric == "nope" {
			require.Equal(t, http.StatusNotFound, code, "query %s", q.Encode())
			continue
		}
		require.Equal(t, http.StatusOK, code, "query %s: %s", q.Encode(), body)
		for _, m := range doc.Metrics {
			if metric != "" {
				require.Equal(t, metric, m.Name)
			}
			require.Equal(t, min(m.Total, wantLimit), len(m.Series), "query %s metric %s", q.Encode(), m.Name)
			require.NotNil(t, m.Labels)
			for _, s := range m.Series {
				require.NotNil(t, s.Values)
				require.True(t, s.History, "query %s metric %s values %q", q.Encode(), m.Name, s.Values)
				require.Equal(t, hist != "none" && hist != "minute", len(s.Seconds) > 0, "query %s", q.Encode())
				require.Equal(t, hist != "none" && hist != "second", len(s.Minutes) > 0, "query %s", q.Encode())
			}
		}
	}
}

// blockingWriter blocks its n-th Write until release is closed.
type blockingWriter struct {
	*httptest.ResponseRecorder
	n       int
	blocked chan struct{}
	release chan struct{}
}

func (w *blockingWriter) Write(b []byte) (int, error) {
	w.n--
	if w.n == 0 {
		close(w.blocked)
		<-w.release
	}
	return w.ResponseRecorder.Write(b)
}

// TestSnapshotDoesNotBlockTick: a large snapshot whose client stalls at a
// random point of the response (any Write) holds no lock Tick needs: Tick
// completes while the response is stuck, and the document is still valid
// JSON once the client reads on. Before, the whole document was built under
// the tick lock, so a big request stalled Run's ticking for seconds.
func TestSnapshotDoesNotBlockTick(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	r := NewRegistry(WithClock(fixedClock{t0}), WithMaxSeries(5000))
	v := r.CounterVec("v_total", "", "k")
	hv := r.HistogramVec("h_seconds", "", "k")
	require.NoError(t, r.AddRule(Rule{Name: "r", Metric: "v_total", Kind: Threshold, Above: true, Threshold: 1}))
	now := t0
	for s := 0; s < 30; s++ {
		for i := 0; i < 300; i++ {
			v.With(strconv.Itoa(i)).Inc()
		}
		for i := 0; i < 20; i++ {
			hv.With(strconv.Itoa(i)).Observe(rng.ExpFloat64())
		}
		now = now.Add(time.Second)
		r.Tick(now)
	}
	// count the writes of a full response
	cw := &blockingWriter{ResponseRecorder: httptest.NewRecorder(), n: -1}
	r.SnapshotHandler().ServeHTTP(cw, httptest.NewRequest("GET", "/?limit=1000", nil))
	writes := -1 - cw.n
	require.Greater(t, writes, 5)
	for round := 0; round < 5; round++ {
		bw := &blockingWriter{ResponseRecorder: httptest.NewRecorder(), n: 1 + rng.IntN(writes),
			blocked: make(chan struct{}), release: make(chan struct{})}
		served := make(chan struct{})
		go func() {
			defer close(served)
			r.SnapshotHandler().ServeHTTP(bw, httptest.NewRequest("GET", "/?limit=1000", nil))
		}()
		<-bw.blocked
		ticked := make(chan struct{})
		now = now.Add(time.Second)
		go func() { r.Tick(now); _ = r.Alerts(); close(ticked) }()
		select {
		case <-ticked:
		case <-time.After(20 * time.Second): // a deadlock guard, not a wait for state
			t.Fatalf("round %d: Tick did not complete while the snapshot's write %d was blocked", round, bw.n)
		}
		close(bw.release)
		<-served
		require.True(t, json.Valid(bw.Body.Bytes()), "round %d", round)
	}
}
