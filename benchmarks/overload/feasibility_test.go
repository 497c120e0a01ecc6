package overload

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/benchmarks/overload/experiment"
	"github.com/stretchr/testify/assert"
)

// The shapes of issue 23.1's shortfall and the experiment's 8 × 10 ms.
var feasShapes = []struct {
	slots   int
	service time.Duration
	span    time.Duration // long-run oracle: enough starts for a stable mean
	blind   bool          // no state-blind admission meets 40 ms at 0.90 (Erlang C)
}{
	{4, 21 * time.Millisecond, 100 * time.Second, true},
	{8, 66 * time.Millisecond, 150 * time.Second, true},
	{8, 30 * time.Millisecond, 80 * time.Second, false},
	{8, 10 * time.Millisecond, 30 * time.Second, false},
}

const feasLimit = 40 * time.Millisecond // 2 × QueueThreshold, issue 23.1

// TestFeasibilityOracleMatchesErlangC: the oracle admits a fixed random
// fraction of 4× load (a state-blind admission; a priority level is one
// within a window) so that utilisation is 0.93, 0.90 or 0.85. Over long
// runs (seeds 1–4 pooled) its mean wait is the M/M/c (Erlang C) figure,
// within 20 %: the harness reproduces the theory. Where that figure is
// above 50 ms (8 × 66 ms at 0.90; 4 × 21 ms and 8 × 66 ms at 0.93, about
// the utilisation a state-blind policy must aim at for a 7 s measurement
// to reach 0.90 on every seed) the measured wait is above 2 ×
// QueueThreshold too: no state-blind policy meets issue 23.1 there.
func TestFeasibilityOracleMatchesErlangC(t *testing.T) {
	fmt.Println("| shape | target utilisation | Erlang C wait | oracle wait (seeds 1–4 pooled, long run) | utilisation |")
	fmt.Println("|---|---|---|---|---|")
	for _, sh := range feasShapes {
		for _, target := range []float64{0.93, 0.90, 0.85} {
			if target == 0.93 && sh.service < 20*time.Millisecond {
				continue // 14 ms: far below the limit, and the costliest shape to run
			}
			var sum time.Duration
			var util float64
			var n int
			for seed := uint64(1); seed <= 4; seed++ {
				synctest.Test(t, func(t *testing.T) {
					r := experiment.RunFeasibility(experiment.Shape{Slots: sh.slots, Service: sh.service, Mult: 4,
						Policy: experiment.Oracle, Target: target, Seed: seed, Span: sh.span})
					sum += r.MeanWait * time.Duration(r.Started)
					util += r.Utilisation
					n += r.Started
				})
			}
			mean, util := sum/time.Duration(n), util/4
			want := experiment.ErlangCWait(sh.slots, sh.service, target)
			fmt.Printf("| %d × %v | %.2f | %s ms | %s ms | %.3f |\n", sh.slots, sh.service, target, msf(want), msf(mean), util)
			assert.InDelta(t, float64(want), float64(mean), 0.2*float64(want), "%d × %v at %.2f", sh.slots, sh.service, target)
			assert.InDelta(t, target, util, 0.01)
			if want > feasLimit*5/4 {
				assert.Greater(t, mean, feasLimit, "%d × %v: a state-blind admission at %.2f waits above 2 × threshold", sh.slots, sh.service, target)
			}
		}
	}
}

// TestFeasibilityUtilisationAtTheLimit: the utilisation at which a
// state-blind admission's mean wait (Erlang C) reaches QueueThreshold
// (20 ms, where the Controller's level holds it) and 2 × QueueThreshold
// (40 ms, issue 23.1's limit). Below 0.90 at 40 ms, the pair of
// targets is out of reach of any state-blind admission on average, before
// any run-to-run noise: asserted for 4 × 21 ms and 8 × 66 ms, and not for
// 8 × 30 ms and 8 × 10 ms.
func TestFeasibilityUtilisationAtTheLimit(t *testing.T) {
	fmt.Println("| shape | utilisation at a 20 ms mean wait | at 40 ms |")
	fmt.Println("|---|---|---|")
	for _, sh := range feasShapes {
		u20 := experiment.ErlangCUtilisation(sh.slots, sh.service, feasLimit/2)
		u40 := experiment.ErlangCUtilisation(sh.slots, sh.service, feasLimit)
		fmt.Printf("| %d × %v | %.3f | %.3f |\n", sh.slots, sh.service, u20, u40)
		assert.InDelta(t, float64(feasLimit), float64(experiment.ErlangCWait(sh.slots, sh.service, u40)), float64(time.Microsecond))
		assert.Equal(t, sh.blind, u40 < 0.90, "%d × %v: %.3f", sh.slots, sh.service, u40)
	}
}

func msf(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) }

