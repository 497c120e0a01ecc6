package redisreplica

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
	"github.com/bulwark-go/bulwark/quorum/quorumtest"
)

func newMini(t *testing.T) (*miniredis.Miniredis, *redis.Client) {
	t.Helper()
	mr := miniredis.RunT(t)
	// go-redis defaults to a 3 s read timeout; under -race on a loaded
	// machine the conformance kit's contended Lua calls have exceeded it.
	// These tests are not about timeouts, so give them ample headroom (the
	// kit bounds each check at 30 s anyway).
	c := redis.NewClient(&redis.Options{
		Addr:         mr.Addr(),
		MaxRetries:   -1,
		DialTimeout:  20 * time.Second,
		ReadTimeout:  20 * time.Second,
		WriteTimeout: 20 * time.Second,
		PoolTimeout:  20 * time.Second,
	})
	t.Cleanup(func() { _ = c.Close() })
	return mr, c
}

func TestConformanceMiniredis(t *testing.T) {
	_, c := newMini(t)
	var n atomic.Int64
	quorumtest.TestReplica(t, func() quorum.Replica {
		return New(c, Options{Prefix: fmt.Sprintf("conf%d:", n.Add(1))})
	})
}

func TestConformanceMiniredisNoPrefix(t *testing.T) {
	// Without a prefix every replica needs its own server.
	quorumtest.TestReplica(t, func() quorum.Replica {
		_, c := newMini(t)
		return New(c, Options{})
	})
}

func TestStoredLayout(t *testing.T) {
	ctx := context.Background()
	mr, c := newMini(t)
	r := New(c, Options{Prefix: "app:"})
	ok, err := r.Put(ctx, "k", quorum.Record{Value: []byte("val"), Version: quorum.Version{Counter: 42, Writer: math.MaxUint64}})
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, []string{"app:k"}, mr.Keys())
	assert.Equal(t, "00000000000000000042", mr.HGet("app:k", "c"))
	assert.Equal(t, "18446744073709551615", mr.HGet("app:k", "w"))
	assert.Equal(t, "0", mr.HGet("app:k", "d"))
	assert.Equal(t, "val", mr.HGet("app:k", "v"))
}

func TestPrefixesIsolate(t *testing.T) {
	ctx := context.Background()
	_, c := newMini(t)
	a, b := New(c, Options{Prefix: "a:"}), New(c, Options{Prefix: "b:"})
	_, err := a.Put(ctx, "k", quorum.Record{Value: []byte("A"), Version: quorum.Version{Counter: 1}})
	require.NoError(t, err)
	got, err := b.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, quorum.Record{}, got)
	ok, err := b.Put(ctx, "k", quorum.Record{Value: []byte("B"), Version: quorum.Version{Counter: 1}})
	require.NoError(t, err)
	assert.True(t, ok, "the same version under another prefix is another key")
}

func TestVersionAndZone(t *testing.T) {
	ctx := context.Background()
	_, c := newMini(t)
	r := New(c, Options{Zone: "idc-a"})
	assert.Equal(t, "idc-a", r.Zone())
	ver, err := r.Version(ctx, "k")
	require.NoError(t, err)
	assert.True(t, ver.IsZero())
	want := quorum.Version{Counter: 1<<53 + 1, Writer: 7}
	_, err = r.Put(ctx, "k", quorum.Record{Value: []byte("x"), Version: want})
	require.NoError(t, err)
	ver, err = r.Version(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, want, ver)
}

