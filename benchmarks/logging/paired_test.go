package logging

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/logging"
)

// pairedRounds times a and b in alternating batches (a b b a per round)
// and returns the median over rounds of time(b)/time(a) and the median ns
// per op of each. On a shared, loaded machine a whole-benchmark ratio
// swings with whatever else runs; batches a few milliseconds apart see the
// same load, so their ratio is steady.
func pairedRounds(rounds, batch int, a, b func()) (ratio, nsA, nsB float64) {
	run := func(f func()) time.Duration {
		start := time.Now()
		for range batch {
			f()
		}
		return time.Since(start)
	}
	var rs, as, bs []float64
	for range rounds {
		ta := run(a)
		tb := run(b)
		tb += run(b)
		ta += run(a)
		rs = append(rs, float64(tb)/float64(ta))
		as = append(as, float64(ta)/float64(2*batch))
		bs = append(bs, float64(tb)/float64(2*batch))
	}
	med := func(x []float64) float64 { slices.Sort(x); return x[len(x)/2] }
	return med(rs), med(as), med(bs)
}

// BenchmarkPaired reports, for each target of the issue that is a ratio,
// the median paired ratio ("x" metric) over b.N rounds, with the ns/op
// of both sides. Run it with -benchtime=Nx for N rounds.
func BenchmarkPaired(b *testing.B) {
	ctx := logging.WithKey(context.Background(), "user-999999")
	slogL := slog.New(slog.NewJSONHandler(io.Discard, nil))
	bulL := logging.New(io.Discard, nil)
	flightL := logging.New(io.Discard, &logging.Options{FlightBytes: 1 << 20})
	ringL := logging.New(io.Discard, &logging.Options{RingSize: 1000})
	fctx := logging.WithFlight(context.Background())
	mctx := logging.WithFlight(context.Background())
	hdr := map[string][]string{"Accept": {"*/*"}, "X-User": {"alice"}}
	n, m := 0, 0
	cases := []struct {
		name  string
		batch int // about 100 µs of work: short enough that most batch pairs see the same load
		a, b  func()
	}{
		{"disabled-bulwark-vs-slog", 3000,
			func() {
				slogL.DebugContext(ctx, "request done", "user", "alice", "count", 42, "ok", true, "dur", dur, "err", errBoom)
			},
			func() {
				bulL.DebugContext(ctx, "request done", "user", "alice", "count", 42, "ok", true, "dur", dur, "err", errBoom)
			}},
		{"infojson-bulwark-vs-slog", 100,
			func() {
				slogL.InfoContext(ctx, "request done", "user", "alice", "count", 42, "ok", true, "dur", dur, "err", errBoom)
			},
			func() {
				bulL.InfoContext(ctx, "request done", "user", "alice", "count", 42, "ok", true, "dur", dur, "err", errBoom)
			}},
		{"infojson-ring-vs-no-ring", 100, // not a target: what RingSize costs a line
			func() {
				bulL.InfoContext(ctx, "request done", "user", "alice", "count", 42, "ok", true, "dur", dur, "err", errBoom)
			},
			func() {
				ringL.InfoContext(ctx, "request done", "user", "alice", "count", 42, "ok", true, "dur", dur, "err", errBoom)
			}},
		{"flight-buffered-vs-enabled-line", 100,
			func() {
				flightL.InfoContext(fctx, "request done", "user", "alice", "count", 42, "ok", true, "dur", dur, "err", errBoom)
			},
			func() {
				if n++; n%32 == 0 { // a fresh request every 32 records
					fctx = logging.WithFlight(context.Background())
				}
				flightL.DebugContext(fctx, "request done", "user", "alice", "count", 42, "ok", true, "dur", dur, "err", errBoom)
			}},
	}
	cases = append(cases, struct {
		name  string
		batch int
		a, b  func()
	}{"flight-withMap-buffered-vs-enabled-line", 50,
		func() {
			flightL.InfoContext(mctx, "request done", "user", "alice", "count", 42, "ok", true, "dur", dur, "err", errBoom, "hdr", hdr)
		},
		func() {
			if m++; m%32 == 0 {
				mctx = logging.WithFlight(context.Background())
			}
			flightL.DebugContext(mctx, "request done", "user", "alice", "count", 42, "ok", true, "dur", dur, "err", errBoom, "hdr", hdr)
		}})
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			ratio, nsA, nsB := pairedRounds(b.N, c.batch, c.a, c.b)
			b.ReportMetric(ratio, "x")
			b.ReportMetric(nsA, "ns/op-base")
			b.ReportMetric(nsB, "ns/op-bulwark")
		})
	}
}
