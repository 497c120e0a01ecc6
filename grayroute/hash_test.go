package grayroute

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

var updateVectors = flag.Bool("update-vectors", false, "rewrite testdata/hash_v1.json (never needed: v1 is frozen)")

type hashVector struct {
	Salt   string `json:"salt"`
	Key    string `json:"key"`
	Hash   string `json:"hash"` // fmix64(FNV-1a 64(salt 0x00 key)), 16 hex digits
	Bucket int    `json:"bucket"`
}

func vectorInputs() [][2]string {
	salts := []string{"", "a", "ab", "chat-v2", "search.ranking", "灰度", "salt with spaces"}
	keys := []string{"", "c", "bc", "0", "1", "07", "10001", "10002", "user-1", "user-42", "00000000", "12345678",
		"18446744073709551615", "é", "a\x00b", "a-very-long-device-identifier-0123456789abcdef"}
	var out [][2]string
	for _, s := range salts {
		for _, k := range keys {
			out = append(out, [2]string{s, k})
		}
	}
	return out
}

func TestHashVectorsV1(t *testing.T) {
	const path = "testdata/hash_v1.json"
	if *updateVectors {
		var vs []hashVector
		for _, in := range vectorInputs() {
			h := hashKey(saltState(in[0]), in[1])
			vs = append(vs, hashVector{Salt: in[0], Key: in[1], Hash: fmt.Sprintf("%016x", h), Bucket: bucketOf(h)})
		}
		b, err := json.MarshalIndent(vs, "", " ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, append(b, '\n'), 0o644))
	}
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var vs []hashVector
	require.NoError(t, json.Unmarshal(b, &vs))
	require.Len(t, vs, len(vectorInputs()))
	for _, v := range vs {
		h := hashKey(saltState(v.Salt), v.Key)
		require.Equal(t, v.Hash, fmt.Sprintf("%016x", h), "salt %q key %q", v.Salt, v.Key)
		require.Equal(t, v.Bucket, bucketOf(h))
		require.Equal(t, v.Bucket, Bucket(v.Salt, v.Key))
		require.Equal(t, v.Bucket, refBucket(v.Salt, v.Key), "reference (stdlib FNV, big ints)")
	}
}

func TestBucketMatchesReferenceRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for range scaled(50_000, 10) {
		salt, key := randBytes(rng, 12), randBytes(rng, 24)
		require.Equal(t, refBucket(salt, key), Bucket(salt, key))
	}
}

func randBytes(rng *rand.Rand, n int) string {
	b := make([]byte, rng.IntN(n+1))
	for i := range b {
		b[i] = byte(rng.IntN(256))
	}
	return string(b)
}

// chiSquare of n keys into 100 buckets (bucket/100).
func chiSquare(salt string, n int, key func(i int) string) float64 {
	var counts [100]int
	st := saltState(salt)
	for i := range n {
		counts[bucketOf(hashKey(st, key(i)))/100]++
	}
	exp := float64(n) / 100
	var x float64
	for _, c := range counts {
		d := float64(c) - exp
		x += d * d / exp
	}
	return x
}

// TestChiSquare: 1,000,000 keys into 100 buckets stay below 148, the 99.9th
// percentile of chi-square with 99 degrees of freedom, for "user-N" and
// 8-digit numeric uids, under several salts (a search over salts, not one
// lucky one: the largest value over all of them must pass).
func TestChiSquare(t *testing.T) {
	n := 1_000_000
	salts := []string{"chat-v2", "a", "exp0", "exp1", "search.ranking"}
	if raceOn || testing.Short() {
		salts = salts[:1]
	}
	for _, salt := range salts {
		user := chiSquare(salt, n, func(i int) string { return "user-" + strconv.Itoa(i) })
		uid := chiSquare(salt, n, func(i int) string { return fmt.Sprintf("%08d", 10_000_000+i*7) })
		t.Logf("salt %q: user-N %.1f, 8-digit uids %.1f", salt, user, uid)
		require.Less(t, user, 148.0)
		require.Less(t, uid, 148.0)
	}
}

func rampConfig(share int, salt string) Config {
	return Config{Releases: map[string]Release{"r": {
		Salt: salt, Variants: []string{"stable", "canary"},
		Rules: []Rule{{Name: "all", Split: map[string]int{"canary": share, "stable": Buckets - share}}},
	}}}
}

// TestRampNeverMovesOut: for random monotone ramps (not only 10→20→50 %)
// and random keys, a key in the canary at one share is in it at every
// larger share.
func TestRampNeverMovesOut(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for trial := range scaled(20, 5) {
		shares := []int{1000, 2000, 5000}
		if trial > 0 {
			shares = rng.Perm(Buckets + 1)[:4]
			sortInts(shares)
		}
		r, err := New(rampConfig(shares[0], "salt-"+strconv.Itoa(trial)))
		require.NoError(t, err)
		keys := make([]string, 20_000)
		for i := range keys {
			keys[i] = genKey(rng) + strconv.Itoa(i)
		}
		in := make([]bool, len(keys))
		for si, s := range shares {
			if si > 0 {
				require.NoError(t, r.Update(rampConfig(s, "salt-"+strconv.Itoa(trial))))
			}
			n := 0
			for i, k := range keys {
				c := r.Route("r", Request{Key: k}).Variant == "canary"
				require.False(t, in[i] && !c, "key %q left the canary at share %d", k, s)
				in[i] = c
				if c {
					n++
				}
			}
			require.InDelta(t, float64(s)/Buckets, float64(n)/float64(len(keys)), 0.015, "share %d", s)
		}
	}
}

// TestSaltsIndependent: two releases at 50 % with different salts share 25 %
// ± 1 % of keys, for every pair among similar salts (exp0..exp9) and both
// key shapes.
func TestSaltsIndependent(t *testing.T) {
	n := scaled(200_000, 2)
	var salts []string
	for i := range scaled(10, 3) {
		salts = append(salts, "exp"+strconv.Itoa(i))
	}
	shapes := map[string]func(int) string{
		"user-N": func(i int) string { return "user-" + strconv.Itoa(i) },
		"uid":    func(i int) string { return fmt.Sprintf("%08d", 10_000_000+i*13) },
	}
	for name, key := range shapes {
		worst := 0.0
		for a := range salts {
			for b := a + 1; b < len(salts); b++ {
				sa, sb := saltState(salts[a]), saltState(salts[b])
				both := 0
				for i := range n {
					k := key(i)
					if bucketOf(hashKey(sa, k)) < 5000 && bucketOf(hashKey(sb, k)) < 5000 {
						both++
					}
				}
				f := float64(both) / float64(n)
				worst = max(worst, abs(f-0.25))
				require.InDelta(t, 0.25, f, 0.01, "%s: salts %s %s", name, salts[a], salts[b])
			}
		}
		t.Logf("%s: worst deviation from 0.25 over all salt pairs: %.4f", name, worst)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
