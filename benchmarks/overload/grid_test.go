package overload

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/benchmarks/overload/experiment"
	"github.com/stretchr/testify/assert"
)

// TestGrid: issue 16.1's grid, handler time {1, 5, 20, 100 ms} ×
// MaxConcurrency {4, 16, 64, 256} at 4× load and the default Config, in
// virtual time: at every point the level engages (a ReasonLevel refusal),
// a Gate fed the responses' level learns it, class 0 ≥ 0.95 and goodput
// ≥ 0.7. It prints the table (run with -v).
func TestGrid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		assert.True(t, experiment.RunGrid(os.Stdout, 1), "a grid point did not engage; see the table")
	})
}

// TestGridRandomPoints: the same bar at 24 seeded draws of handler time
// (log-uniform 1–100 ms) and MaxConcurrency (log-uniform 4–256), not only
// the grid's points.
func TestGridRandomPoints(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 1))
	for range 24 {
		svc := time.Duration(float64(time.Millisecond) * math.Pow(100, rng.Float64()))
		slots := int(math.Round(4 * math.Pow(64, rng.Float64())))
		seed := rng.Uint64()
		synctest.Test(t, func(t *testing.T) {
			r := experiment.RunGridPoint(svc, slots, seed)
			t.Logf("%v × %d: first level refusal %v, goodput %.3f, class 0 %.3f, gate learned %v",
				svc.Round(time.Microsecond), slots, r.FirstLevelShed, r.Goodput, r.Class0, r.GateLearned)
			assert.True(t, r.Engaged(), "%v × %d did not engage: %+v", svc, slots, r)
		})
	}
}
