package overload

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestOwnQueueMidWindowStep: a service with its own queue runs at 0.5× of
// its capacity, then the load steps to 2–6× at a random point of a window
// (random workers, handler time, step time and size, seeded). The window
// holding the step began calm, so its mean wait stays low for a while; the
// onset rules judge the recent waits, and the bound counts what was
// admitted since a long old backlog started, so the level engages and the
// queue drains: from 3 s after the step the mean wait of the starts is
// within 2 × QueueThreshold (the doc's 40 ms).
func TestOwnQueueMidWindowStep(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(23, 4))
	for i := range 24 {
		slots := 4 + rng.IntN(29)
		svc := time.Duration(3+rng.IntN(83)) * time.Millisecond
		at := time.Second + time.Duration(rng.IntN(950))*time.Millisecond
		mult := 2 + 4*rng.Float64()
		seed := rng.Uint64()
		t.Run(fmt.Sprintf("%d/%d×%v/%.1f×@%v", i, slots, svc, mult, at), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := runSim(simConfig{seed: seed, slots: slots, service: svc, ownQueue: true, deadline: time.Minute,
					segments: []simSegment{{0.5, at}, {mult, 8 * time.Second}}})
				from := at + 3*time.Second
				var sum time.Duration
				var n int
				for _, rec := range r.recs {
					if rec.began && rec.start >= from {
						sum += rec.queued
						n++
					}
				}
				if !assert.Positive(t, n, "starts after the step") {
					return
				}
				mean := sum / time.Duration(n)
				t.Logf("mean wait from step + 3 s: %v over %d starts", mean, n)
				assert.LessOrEqual(t, mean, 2*DefaultQueueThreshold, "mean wait from step + 3 s")
			})
		})
	}
}