func TestCorruptRecords(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name      string
		setup     func(mr *miniredis.Miniredis)
		wantGet   error
		putErrIs  error
		putStored bool
	}{
		{"not a hash", func(mr *miniredis.Miniredis) { require.NoError(t, mr.Set("k", "plain")) }, nil, quorum.ErrNotStored, false},
		{"bad counter", func(mr *miniredis.Miniredis) { mr.HSet("k", "c", "0000000000000000012x", "w", "00000000000000000000") }, ErrCorrupt, quorum.ErrNotStored, false},
		{"short counter", func(mr *miniredis.Miniredis) { mr.HSet("k", "c", "5", "w", "00000000000000000000") }, ErrCorrupt, quorum.ErrNotStored, false},
		{"counter only", func(mr *miniredis.Miniredis) { mr.HSet("k", "c", "00000000000000000005") }, ErrCorrupt, quorum.ErrNotStored, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mr, c := newMini(t)
			tc.setup(mr)
			r := New(c, Options{})
			_, err := r.Get(ctx, "k")
			require.Error(t, err)
			if tc.wantGet != nil {
				require.ErrorIs(t, err, tc.wantGet)
			}
			_, err = r.Version(ctx, "k")
			require.Error(t, err)
			stored, err := r.Put(ctx, "k", quorum.Record{Value: []byte("x"), Version: quorum.Version{Counter: 1}})
			if tc.putErrIs != nil {
				require.ErrorIs(t, err, tc.putErrIs)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.putStored, stored)
		})
	}
}

func TestErrorsSayWhetherStored(t *testing.T) {
	ctx := context.Background()
	rec := quorum.Record{Value: []byte("x"), Version: quorum.Version{Counter: 1}}
	t.Run("error reply", func(t *testing.T) {
		mr, c := newMini(t)
		mr.SetError("LOADING server is loading")
		_, err := New(c, Options{}).Put(ctx, "k", rec)
		require.ErrorIs(t, err, quorum.ErrNotStored)
		_, err = New(c, Options{}).Get(ctx, "k")
		require.Error(t, err)
	})
	t.Run("server gone", func(t *testing.T) {
		mr, c := newMini(t)
		mr.Close()
		_, err := New(c, Options{}).Put(ctx, "k", rec)
		require.ErrorIs(t, err, quorum.ErrNotStored, "a refused connection stored nothing")
	})
	t.Run("client closed", func(t *testing.T) {
		_, c := newMini(t)
		require.NoError(t, c.Close())
		_, err := New(c, Options{}).Put(ctx, "k", rec)
		require.ErrorIs(t, err, quorum.ErrNotStored)
	})
	t.Run("context cancelled", func(t *testing.T) {
		_, c := newMini(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := New(c, Options{}).Put(cctx, "k", rec)
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestScriptCacheFlushed(t *testing.T) {
	ctx := context.Background()
	_, c := newMini(t)
	r := New(c, Options{})
	_, err := r.Put(ctx, "k", quorum.Record{Value: []byte("1"), Version: quorum.Version{Counter: 1}})
	require.NoError(t, err)
	require.NoError(t, c.ScriptFlush(ctx).Err())
	ok, err := r.Put(ctx, "k", quorum.Record{Value: []byte("2"), Version: quorum.Version{Counter: 2}})
	require.NoError(t, err)
	assert.True(t, ok)
}

func TestPadded(t *testing.T) {
	for _, n := range []uint64{0, 1, 1 << 53, math.MaxUint64} {
		s := padded(n)
		assert.Len(t, s, versionWidth)
		ver, ok, err := parseVersion(s, s)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, n, ver.Counter)
	}
}

func TestOverFaultyWrapper(t *testing.T) {
	// The fault kit wraps a Redis replica like any other.
	ctx := context.Background()
	_, c := newMini(t)
	f := quorumtest.Wrap(New(c, Options{}), quorumtest.Options{Name: "redis"})
	f.SetDown(true)
	_, err := f.Put(ctx, "k", quorum.Record{Version: quorum.Version{Counter: 1}})
	require.ErrorIs(t, err, quorumtest.ErrDown)
	f.SetDown(false)
	ok, err := f.Put(ctx, "k", quorum.Record{Version: quorum.Version{Counter: 1}})
	require.NoError(t, err)
	assert.True(t, ok)
}

func TestNilClient(t *testing.T) {
	r := New(nil, Options{})
	_, err := r.Get(context.Background(), "k")
	require.ErrorIs(t, err, ErrNilClient)
	_, err = r.Version(context.Background(), "k")
	require.ErrorIs(t, err, ErrNilClient)
	_, err = r.Put(context.Background(), "k", quorum.Record{})
	require.ErrorIs(t, err, ErrNilClient)
	require.ErrorIs(t, err, quorum.ErrNotStored)
}