// TestFeasibilityTable: what issue 23.1 measures (10 s runs, mean wait of
// the starts after 3 s, utilisation over 3–10 s), at 2× and 4×, seeds 1–4,
// for the oracle at 0.90 and 0.85, the slot-driven Controller (Acquire) and
// the own-queue Controller (Admit + ObserveQueueTime, runs all it admitted).
// "vs Erlang" is the measured wait over the Erlang C wait at the run's
// measured utilisation: below 1, the run waited less than a state-blind
// admission would on average at that utilisation. Asserted: every run
// served work, the oracle's utilisation is its target within arrival noise
// (±0.07 over 7 s), and no Controller run averages 250 ms or more (the
// regression bound of the onset rule, overload/onset_test.go: 200 ms).
func TestFeasibilityTable(t *testing.T) {
	type pol struct {
		name   string
		p      experiment.Policy
		target float64
	}
	pols := []pol{{"oracle 0.90", experiment.Oracle, 0.90}, {"oracle 0.85", experiment.Oracle, 0.85},
		{"slots", experiment.Slots, 0}, {"own queue", experiment.OwnQueue, 0}}
	fmt.Println("| shape | policy | load | mean wait, seeds 1–4 (ms) | utilisation | vs Erlang at that utilisation | runs meeting ≤ 40 ms and ≥ 0.90 |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, sh := range feasShapes {
		for _, pl := range pols {
			for _, mult := range []float64{2, 4} {
				var waits, utils, ratios []string
				met := 0
				for seed := uint64(1); seed <= 4; seed++ {
					synctest.Test(t, func(t *testing.T) {
						r := experiment.RunFeasibility(experiment.Shape{Slots: sh.slots, Service: sh.service, Mult: mult,
							Policy: pl.p, Target: pl.target, Seed: seed})
						assert.Positive(t, r.Started)
						if pl.p == experiment.Oracle {
							assert.InDelta(t, pl.target, r.Utilisation, 0.07)
						} else {
							assert.Less(t, r.MeanWait, 250*time.Millisecond, "%s %d × %v %g× seed %d", pl.name, sh.slots, sh.service, mult, seed)
						}
						if r.MeanWait <= feasLimit && r.Utilisation >= 0.90 {
							met++
						}
						waits = append(waits, msf(r.MeanWait))
						utils = append(utils, strconv.FormatFloat(r.Utilisation, 'f', 3, 64))
						ratio := "-"
						if r.Utilisation < 0.995 {
							ratio = strconv.FormatFloat(float64(r.MeanWait)/float64(experiment.ErlangCWait(sh.slots, sh.service, r.Utilisation)), 'f', 2, 64)
						}
						ratios = append(ratios, ratio)
					})
				}
				fmt.Printf("| %d × %v | %s | %g× | %s | %s | %s | %d of 4 |\n", sh.slots, sh.service, pl.name, mult,
					strings.Join(waits, ", "), strings.Join(utils, ", "), strings.Join(ratios, ", "), met)
			}
		}
	}
}

// TestFeasibilityAtCapacityWithoutControl: the steady part's ρ = 1
// workload (8 × lognormal 10 ms, Poisson 800 req/s, seeds 1–4) with no
// admission control at all. Nothing is shed, and the wait random-walks: a
// queue at ρ = 1 has no steady state (its wait grows like √t). Asserted:
// for every seed some second of the first 10 averages more than
// 2 × QueueThreshold, and the mean over 3–100 s exceeds it. So "nothing
// shed at ρ = 1" and "mean wait within 2 × threshold" cannot both hold.
func TestFeasibilityAtCapacityWithoutControl(t *testing.T) {
	fmt.Fprintln(os.Stdout, "| seed | mean wait 3–10 s | per-second mean wait, 0–10 s (ms) | seconds > 40 ms | mean wait 3–100 s | largest second of 100 |")
	fmt.Fprintln(os.Stdout, "|---|---|---|---|---|---|")
	for seed := uint64(1); seed <= 4; seed++ {
		var short, long experiment.AtCapacity
		synctest.Test(t, func(t *testing.T) { short = experiment.RunAtCapacity(1, seed, 10*time.Second) })
		synctest.Test(t, func(t *testing.T) { long = experiment.RunAtCapacity(1, seed, 100*time.Second) })
		var ws []string
		for _, w := range short.Windows {
			ws = append(ws, strconv.FormatInt(w.Round(time.Millisecond).Milliseconds(), 10))
		}
		fmt.Printf("| %d | %s ms | %s | %d of 10 | %s ms | %s ms |\n", seed, msf(short.MeanWait), strings.Join(ws, " "), short.Over, msf(long.MeanWait), msf(long.MaxWin))
		assert.Positive(t, short.Over, "seed %d", seed)
		assert.Greater(t, long.MeanWait, feasLimit, "seed %d", seed)
	}
}

