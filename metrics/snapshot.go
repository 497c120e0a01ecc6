package metrics

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"
)

// Series per metric in a JSON snapshot.
const (
	// DefaultSnapshotSeries is how many series per metric SnapshotHandler
	// returns when the request has no limit.
	DefaultSnapshotSeries = 100
	// MaxSnapshotSeries is the largest limit SnapshotHandler honours; a
	// larger one is capped to it. The full set of series is in Handler's
	// exposition.
	MaxSnapshotSeries = 1000
	// DashboardSeries is the default and the largest limit of the
	// dashboard's data endpoint.
	DashboardSeries = 50
)

// jsonFloat encodes NaN and ±Inf, which JSON cannot hold, as null.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

type jsonPoint struct {
	T   int64      `json:"t"`
	V   jsonFloat  `json:"v"`
	S   *jsonFloat `json:"sum,omitempty"`
	P50 *jsonFloat `json:"p50,omitempty"`
	P90 *jsonFloat `json:"p90,omitempty"`
	P99 *jsonFloat `json:"p99,omitempty"`
}

type jsonSeries struct {
	Values  []string    `json:"values"`
	Value   jsonFloat   `json:"value"`
	Count   *jsonFloat  `json:"count,omitempty"`
	Sum     *jsonFloat  `json:"sum,omitempty"`
	P50     *jsonFloat  `json:"p50,omitempty"`
	P99     *jsonFloat  `json:"p99,omitempty"`
	History bool        `json:"history"`
	Seconds []jsonPoint `json:"seconds,omitempty"`
	Minutes []jsonPoint `json:"minutes,omitempty"`
}

// jsonMetricHead is a metric without its series, which are streamed.
type jsonMetricHead struct {
	Name   string   `json:"name"`
	Help   string   `json:"help"`
	Kind   string   `json:"kind"`
	Labels []string `json:"labels"`
	Total  int      `json:"total"`
}

type jsonAlert struct {
	Rule  string    `json:"rule"`
	State string    `json:"state"`
	Since time.Time `json:"since"`
	Value jsonFloat `json:"value"`
}

type jsonMover struct {
	Metric   string    `json:"metric"`
	Values   []string  `json:"values"`
	Before   jsonFloat `json:"before"`
	Recent   jsonFloat `json:"recent"`
	Change   jsonFloat `json:"change"`
	Relative jsonFloat `json:"relative"`
}

// snapQuery is a parsed snapshot request.
type snapQuery struct {
	metric   string
	limit    int
	sec, min bool
}

// parseSnapQuery validates the query parameters; an error carries the
// HTTP status to answer with.
func (r *Registry) parseSnapQuery(q url.Values, def, max int) (snapQuery, int, error) {
	sq := snapQuery{metric: q.Get("metric"), limit: def, sec: true, min: true}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return sq, http.StatusBadRequest, fmt.Errorf("metrics: limit %q: want a whole number of series per metric, 1 or more (at most %d are returned)", s, max)
		}
		sq.limit = min(n, max)
	}
	switch h := q.Get("history"); h {
	case "", "all":
	case "none":
		sq.sec, sq.min = false, false
	case "second":
		sq.min = false
	case "minute":
		sq.sec = false
	default:
		return sq, http.StatusBadRequest, fmt.Errorf("metrics: history %q: want all, none, second or minute", h)
	}
	if sq.metric != "" {
		r.mu.Lock()
		f := r.fams[sq.metric]
		r.mu.Unlock()
		if f == nil {
			return sq, http.StatusNotFound, fmt.Errorf("%w %q", ErrUnknownMetric, sq.metric)
		}
	}
	return sq, 0, nil
}

