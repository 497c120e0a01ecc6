package quorumtest_test

import (
	"fmt"
	"testing"

	"github.com/bulwark-go/bulwark/quorum"
	"github.com/bulwark-go/bulwark/quorum/quorumtest"
)

// TestLinearizableSharedClient is TestLinearizableUnderFaults with the eight
// clients sharing one quorum.Client (one writer id), as goroutines of one
// service do.
func TestLinearizableSharedClient(t *testing.T) {
	for i := 0; i < historyCount(t)/5; i += raceStride() {
		cfg := nemesisRun{
			seed:        uint64(500 + i),
			n:           3 + 2*(i%2),
			clients:     8,
			keys:        1 + i%2,
			ops:         1000,
			consistency: quorum.Linearizable,
			shared:      true,
		}
		t.Run(fmt.Sprintf("seed=%d/n=%d/keys=%d", cfg.seed, cfg.n, cfg.keys), func(t *testing.T) {
			ops, _ := recordHistory(t, cfg)
			quorumtest.RequireLinearizable(t, ops, checkTimeout)
		})
	}
}