// TestFeasibilitySlowCorner: issue 16.1's slow, few-slot corner (4 and 8
// slots × 100 ms, 4× load, 500 ms deadlines, 20 s, arrivals after 3 s,
// seeds 1–6): class 0 success and goodput for the oracle's fixed level at
// utilisation 0.75–0.90 next to both Controller modes. In a FIFO a
// request's sojourn is wait + service, and with 100 ms handlers a 500 ms
// deadline is five service times: the hotter the queue, the more of class
// 0 misses it, so the two targets (class 0 ≥ 0.95, goodput ≥ 0.7) meet
// only in a band of utilisation. Asserted: at 4 × 100 ms the oracle's
// level at 0.75 meets both on the mean over seeds (the band is not empty;
// per seed it is at the edge, class 0 down to 0.950) and at 0.90 it
// misses class 0 ≥ 0.95 for every seed (the band ends below it). The FIFO
// is the cause: with a queue that serves the most important class first,
// the same level at 0.90 serves class 0 ≥ 0.95 on every seed (asserted).
func TestFeasibilitySlowCorner(t *testing.T) {
	type pol struct {
		name   string
		p      experiment.Policy
		target float64
		pq     bool
	}
	pols := []pol{{"oracle 0.75", experiment.Oracle, 0.75, false}, {"oracle 0.80", experiment.Oracle, 0.80, false},
		{"oracle 0.85", experiment.Oracle, 0.85, false}, {"oracle 0.90", experiment.Oracle, 0.90, false},
		{"oracle 0.85, class-priority queue", experiment.Oracle, 0.85, true},
		{"oracle 0.90, class-priority queue", experiment.Oracle, 0.90, true},
		{"slots", experiment.Slots, 0, false}, {"own queue", experiment.OwnQueue, 0, false}}
	fmt.Println("| shape | policy | class 0, seeds 1–6 | goodput | utilisation (min–max) |")
	fmt.Println("|---|---|---|---|---|")
	for _, slots := range []int{4, 8} {
		for _, pl := range pols {
			var c0s, gps []string
			umin, umax := 1.0, 0.0
			var c0sum, gpsum float64
			for seed := uint64(1); seed <= 6; seed++ {
				synctest.Test(t, func(t *testing.T) {
					r := experiment.RunFeasibility(experiment.Shape{Slots: slots, Service: 100 * time.Millisecond, Mult: 4,
						Policy: pl.p, Target: pl.target, PriorityQueue: pl.pq, Seed: seed, Span: 20 * time.Second})
					c0s = append(c0s, strconv.FormatFloat(r.Class0, 'f', 3, 64))
					gps = append(gps, strconv.FormatFloat(r.Goodput, 'f', 3, 64))
					umin, umax = min(umin, r.Utilisation), max(umax, r.Utilisation)
					c0sum += r.Class0
					gpsum += r.Goodput
					if slots == 4 && pl.target == 0.90 {
						if pl.pq {
							assert.GreaterOrEqual(t, r.Class0, 0.95, "seed %d", seed)
						} else {
							assert.Less(t, r.Class0, 0.95, "seed %d", seed)
						}
					}
				})
			}
			fmt.Printf("| %d × 100ms | %s | %s | %s | %.3f–%.3f |\n", slots, pl.name, strings.Join(c0s, ", "), strings.Join(gps, ", "), umin, umax)
			if slots == 4 && pl.target == 0.75 && !pl.pq {
				assert.GreaterOrEqual(t, c0sum/6, 0.95)
				assert.GreaterOrEqual(t, gpsum/6, 0.7)
			}
		}
	}
}

// TestFeasibilityOwnQueueSweep: issue 23.1's measure at random shapes
// (workers log-uniform 4–32, handler log-uniform 1–100 ms, exponential,
// lognormal, Pareto α 1.5 or bimodal service, 2× or 4×, seeded), the
// own-queue Controller next to
// the slot-driven one and the Erlang C utilisation at 40 ms (the most a
// state-blind admission reaches within the wait limit, on average).
// Asserted: the own queue's mean wait is within 2 × QueueThreshold at
// every point.
func TestFeasibilityOwnQueueSweep(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 1))
	fmt.Println("| shape | service | load | own queue: wait, utilisation | slots: wait, utilisation | Erlang C utilisation at 40 ms |")
	fmt.Println("|---|---|---|---|---|---|")
	for range 12 {
		slots := int(math.Round(4 * math.Pow(8, rng.Float64())))
		svc := time.Duration(float64(time.Millisecond) * math.Pow(100, rng.Float64())).Round(100 * time.Microsecond)
		mult := float64(2 + 2*rng.IntN(2))
		dist := []string{"exponential", "lognormal", "pareto 1.5", "bimodal"}[rng.IntN(4)]
		seed := rng.Uint64()
		var own, sl experiment.Measured
		for _, p := range []experiment.Policy{experiment.OwnQueue, experiment.Slots} {
			synctest.Test(t, func(t *testing.T) {
				r := experiment.RunFeasibility(experiment.Shape{Slots: slots, Service: svc, Mult: mult, Policy: p, Seed: seed,
					Lognormal: dist == "lognormal", Pareto: dist == "pareto 1.5", Bimodal: dist == "bimodal"})
				if p == experiment.OwnQueue {
					own = r
				} else {
					sl = r
				}
			})
		}
		fmt.Printf("| %d × %v | %s | %g× | %s ms, %.3f | %s ms, %.3f | %.3f |\n", slots, svc, dist, mult,
			msf(own.MeanWait), own.Utilisation, msf(sl.MeanWait), sl.Utilisation, experiment.ErlangCUtilisation(slots, svc, feasLimit))
		assert.LessOrEqual(t, own.MeanWait, feasLimit, "%d × %v %s %g×", slots, svc, dist, mult)
	}
}