// SnapshotHandler serves a JSON snapshot of the registry: the alerts, the
// top movers, and per metric its series with their current values and
// history. It never holds the registry's tick lock for more than a few
// series at a time and writes the document as it goes, so a large or slow
// request does not delay Tick.
//
// Query parameters (anything else is ignored):
//
//	metric=NAME    only this metric (404 if there is none)
//	limit=N        series per metric, in label order (default DefaultSnapshotSeries;
//	               more than MaxSnapshotSeries is capped to it)
//	history=WHICH  all (default), none, second or minute
//
// A limit that is not a whole number ≥ 1, or another history value, gets
// 400 with the reason. The document (NaN and infinite numbers are null;
// times are RFC 3339 or, in points, Unix seconds):
//
//	{
//	  "time": "…",                 end of the last closed second
//	  "alerts": [{"rule", "state", "since", "value"}],   in AddRule order
//	  "movers": [{"metric", "values", "before", "recent", "change", "relative"}],
//	  "metrics": [{
//	    "name", "help", "kind",    kind: counter, gauge or histogram
//	    "labels": [names],         [] without labels
//	    "total": N,                series the metric has (the limit may show fewer)
//	    "series": [{
//	      "values": [label values],   [] without labels; cleaned to UTF-8
//	      "value": number,            counter total, gauge value, histogram count
//	      "count", "sum", "p50", "p99",   histograms only, over all observations
//	      "history": bool,            false until the series has history
//	      "seconds": [{"t", "v"}],    per second, last 5 minutes (see Point)
//	      "minutes": [{"t", "v"}]     per minute, last 60 minutes
//	    }]                            histogram points add "sum", "p50", "p90", "p99"
//	  }]
//	}
//
// The movers are the ten series whose mean per second over the last 10
// seconds ("recent") differs most, relative to it, from the mean over the
// 60 seconds before ("before"): sorted by |relative| = |change| / |before|,
// largest first, where change = recent − before; a series that rose from 0
// has relative null and sorts first. A series that stayed at 0, or did not
// exist yet, counts as 0 for those seconds (back to the registry's first
// Tick), so one created at the onset of an overload is a rise from 0.
func (r *Registry) SnapshotHandler() http.Handler {
	return r.snapshotHandler(DefaultSnapshotSeries, MaxSnapshotSeries)
}

func (r *Registry) snapshotHandler(def, max int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		sq, status, err := r.parseSnapQuery(req.URL.Query(), def, max)
		if err != nil {
			http.Error(w, err.Error(), status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		bw := bufio.NewWriterSize(w, 16<<10)
		r.writeSnapshot(bw, sq)
		_ = bw.Flush()
	})
}

func ptr(v float64) *jsonFloat { f := jsonFloat(v); return &f }

// lockBatch is how many series a snapshot reads per hold of tickMu.
const lockBatch = 16

// writeSnapshot writes the document to w. Write errors are ignored (the
// client went away); what was built is dropped.
func (r *Registry) writeSnapshot(w io.Writer, sq snapQuery) {
	fams := append([]*family(nil), r.families()...)
	sort.Slice(fams, func(i, j int) bool { return fams[i].name < fams[j].name })

	r.tickMu.Lock()
	now := time.Unix(r.tick.next, 0).UTC()
	alerts := make([]jsonAlert, len(r.tick.rules))
	for i, rs := range r.tick.rules {
		a := rs.alert()
		alerts[i] = jsonAlert{a.Rule, a.State.String(), a.Since, jsonFloat(a.Value)}
	}
	r.tickMu.Unlock()

	put := func(v any) {
		b, _ := json.Marshal(v)
		_, _ = w.Write(b)
	}
	_, _ = io.WriteString(w, `{"time":`)
	put(now)
	_, _ = io.WriteString(w, `,"alerts":`)
	put(alerts)
	_, _ = io.WriteString(w, `,"movers":`)
	put(r.movers(fams))
	_, _ = io.WriteString(w, `,"metrics":[`)
	first := true
	for _, f := range fams {
		if sq.metric != "" && f.name != sq.metric {
			continue
		}
		if !first {
			_, _ = io.WriteString(w, ",")
		}
		first = false
		all := sortedSeries(f)
		head := jsonMetricHead{Name: f.name, Help: f.help, Kind: f.kind.String(), Labels: f.labels, Total: len(all)}
		if head.Labels == nil {
			head.Labels = []string{}
		}
		b, _ := json.Marshal(head)
		_, _ = w.Write(b[:len(b)-1]) // leave the object open
		_, _ = io.WriteString(w, `,"series":[`)
		n := min(len(all), sq.limit)
		isH := f.kind == kindHistogram
		var secs, mins [lockBatch][]Point
		var has [lockBatch]bool
		for i := 0; i < n; i += lockBatch {
			batch := all[i:min(i+lockBatch, n)]
			// Copy the history of a few series under the lock; build and
			// write their JSON after releasing it.
			r.tickMu.Lock()
			for k, s := range batch {
				secs[k], mins[k], has[k] = nil, nil, false
				if h := s.ts.hist; h != nil {
					has[k] = true
					if sq.sec {
						secs[k] = h.sec.points(time.Second, isH)
					}
					if sq.min {
						mins[k] = h.min.tail(60, time.Minute, isH)
					}
				}
			}
			r.tickMu.Unlock()
			for k, s := range batch {
				if i+k > 0 {
					_, _ = io.WriteString(w, ",")
				}
				put(s.json(has[k], secs[k], mins[k]))
			}
		}
		_, _ = io.WriteString(w, "]}")
	}
	_, _ = io.WriteString(w, "]}\n")
}

