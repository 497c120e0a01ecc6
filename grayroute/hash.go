package grayroute

import "math/bits"

// Buckets is the number of buckets a split divides: weights are in basis
// points, so one bucket is 0.01 % of keys.
const Buckets = 10_000

// Hash version v1 (the default, "hash": "v1"):
//
//	h      = FNV-1a 64 over the bytes salt, 0x00, key
//	h      = fmix64(h)   (MurmurHash3's 64-bit finalizer, for avalanche)
//	bucket = high 64 bits of h × 10,000   (Lemire's multiply-shift)
//
// The NUL separator keeps ("ab", "c") and ("a", "bc") apart (salts may not
// contain NUL). The multiply-shift maps 2^64 hash values onto 10,000 buckets
// whose sizes differ by at most one hash value, a bias below 10^-15, unlike
// h % 10,000 on a 32-bit hash. Test vectors are in testdata/hash_v1.json and
// never change: a different algorithm gets a new version name.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// saltState is the FNV-1a state after salt and the separator; compiling it
// once leaves only the key to hash per request.
func saltState(salt string) uint64 {
	h := uint64(fnvOffset64)
	for i := 0; i < len(salt); i++ {
		h ^= uint64(salt[i])
		h *= fnvPrime64
	}
	// The separator byte 0x00: XOR with 0 is the identity, so only multiply.
	h *= fnvPrime64
	return h
}

func hashKey(state uint64, key string) uint64 {
	h := state
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= fnvPrime64
	}
	return fmix64(h)
}

func fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func bucketOf(h uint64) int {
	hi, _ := bits.Mul64(h, Buckets)
	return int(hi)
}

// Bucket returns the v1 bucket (0..9,999) of key under salt: the number a
// split compares with its cumulative weights. It is exported so other
// systems (and other languages, using the test vectors) can agree with it.
func Bucket(salt, key string) int {
	return bucketOf(hashKey(saltState(salt), key))
}
