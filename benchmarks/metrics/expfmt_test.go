package metrics

import (
	"bufio"
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/metrics"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

var pieces = []string{"a", "Z", "0", `"`, `\`, "\n", "\\n", "é", "世界", "🙂", "<b>", "&amp;", " ", "{", "}", "=", ",", "\t", "\xff", "\x00", "le", "#"}

func randValue(rng *rand.Rand) string {
	var sb strings.Builder
	for i := rng.IntN(8); i > 0; i-- {
		sb.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return sb.String()
}

// TestExpositionParsesWithExpfmt: random registries with random label
// values (quotes, backslashes, newlines, unicode, invalid UTF-8) and random
// observations; Prometheus's own parser reads every family and series back
// with the same values, and histogram buckets are cumulative with
// _count equal to the +Inf bucket.
func TestExpositionParsesWithExpfmt(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		r := metrics.NewRegistry(metrics.WithMaxSeries(1 + rng.IntN(30)))
		cv := r.CounterVec("c_total", "help with \\ and \n newline "+randValue(rng), "a", "b")
		gv := r.GaugeVec("g", "", "x")
		hv := r.HistogramVec("h_seconds", "latency", "route")
		attr := r.Attr(uint32(rng.IntN(1000)), "oss", 1+rng.IntN(10))
		wantC := map[[2]string]uint64{}
		clean := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
		capN := r.MaxSeries()
		raw := map[[2]string]bool{}
		add := func(a, b string, n uint64) {
			k := [2]string{a, b}
			if !raw[k] && len(raw) >= capN {
				wantC[[2]string{metrics.OverflowValue, metrics.OverflowValue}] += n
				return
			}
			raw[k] = true
			wantC[[2]string{clean(a), clean(b)}] += n
		}
		for i := rng.IntN(60); i > 0; i-- {
			a, b := randValue(rng), randValue(rng)
			n := uint64(rng.IntN(100))
			cv.With(a, b).Add(n)
			add(a, b, n)
			g := rng.NormFloat64() * 1e3
			x := randValue(rng)
			gv.With(x).Set(g)
			route := randValue(rng)
			for j := rng.IntN(20); j > 0; j-- {
				hv.With(route).Observe(math.Exp2(rng.NormFloat64() * 10))
			}
			attr.Add(rng.IntN(12)-1, uint64(rng.IntN(5)))
		}
		// what the registry says it holds, via its own values
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		r.WriteText(w)
		require.NoError(t, w.Flush())
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(bytes.NewReader(buf.Bytes()))
		require.NoError(t, err, "seed %d:\n%s", seed, buf.String())
		gotC := map[[2]string]uint64{}
		if cf := fams["c_total"]; cf != nil {
			for _, m := range cf.GetMetric() {
				lv := map[string]string{}
				for _, l := range m.GetLabel() {
					lv[l.GetName()] = l.GetValue()
				}
				k := [2]string{lv["a"], lv["b"]}
				_, dup := gotC[k]
				require.False(t, dup, "seed %d: series %q exposed twice", seed, k)
				gotC[k] = uint64(m.GetCounter().GetValue())
			}
		}
		require.Equal(t, wantC, gotC, "seed %d", seed)
		if gf := fams["g"]; gf != nil {
			for _, m := range gf.GetMetric() {
				x := m.GetLabel()[0].GetValue()
				require.Equal(t, gv.With(x).Value(), m.GetGauge().GetValue(), "seed %d gauge %q", seed, x)
			}
		}
		if hf := fams["h_seconds"]; hf != nil {
			for _, m := range hf.GetMetric() {
				route := m.GetLabel()[0].GetValue()
				h := m.GetHistogram()
				require.Equal(t, hv.With(route).Count(), h.GetSampleCount(), "seed %d route %q", seed, route)
				require.Equal(t, hv.With(route).Sum(), h.GetSampleSum())
				prev, prevLe := uint64(0), math.Inf(-1)
				for _, bk := range h.GetBucket() {
					require.GreaterOrEqual(t, bk.GetCumulativeCount(), prev)
					require.Greater(t, bk.GetUpperBound(), prevLe)
					prev, prevLe = bk.GetCumulativeCount(), bk.GetUpperBound()
				}
				require.Equal(t, h.GetSampleCount(), prev, "+Inf bucket equals _count")
			}
		}
		if of := fams["oss"]; of != nil {
			require.NotEmpty(t, of.GetMetric())
		}
	}
}
