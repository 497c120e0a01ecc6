package metrics

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHashUsesEveryByte: for random strings of every length up to 80 (each
// branch of hashString and the block loop), changing any one byte, or the
// length, changes the hash; and 200,000 distinct random label pairs give no
// 64-bit collision.
func TestHashUsesEveryByte(t *testing.T) {
	rng := rand.New(rand.NewPCG(111, 112))
	var x index
	x.init()
	for n := 0; n <= 80; n++ {
		for range 20 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			h := x.hashString(7, string(b))
			for i := range b {
				c := append([]byte(nil), b...)
				c[i] ^= byte(1 + rng.IntN(255))
				require.NotEqual(t, h, x.hashString(7, string(c)), "length %d: byte %d does not reach the hash", n, i)
			}
			require.NotEqual(t, h, x.hashString(7, string(append(b, 0))), "length %d: an extra zero byte", n)
			require.NotEqual(t, h, x.hashString(8, string(b)), "length %d: the running hash", n)
		}
	}
	str := func() string {
		b := make([]byte, rng.IntN(24))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return string(b)
	}
	seen := map[uint64][2]string{}
	for range 200_000 {
		v := [2]string{str(), str()}
		h := x.hash(v[:])
		if o, ok := seen[h]; ok && o != v {
			t.Fatalf("collision: %q and %q", o, v)
		}
		seen[h] = v
	}
}
