package memreplica_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
	"github.com/bulwark-go/bulwark/quorum/memreplica"
)

var ctx = context.Background()

func v(c, w uint64) quorum.Version { return quorum.Version{Counter: c, Writer: w} }

func TestSetIfNewer(t *testing.T) {
	tests := []struct {
		name   string
		stored *quorum.Version
		put    quorum.Version
		want   bool
	}{
		{"new key", nil, v(1, 1), true},
		{"zero version on new key", nil, quorum.Version{}, false},
		{"newer counter", &quorum.Version{Counter: 1, Writer: 9}, v(2, 1), true},
		{"same counter higher writer", &quorum.Version{Counter: 2, Writer: 1}, v(2, 2), true},
		{"same version", &quorum.Version{Counter: 2, Writer: 2}, v(2, 2), false},
		{"older", &quorum.Version{Counter: 3, Writer: 1}, v(2, 9), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := memreplica.New(memreplica.Options{})
			if tt.stored != nil {
				ok, err := r.Put(ctx, "k", quorum.Record{Value: []byte("old"), Version: *tt.stored})
				require.NoError(t, err)
				require.True(t, ok)
			}
			ok, err := r.Put(ctx, "k", quorum.Record{Value: []byte("new"), Version: tt.put})
			require.NoError(t, err)
			assert.Equal(t, tt.want, ok)
			rec, err := r.Get(ctx, "k")
			require.NoError(t, err)
			if tt.want {
				assert.Equal(t, "new", string(rec.Value))
				assert.Equal(t, tt.put, rec.Version)
			} else if tt.stored != nil {
				assert.Equal(t, "old", string(rec.Value))
			}
			got, err := r.Version(ctx, "k")
			require.NoError(t, err)
			assert.Equal(t, rec.Version, got)
		})
	}
}

func TestMissingKeyIsZeroRecord(t *testing.T) {
	r := memreplica.New(memreplica.Options{})
	rec, err := r.Get(ctx, "nope")
	require.NoError(t, err)
	assert.Equal(t, quorum.Record{}, rec)
}

func TestTombstoneBeatsOlderValue(t *testing.T) {
	r := memreplica.New(memreplica.Options{})
	_, err := r.Put(ctx, "k", quorum.Record{Version: v(5, 1), Deleted: true})
	require.NoError(t, err)
	ok, err := r.Put(ctx, "k", quorum.Record{Value: []byte("zombie"), Version: v(4, 1)})
	require.NoError(t, err)
	assert.False(t, ok)
	rec, _ := r.Get(ctx, "k")
	assert.True(t, rec.Deleted)
	assert.Nil(t, rec.Value)
}

func TestCopiesValuesInAndOut(t *testing.T) {
	r := memreplica.New(memreplica.Options{})
	in := []byte("abc")
	_, err := r.Put(ctx, "k", quorum.Record{Value: in, Version: v(1, 1)})
	require.NoError(t, err)
	in[0] = 'X' // the caller reuses its buffer
	out, _ := r.Get(ctx, "k")
	assert.Equal(t, "abc", string(out.Value))
	out.Value[1] = 'Y' // the caller scribbles on what it got
	again, _ := r.Get(ctx, "k")
	assert.Equal(t, "abc", string(again.Value))
}

func TestBounded(t *testing.T) {
	r := memreplica.New(memreplica.Options{MaxKeys: 3})
	for i := range 3 {
		ok, err := r.Put(ctx, fmt.Sprint(i), quorum.Record{Version: v(1, 1)})
		require.NoError(t, err)
		require.True(t, ok)
	}
	_, err := r.Put(ctx, "3", quorum.Record{Version: v(1, 1)})
	require.ErrorIs(t, err, memreplica.ErrFull)
	ok, err := r.Put(ctx, "0", quorum.Record{Version: v(2, 1)})
	require.NoError(t, err, "existing keys still update")
	assert.True(t, ok)
	assert.Equal(t, 3, r.Len())
	r.Reset()
	assert.Zero(t, r.Len())
	_, err = r.Put(ctx, "3", quorum.Record{Version: v(1, 1)})
	require.NoError(t, err, "Reset frees the room")

	unbounded := memreplica.New(memreplica.Options{MaxKeys: -1})
	for i := range 100 {
		_, err := unbounded.Put(ctx, fmt.Sprint(i), quorum.Record{Version: v(1, 1)})
		require.NoError(t, err)
	}
}

func TestZone(t *testing.T) {
	var z quorum.Zoned = memreplica.New(memreplica.Options{Zone: "idc-1"})
	assert.Equal(t, "idc-1", z.Zone())
}

// TestConcurrentWritersConverge: whatever the interleaving, the highest
// version wins.
func TestConcurrentWritersConverge(t *testing.T) {
	r := memreplica.New(memreplica.Options{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for c := range 200 {
				_, err := r.Put(ctx, "k", quorum.Record{Value: []byte(fmt.Sprint(c, w)), Version: v(uint64(c+1), uint64(w+1))})
				assert.NoError(t, err)
				_, err = r.Get(ctx, "k")
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	rec, _ := r.Get(ctx, "k")
	assert.Equal(t, v(200, 8), rec.Version)
	assert.Equal(t, "199 7", string(rec.Value))
}

func BenchmarkPutGet(b *testing.B) {
	r := memreplica.New(memreplica.Options{})
	val := make([]byte, 64)
	b.ReportAllocs()
	var c uint64
	for b.Loop() {
		c++
		if _, err := r.Put(ctx, "k", quorum.Record{Value: val, Version: v(c, 1)}); err != nil {
			b.Fatal(err)
		}
		if _, err := r.Get(ctx, "k"); err != nil {
			b.Fatal(err)
		}
	}
}
