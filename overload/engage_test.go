package overload

import (
	"math"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
)

// gridPoint is one (handler time, MaxConcurrency) pair of issue 16's grid.
type gridPoint struct {
	service time.Duration
	slots   int
}

// gridPoints returns the grid's corners plus n points drawn log-uniformly
// from handler times 1–100 ms × MaxConcurrency 4–256.
func gridPoints(seed uint64, n int) []gridPoint {
	pts := []gridPoint{{time.Millisecond, 4}, {time.Millisecond, 256}, {100 * time.Millisecond, 4}, {100 * time.Millisecond, 256}, {5 * time.Millisecond, 8}}
	rng := rand.New(rand.NewPCG(seed, 99))
	for range n {
		svc := time.Duration(float64(time.Millisecond) * math.Pow(100, rng.Float64()))
		slots := int(math.Round(4 * math.Pow(64, rng.Float64())))
		pts = append(pts, gridPoint{svc, slots})
	}
	return pts
}

// simSpan is how long to run a point: long enough for about a dozen
// windows (2,000 arrivals or 1 s each) at 4×, at most 8 s.
func simSpan(p gridPoint, mult float64) time.Duration {
	rate := mult * float64(p.slots) / p.service.Seconds()
	return min(8*time.Second, time.Duration(24000/rate*float64(time.Second)))
}

// TestLevelEngagesAcrossTheGrid: at 4× load and the default Config, for
// handler times 1–100 ms and MaxConcurrency 4–256 (corners and random
// points), the level itself engages: requests are refused with ReasonLevel,
// a Gate fed the responses' level learns a closed level, and class 0 is
// served.
func TestLevelEngagesAcrossTheGrid(t *testing.T) {
	t.Parallel()
	n := 7
	if testing.Short() || raceEnabled {
		n = 3
	}
	for _, p := range gridPoints(1, n) {
		t.Run(p.service.String()+"x"+itoa(p.slots), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				span := simSpan(p, 4)
				sc := simConfig{seed: uint64(p.slots) + uint64(p.service), slots: p.slots, service: p.service,
					segments: []simSegment{{4, span}}}
				r := runSim(sc)
				t.Logf("span %v: first level refusal %v, gate learned %v, goodput %.3f, class 0 %.3f, windows %d",
					span, r.firstLevelShed, r.gateLearned, r.goodput(sc, span/2, span), r.classSuccess(0, span/2, span), len(r.windows))
				assert.GreaterOrEqual(t, r.firstLevelShed, time.Duration(0), "no refusal for the level")
				assert.True(t, r.gateLearned, "the Gate never learned a closed level")
				assert.GreaterOrEqual(t, r.classSuccess(0, span/2, span), 0.95)
				assert.GreaterOrEqual(t, r.goodput(sc, span/2, span), 0.7)
			})
		})
	}
}

func itoa(n int) string { return time.Duration(n).String()[:len(time.Duration(n).String())-2] }