// json returns the series' current values and the given history.
func (s *series) json(history bool, secs, mins []Point) jsonSeries {
	js := jsonSeries{Values: s.values, History: history}
	if js.Values == nil {
		js.Values = []string{}
	}
	switch s.fam.kind {
	case kindCounter:
		js.Value = jsonFloat(s.c.Value())
	case kindGauge:
		js.Value = jsonFloat(s.g.Value())
	case kindHistogram:
		var bk bucketCounts
		bk.load(s.h)
		n := float64(bk.count())
		js.Value, js.Count, js.Sum = jsonFloat(n), ptr(n), ptr(s.h.Sum())
		js.P50, js.P99 = ptr(bk.quantile(0.5)), ptr(bk.quantile(0.99))
	}
	isH := s.fam.kind == kindHistogram
	js.Seconds, js.Minutes = toJSON(secs, isH), toJSON(mins, isH)
	return js
}

// movers returns the top movers over every series of fams, reading a few
// hundred series per hold of tickMu.
func (r *Registry) movers(fams []*family) []jsonMover {
	type cand struct {
		m     jsonMover
		score float64
	}
	var cs []cand
	for _, f := range fams {
		all := f.all()
		for i := 0; i < len(all); i += 256 {
			r.tickMu.Lock()
			for _, s := range all[i:min(i+256, len(all))] {
				h := s.ts.hist
				if h == nil {
					continue
				}
				// The seconds since the first Tick before the series'
				// rings began count as 0, so a series born at the onset
				// of a change shows as rising from 0.
				floor := min(r.tick.first, h.sec.last-int64(h.sec.n)+1)
				if h.sec.last-floor+1 < 20 {
					continue
				}
				recent, before := h.sec.meanFrom(0, 10, floor), h.sec.meanFrom(10, 60, floor)
				if recent == before || math.IsNaN(recent) || math.IsNaN(before) {
					continue
				}
				change := recent - before
				rel := change / math.Abs(before) // ±Inf when before is 0
				values := s.values
				if values == nil {
					values = []string{}
				}
				cs = append(cs, cand{jsonMover{f.name, values, jsonFloat(before), jsonFloat(recent), jsonFloat(change), jsonFloat(rel)}, math.Abs(rel)})
			}
			r.tickMu.Unlock()
		}
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].score != cs[j].score {
			return cs[i].score > cs[j].score
		}
		return math.Abs(float64(cs[i].m.Change)) > math.Abs(float64(cs[j].m.Change))
	})
	out := make([]jsonMover, 0, 10)
	for i := 0; i < len(cs) && i < 10; i++ {
		out = append(out, cs[i].m)
	}
	return out
}

func toJSON(ps []Point, hist bool) []jsonPoint {
	if len(ps) == 0 {
		return nil
	}
	out := make([]jsonPoint, len(ps))
	for i, p := range ps {
		out[i] = jsonPoint{T: p.Time.Unix(), V: jsonFloat(p.Value)}
		if hist {
			out[i].S, out[i].P50, out[i].P90, out[i].P99 = ptr(p.Sum), ptr(p.P50), ptr(p.P90), ptr(p.P99)
		}
	}
	return out
}
