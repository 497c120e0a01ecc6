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
// context: context.WithDeadline (4: the context, its cancel func, its timer
// and the timer's func) and, for a write under a cancellable caller
// context, context.WithoutCancel (1).
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
		{"linearizable", quorum.Config{}, context.Background(), 6, 8},
		{"quorum", quorum.Config{Consistency: quorum.Quorum}, context.Background(), 6, 8},
		{"cancellable caller context", quorum.Config{}, cancellable, 6, 9},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			c := memClient(t, tt.cfg)
			require.NoError(t, c.Put(ctx, "k", val))
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
