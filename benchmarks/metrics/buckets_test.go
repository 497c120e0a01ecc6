package metrics

import (
	"bufio"
	"bytes"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/bulwark-go/bulwark/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// promKeys observes each value into its own series of a Prometheus native
// histogram at schema 3 and returns the bucket index Prometheus gives it.
func promKeys(t *testing.T, xs []float64) []int32 {
	t.Helper()
	reg := prometheus.NewRegistry()
	hv := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "h", NativeHistogramBucketFactor: 1.1}, []string{"n"})
	reg.MustRegister(hv)
	for i, x := range xs {
		hv.WithLabelValues(strconv.Itoa(i)).Observe(x)
	}
	mfs, err := reg.Gather()
	require.NoError(t, err)
	keys := make([]int32, len(xs))
	for _, m := range mfs[0].GetMetric() {
		h := m.GetHistogram()
		require.Equal(t, int32(3), h.GetSchema(), "factor 1.1 must pick schema 3")
		spans := h.GetPositiveSpan()
		require.Len(t, spans, 1)
		n, err := strconv.Atoi(m.GetLabel()[0].GetValue())
		require.NoError(t, err)
		keys[n] = spans[0].GetOffset()
	}
	return keys
}

// bulwarkBuckets observes each value into its own series of a bulwark
// histogram and returns the upper bound ("le") of the bucket it landed in,
// read back from the text exposition with Prometheus's parser.
func bulwarkBuckets(t *testing.T, xs []float64) []float64 {
	t.Helper()
	r := metrics.NewRegistry(metrics.WithMaxSeries(len(xs) + 1))
	hv := r.HistogramVec("h", "", "n")
	for i, x := range xs {
		hv.With(strconv.Itoa(i)).Observe(x)
	}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	r.WriteText(w)
	require.NoError(t, w.Flush())
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(&buf)
	require.NoError(t, err)
	les := make([]float64, len(xs))
	for i := range les {
		les[i] = math.NaN()
	}
	for _, m := range fams["h"].GetMetric() {
		n, err := strconv.Atoi(m.GetLabel()[0].GetValue())
		require.NoError(t, err)
		for _, b := range m.GetHistogram().GetBucket() {
			if b.GetCumulativeCount() == 1 {
				les[n] = b.GetUpperBound()
				break
			}
		}
	}
	return les
}

// TestBucketsMatchPrometheusSchema3 checks bulwark's fixed buckets against
// client_golang v1.25.0's native histograms at schema 3, the layout the
// metrics doc promises so that an export is lossless: every bucket bound
// bulwark exposes is exactly the largest value Prometheus puts in that
// bucket (the bound itself lands in it, the next float up in the next one),
// and for every bound, its float neighbours and random log-uniform values
// across (2^-64, 2^64], the bucket bulwark picks is the one Prometheus
// picks. With bounds from math.Exp2(j/8), 384 bound values and 128 values
// one ulp below a bound went one bucket lower than in Prometheus.
func TestBucketsMatchPrometheusSchema3(t *testing.T) {
	// one value in the middle of every bucket, to read every bound back
	var mids []float64
	for i := -511; i <= 512; i++ {
		mids = append(mids, math.Ldexp(math.Exp2((float64(i)-0.5)/8), 0))
	}
	bounds := bulwarkBuckets(t, mids)
	// every bound, its neighbours, and random values
	var xs []float64
	for _, b := range bounds {
		require.False(t, math.IsNaN(b))
		xs = append(xs, b, math.Nextafter(b, 0), math.Nextafter(b, math.Inf(1)))
	}
	rng := rand.New(rand.NewPCG(81, 82))
	for range 3000 {
		xs = append(xs, math.Ldexp(1+rng.Float64(), rng.IntN(128)-64))
	}
	var in []float64 // values inside bulwark's finite buckets
	for _, x := range xs {
		if x > math.Ldexp(1, -64) && x <= math.Ldexp(1, 64) {
			in = append(in, x)
		}
	}
	les := bulwarkBuckets(t, in)
	keyOf := promKeys(t, in)
	keyOfLE := promKeys(t, les)
	above := make([]float64, len(les))
	for i, le := range les {
		above[i] = math.Nextafter(le, math.Inf(1))
	}
	keyAbove := promKeys(t, above)
	for i, x := range in {
		require.Equal(t, keyOf[i], keyOfLE[i], "value %v (%x): bulwark bucket le=%v is Prometheus bucket %d, the value is in %d",
			x, math.Float64bits(x), les[i], keyOfLE[i], keyOf[i])
		require.Equal(t, keyOfLE[i]+1, keyAbove[i], "le=%v is not the top of Prometheus bucket %d", les[i], keyOfLE[i])
	}
	t.Logf("%d values checked against %d buckets", len(in), len(bounds))
}
