package quorum_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/bulwark-go/bulwark/quorum"
	"github.com/bulwark-go/bulwark/quorum/memreplica"
)

func memClient(tb testing.TB, cfg quorum.Config) *quorum.Client {
	tb.Helper()
	reps := []quorum.Replica{
		memreplica.New(memreplica.Options{}),
		memreplica.New(memreplica.Options{}),
		memreplica.New(memreplica.Options{}),
	}
	c, err := quorum.New(reps, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkGet measures the client's overhead per Get over three in-memory
// replicas (N=3, W=R=2): the replica work itself is a map lookup and a copy.
// "workers" hands every call to a worker goroutine (InlineBelow < 0).
func BenchmarkGet(b *testing.B) {
	for _, tt := range []struct {
		name string
		cfg  quorum.Config
	}{
		{"linearizable", quorum.Config{}},
		{"quorum", quorum.Config{Consistency: quorum.Quorum}},
		{"linearizable/workers", quorum.Config{InlineBelow: -1}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			c := memClient(b, tt.cfg)
			ctx := context.Background()
			val := make([]byte, 64)
			if err := c.Put(ctx, "key", val); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Get(ctx, "key"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPut(b *testing.B) {
	for _, tt := range []struct {
		name string
		cfg  quorum.Config
	}{
		{"inline", quorum.Config{}},
		{"workers", quorum.Config{InlineBelow: -1}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			c := memClient(b, tt.cfg)
			ctx := context.Background()
			val := make([]byte, 64)
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Put(ctx, "key", val); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParallel(b *testing.B) {
	c := memClient(b, quorum.Config{})
	ctx := context.Background()
	val := make([]byte, 64)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "key" + strconv.Itoa(i)
		if err := c.Put(ctx, keys[i], val); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			k := keys[i%len(keys)]
			i++
			if i%4 == 0 {
				if err := c.Put(ctx, k, val); err != nil {
					b.Error(err)
				}
			} else if _, err := c.Get(ctx, k); err != nil {
				b.Error(err)
			}
		}
	})
}

// BenchmarkFastFail: with health known and too few healthy replicas, an
// operation fails before contacting any replica (the target is < 1 ms).
func BenchmarkFastFail(b *testing.B) {
	fs, reps := nFakes(3)
	fs[0].unhealthy.Store(true)
	fs[1].unhealthy.Store(true)
	c := newClient(b, reps, quorum.Config{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Put(ctx, "k", nil); err == nil {
			b.Fatal("want ErrNoQuorum")
		}
	}
}
