package metrics

import (
	"encoding/json"
	"math"
	"net/http"
	"sort"
	"strconv"
	"time"
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

type jsonMetric struct {
	Name   string       `json:"name"`
	Help   string       `json:"help"`
	Kind   string       `json:"kind"`
	Labels []string     `json:"labels"`
	Total  int          `json:"total"`
	Series []jsonSeries `json:"series"`
}

type jsonAlert struct {
	Rule  string    `json:"rule"`
	State string    `json:"state"`
	Since time.Time `json:"since"`
	Value jsonFloat `json:"value"`
}

type jsonMover struct {
	Metric string    `json:"metric"`
	Values []string  `json:"values"`
	Recent jsonFloat `json:"recent"`
	Before jsonFloat `json:"before"`
	Change jsonFloat `json:"change"`
}

// Snapshot is the document SnapshotHandler serves.
type snapshot struct {
	Time    time.Time    `json:"time"`
	Metrics []jsonMetric `json:"metrics"`
	Alerts  []jsonAlert  `json:"alerts"`
	Movers  []jsonMover  `json:"movers"`
}

// SnapshotHandler serves a JSON snapshot: every series with its current
// value and history (per second for 5 minutes, per minute for the last 60),
// the alerts, and the top movers (the series whose last 10 seconds differ
// most from the minute before). Query parameters narrow it: metric=NAME,
// limit=N series per metric, history=none|second|minute. NaN and infinite
// values are null.
func (r *Registry) SnapshotHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		q := req.URL.Query()
		limit, err := strconv.Atoi(q.Get("limit"))
		if err != nil || limit <= 0 {
			limit = math.MaxInt
		}
		snap := r.snapshot(q.Get("metric"), limit, q.Get("history"))
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(snap)
	})
}

func ptr(v float64) *jsonFloat { f := jsonFloat(v); return &f }

func (r *Registry) snapshot(only string, limit int, hist string) *snapshot {
	fams := append([]*family(nil), r.families()...)
	sort.Slice(fams, func(i, j int) bool { return fams[i].name < fams[j].name })
	snap := &snapshot{Metrics: []jsonMetric{}, Alerts: []jsonAlert{}, Movers: []jsonMover{}}
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	snap.Time = time.Unix(r.tick.next, 0).UTC()
	type cand struct {
		m     jsonMover
		score float64
	}
	var movers []cand
	for _, f := range fams {
		if only != "" && f.name != only {
			continue
		}
		all := sortedSeries(f)
		jm := jsonMetric{Name: f.name, Help: f.help, Kind: f.kind.String(), Labels: f.labels, Total: len(all), Series: []jsonSeries{}}
		if jm.Labels == nil {
			jm.Labels = []string{}
		}
		for i, s := range all {
			h := s.ts.hist
			if h != nil && h.sec.n >= 20 {
				recent, before := h.sec.mean(0, 10), h.sec.mean(10, 60)
				score := math.Abs(recent-before) / math.Max(math.Abs(before), 1e-9)
				if recent != before && !math.IsNaN(score) {
					movers = append(movers, cand{jsonMover{f.name, s.values, jsonFloat(recent), jsonFloat(before), jsonFloat(recent - before)}, score})
				}
			}
			if i >= limit {
				continue
			}
			js := jsonSeries{Values: s.values, History: h != nil}
			if js.Values == nil {
				js.Values = []string{}
			}
			switch f.kind {
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
			if h != nil && hist != "none" {
				isH := f.kind == kindHistogram
				if hist != "minute" {
					js.Seconds = toJSON(h.sec.points(time.Second, isH), isH)
				}
				if hist != "second" {
					mins := h.min.points(time.Minute, isH)
					js.Minutes = toJSON(mins[max(0, len(mins)-60):], isH)
				}
			}
			jm.Series = append(jm.Series, js)
		}
		snap.Metrics = append(snap.Metrics, jm)
	}
	for _, rs := range r.tick.rules {
		a := rs.alert()
		snap.Alerts = append(snap.Alerts, jsonAlert{a.Rule, a.State.String(), a.Since, jsonFloat(a.Value)})
	}
	sort.SliceStable(movers, func(i, j int) bool { return movers[i].score > movers[j].score })
	for i := 0; i < len(movers) && i < 10; i++ {
		snap.Movers = append(snap.Movers, movers[i].m)
	}
	return snap
}

func toJSON(ps []Point, hist bool) []jsonPoint {
	out := make([]jsonPoint, len(ps))
	for i, p := range ps {
		out[i] = jsonPoint{T: p.Time.Unix(), V: jsonFloat(p.Value)}
		if hist {
			out[i].S, out[i].P50, out[i].P90, out[i].P99 = ptr(p.Sum), ptr(p.P50), ptr(p.P90), ptr(p.P99)
		}
	}
	return out
}
