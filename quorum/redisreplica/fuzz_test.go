package redisreplica

import (
	"bytes"
	"context"
	"strconv"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/bulwark-go/bulwark/quorum"
)

// FuzzParseVersion feeds arbitrary stored fields to the decoder: it must
// never panic, accept only what padded produces, and round-trip it.
func FuzzParseVersion(f *testing.F) {
	f.Add("00000000000000000001", "00000000000000000002")
	f.Add("18446744073709551615", "18446744073709551615")
	f.Add("18446744073709551616", "00000000000000000000")
	f.Add("-0000000000000000001", "00000000000000000000")
	f.Add("+0000000000000000001", "00000000000000000000")
	f.Add("1", "")
	f.Fuzz(func(t *testing.T, c, w string) {
		ver, ok, err := parseVersion(c, w)
		if err != nil {
			return
		}
		if !ok {
			t.Fatalf("non-nil fields parsed as missing")
		}
		if padded(ver.Counter) != c || padded(ver.Writer) != w {
			t.Fatalf("parse(%q, %q) = %v, which does not format back", c, w, ver)
		}
	})
}

// FuzzSetIfNewer runs the Lua script on two arbitrary records: the second is
// stored exactly when its version is newer, and the key then holds the newer
// record, byte for byte.
func FuzzSetIfNewer(f *testing.F) {
	f.Add(uint64(1), uint64(0), []byte("a"), false, uint64(1), uint64(1), []byte("b"), false)
	f.Add(uint64(1<<53+1), uint64(0), []byte("a"), false, uint64(1<<53), uint64(9), []byte("b"), true)
	f.Add(uint64(1<<63), uint64(1), []byte{}, true, uint64(1<<63-1), uint64(1<<64-1), []byte{0, 255}, false)
	f.Add(uint64(10), uint64(0), []byte("x"), false, uint64(9), uint64(0), []byte("y"), false)
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(mr.Close)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	f.Cleanup(func() { _ = rdb.Close() })
	var n int
	f.Fuzz(func(t *testing.T, c1, w1 uint64, v1 []byte, d1 bool, c2, w2 uint64, v2 []byte, d2 bool) {
		ctx := context.Background()
		n++
		r := New(rdb, Options{Prefix: "fuzz" + strconv.Itoa(n) + ":"})
		a := quorum.Record{Value: v1, Version: quorum.Version{Counter: c1, Writer: w1}, Deleted: d1}
		b := quorum.Record{Value: v2, Version: quorum.Version{Counter: c2, Writer: w2}, Deleted: d2}
		okA, err := r.Put(ctx, "k", a)
		if err != nil {
			t.Fatal(err)
		}
		if okA != !a.Version.IsZero() {
			t.Fatalf("first put of %v stored = %t", a.Version, okA)
		}
		okB, err := r.Put(ctx, "k", b)
		if err != nil {
			t.Fatal(err)
		}
		cur := quorum.Record{}
		if okA {
			cur = a
		}
		if want := b.Version.Newer(cur.Version); okB != want {
			t.Fatalf("put %v over %v stored = %t, want %t", b.Version, cur.Version, okB, want)
		}
		if okB {
			cur = b
		}
		got, err := r.Get(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != cur.Version || got.Deleted != cur.Deleted || !bytes.Equal(got.Value, cur.Value) {
			t.Fatalf("get = %+v, want %+v", got, cur)
		}
	})
}
