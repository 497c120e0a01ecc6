package quorum_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/quorum"
	"github.com/bulwark-go/bulwark/quorum/memreplica"
)

// FuzzConfig: no Config panics New, every Config New accepts serves a Put,
// Get and Delete over healthy in-memory replicas (or fails with a documented
// error), and Close returns.
func FuzzConfig(f *testing.F) {
	f.Add(uint8(3), int8(0), int8(0), uint8(0), uint8(0), uint8(0), uint8(0), int8(0), 0.0, 0.0, int64(0), 0.0, "")
	f.Add(uint8(3), int8(1), int8(1), uint8(3), uint8(0), uint8(0), uint8(2), int8(0), 0.5, 0.5, int64(time.Millisecond), -1.0, "a")
	f.Add(uint8(2), int8(2), int8(1), uint8(1), uint8(2), uint8(2), uint8(1), int8(1), 0.99, 1.0, int64(time.Hour), 10.0, "b")
	f.Add(uint8(5), int8(3), int8(3), uint8(2), uint8(3), uint8(3), uint8(3), int8(2), math.NaN(), math.Inf(1), int64(-1), math.NaN(), "")
	f.Fuzz(func(t *testing.T, n uint8, w, r int8, cons, tier, dual, repair uint8, zones int8, q, budget float64, timeout int64, repairRate float64, local string) {
		n = n%8 + 1
		if timeout > 0 && timeout < int64(time.Second) {
			timeout += int64(time.Second) // tiny timeouts fail calls under fuzzing load, as they should
		}
		reps := make([]quorum.Replica, n)
		for i := range reps {
			reps[i] = memreplica.New(memreplica.Options{Zone: string(rune('a' + i%3))})
		}
		c, err := quorum.New(reps, quorum.Config{
			W: int(w), R: int(r), Consistency: quorum.Consistency(cons), Tier: quorum.Tier(tier),
			DualWrite: quorum.DualPolicy(dual), Repair: quorum.ReadRepair(repair), MinWriteZones: int(zones),
			LocalZone: local, ReplicaTimeout: time.Duration(timeout), RepairRate: repairRate,
			Hedge: quorum.Hedge{Quantile: q, Budget: budget},
		})
		if err != nil {
			if !errors.Is(err, quorum.ErrConfig) {
				t.Fatalf("New: %v does not match ErrConfig", err)
			}
			return
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Put(ctx, "k", []byte("v")); err != nil {
			t.Fatalf("Put over healthy replicas: %v", err)
		}
		// Weak reads may miss the write (W+R <= N is allowed there).
		weak := quorum.Consistency(cons) == quorum.Weak
		got, err := c.Get(ctx, "k")
		if !weak && (err != nil || string(got) != "v") {
			t.Fatalf("Get = %q, %v", got, err)
		}
		if weak && err != nil && !errors.Is(err, quorum.ErrNotFound) {
			t.Fatalf("weak Get: %v", err)
		}
		if err := c.Delete(ctx, "k"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := c.Get(ctx, "k"); !weak && !errors.Is(err, quorum.ErrNotFound) {
			t.Fatalf("Get after Delete: %v", err)
		}
	})
}
