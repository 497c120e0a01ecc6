package quorum_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
)

// TestAllocs locks the allocation counts of the hot paths over memreplica
// (N=3, W=R=2). The client itself allocates nothing on a Get; the counts are
// the replicas' copies of the value (one per answering replica) and, for a
// Put, the client's own copy of the caller's value.
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts; run without -race")
	}
	ctx := context.Background()
	val := make([]byte, 64)
	for _, tt := range []struct {
		name  string
		cfg   quorum.Config
		get   float64
		put   float64
		extra string
	}{
		{"linearizable", quorum.Config{}, 2, 4, ""},
		{"quorum", quorum.Config{Consistency: quorum.Quorum}, 2, 4, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
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
