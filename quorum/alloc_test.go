package quorum_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
)

// TestAllocs locks the allocation counts of the hot paths over memreplica
// (N=3, W=R=2), which the issue bounds at 10 per Get or Put. The counts are
// the replicas' copies of the value (one per answering replica), for a Put
// the client's own copy of the caller's value, and the replica calls'
// context (3: see opctx.go) and, for a write under a cancellable caller
// context, context.WithoutCancel (1). With replicas on workers only
// (InlineBelow < 0) the counts are the same.
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts; run without -race")
	}
	val := make([]byte, 64)
	cancellable, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, tt := range []struct {
		name string
		cfg  quorum.Config
		ctx  context.Context
		get  float64
		put  float64
	}{
		{"linearizable", quorum.Config{}, context.Background(), 5, 7},
		{"quorum", quorum.Config{Consistency: quorum.Quorum}, context.Background(), 5, 7},
		{"cancellable caller context", quorum.Config{}, cancellable, 5, 8},
		{"workers only", quorum.Config{InlineBelow: -1}, context.Background(), 5, 7},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			c := memClient(t, tt.cfg)
			// Warm up: replicas are called inline once they have been fast
			// 128 times in a row.
			for range 200 {
				require.NoError(t, c.Put(ctx, "k", val))
			}
			get := testing.AllocsPerRun(200, func() {
				if _, err := c.Get(ctx, "k"); err != nil {
					t.Fatal(err)
				}
			})
			put := testing.AllocsPerRun(200, func() {
				if err := c.Put(ctx, "k", val); err != nil {
					t.Fatal(err)
				}
			})
			assert.LessOrEqual(t, get, tt.get, "allocs per Get")
			assert.LessOrEqual(t, put, tt.put, "allocs per Put")
			t.Logf("allocs: Get %.1f, Put %.1f", get, put)
		})
	}
}

// TestFastFailAllocs: an operation refused before contacting any replica
// (too few healthy) allocates only its error: no context, no timer.
func TestFastFailAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts; run without -race")
	}
	fs, reps := nFakes(3)
	fs[0].unhealthy.Store(true)
	fs[1].unhealthy.Store(true)
	c := newClient(t, reps, quorum.Config{})
	ctx := context.Background()
	for _, op := range []struct {
		name string
		f    func() error
	}{
		{"put", func() error { return c.Put(ctx, "k", nil) }},
		{"get", func() error { _, err := c.Get(ctx, "k"); return err }},
	} {
		t.Run(op.name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(100, func() {
				if err := op.f(); err == nil {
					t.Fatal("want ErrNoQuorum")
				}
			})
			assert.LessOrEqual(t, allocs, 1.0)
		})
	}
}
