package logging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// loggedValue returns a fresh value of a random kind, some much larger in
// memory than in their logged text would suggest to a naive estimate: big
// byte slices, short strings cut from long ones, maps, long error texts.
func loggedValue(rng *rand.Rand) any {
	switch rng.IntN(8) {
	case 0:
		return make([]byte, rng.IntN(16<<10))
	case 1:
		big := strings.Repeat("s", 16<<10)
		return big[:1+rng.IntN(16)] // keeps big alive unless copied
	case 2:
		m := map[string]string{}
		for i := range rng.IntN(200) {
			m[fmt.Sprint("k", i)] = strings.Repeat("v", rng.IntN(50))
		}
		return m
	case 3:
		return errors.New(strings.Repeat("e", rng.IntN(4<<10)))
	case 4:
		return slog.GroupValue(slog.String("a", strings.Repeat("g", rng.IntN(500))), slog.Any("b", []int{1, 2, 3}))
	case 5:
		return rng.IntN(1000)
	case 6:
		return &cart{Items: []string{strings.Repeat("i", rng.IntN(300))}}
	}
	return strings.Repeat("x", rng.IntN(2000))
}

// TestFlightMemoryBound is the memory claim measured: requests log random
// records (big opaque values, substrings of big strings, maps, errors)
// whose originals the caller then drops, and the heap kept by all the
// flight buffers stays within requests × FlightBytes. The review measured
// 163 MiB for one 64 KiB request (opaque values counted as 64 B) and
// 10 KiB per request for FlightBytes = 512 (a whole chunk of entries).
func TestFlightMemoryBound(t *testing.T) {
	for seed := range uint64(4) {
		rng := rand.New(rand.NewPCG(seed, 31))
		limit := []int{512, 2 << 10, 16 << 10, 64 << 10}[rng.IntN(4)]
		const requests = 64
		h := NewHandler(slog.DiscardHandler, &Options{FlightBytes: limit})
		ctxs := make([]context.Context, requests)
		for i := range ctxs {
			ctxs[i] = WithFlight(context.Background())
		}
		before := heapInUse()
		for i, ctx := range ctxs {
			for range rng.IntN(30) {
				r := slog.NewRecord(timeZero, slog.LevelDebug, strings.Repeat("m", rng.IntN(100)), 0)
				for j := range rng.IntN(8) {
					r.AddAttrs(slog.Any(fmt.Sprint("a", j), loggedValue(rng)))
				}
				require.NoError(t, h.Handle(ctxs[i], r))
			}
			_ = ctx
		}
		kept := heapInUse() - before
		charged := 0
		for _, ctx := range ctxs {
			f := stateFrom(ctx).flight
			require.LessOrEqual(t, f.bytes, limit)
			charged += f.bytes
		}
		t.Logf("seed %d: FlightBytes %d: heap kept %d B for %d requests (%.0f%% of the bound), charged %d", seed, limit, kept, requests, 100*float64(kept)/float64(requests*limit), charged)
		require.LessOrEqual(t, kept, int64(requests*limit)+32<<10, "seed %d: heap kept %d B, bound %d", seed, kept, requests*limit)
		require.Greater(t, charged, requests*limit/10, "seed %d: the buffers were hardly used", seed)
		runtime.KeepAlive(ctxs)
	}
}

// TestWithFlightOverhead measures what WithFlight costs a request outside
// FlightBytes (the doc quotes it).
func TestWithFlightOverhead(t *testing.T) {
	ctxs := make([]context.Context, 10000)
	base := context.Background()
	before := heapInUse()
	for i := range ctxs {
		ctxs[i] = WithFlight(base)
	}
	per := float64(heapInUse()-before) / float64(len(ctxs))
	t.Logf("WithFlight: %.0f B per request", per)
	require.LessOrEqual(t, per, 256.0)
	runtime.KeepAlive(ctxs)
}
