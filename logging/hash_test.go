package logging

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHashKeysGenerative: values of hashed keys never appear raw, equal
// values hash equal, different values (almost surely) differ, and a key
// that is both hashed and denylisted is redacted.
func TestHashKeysGenerative(t *testing.T) {
	hashRE := regexp.MustCompile(`^h:[0-9a-f]{24}$`)
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 13))
		var buf bytes.Buffer
		opts := &Options{HashKeys: []string{"user", "Token"}, HashKey: [16]byte{byte(seed)}}
		log := slog.New(NewHandler(newNext(&buf, false), opts))
		vals := make([]string, 1+rng.IntN(5))
		for i := range vals {
			vals[i] = fmt.Sprintf("V%dX%d", seed, rng.IntN(3))
		}
		seen := map[string]string{}
		for _, v := range vals {
			buf.Reset()
			key := []string{"user", "USER", "uSeR"}[rng.IntN(3)]
			log.Info("m", key, v, slog.Group("g", "user", v), "token", v)
			out := buf.String()
			require.NotContains(t, out, v, "seed %d", seed)
			ms := parseJSONLines(t, buf.Bytes())
			h := ms[0][key].(string)
			assert.Regexp(t, hashRE, h)
			assert.Equal(t, h, ms[0]["g"].(map[string]any)["user"])
			assert.Equal(t, Redacted, ms[0]["token"], "deny beats hash")
			if prev, ok := seen[v]; ok {
				assert.Equal(t, prev, h)
			}
			for ov, oh := range seen {
				if ov != v {
					assert.NotEqual(t, oh, h)
				}
			}
			seen[v] = h
		}
	}
}

// TestFlightConcurrent: goroutines log on one flight request while one of
// them errs; every record is written at most once, none is lost when the
// buffer is large enough, and -race sees no race.
func TestFlightConcurrent(t *testing.T) {
	var got []string
	h := NewHandler(recorder(&got), &Options{FlightBytes: 1 << 24})
	log := slog.New(h)
	ctx := WithFlight(context.Background())
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				log.DebugContext(ctx, fmt.Sprintf("d%d-%d", g, i))
				if g == 0 && i == 100 {
					log.ErrorContext(ctx, "boom")
				}
			}
		})
	}
	wg.Wait()
	require.Len(t, got, 801)
	uniq := map[string]bool{}
	for _, m := range got {
		uniq[m] = true
	}
	require.Len(t, uniq, 801)
	// Each goroutine's records come out in the order it logged them.
	last := map[string]int{}
	for _, m := range got {
		if m == "boom" {
			continue
		}
		var g, i int
		_, err := fmt.Sscanf(strings.TrimPrefix(m, "d"), "%d-%d", &g, &i)
		require.NoError(t, err)
		prev, ok := last[fmt.Sprint(g)]
		require.True(t, !ok || i > prev, "goroutine %d: %d after %d", g, i, prev)
		last[fmt.Sprint(g)] = i
	}
}

func TestNilInputsDoNotPanic(t *testing.T) {
	h := NewHandler(nil, nil)
	//lint:ignore SA1012 a nil context must not panic
	assert.False(t, h.Enabled(nil, slog.LevelDebug)) //nolint:staticcheck
	//lint:ignore SA1012 a nil context must not panic
	assert.NoError(t, h.Handle(nil, slog.NewRecord(timeZero, slog.LevelInfo, "m", 0))) //nolint:staticcheck
	//lint:ignore SA1012 a nil context must not panic
	_ = WithKey(nil, "k") //nolint:staticcheck
}
