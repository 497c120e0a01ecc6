package overload

import (
	"encoding/binary"
	"math/bits"
	"time"
)

// Priority is the importance of a request. Lower values are more important:
// Business 0 is the most important business class, and within a class User 0
// is the most important user level. The zero Priority is the most important
// request there is.
//
// The pair is compared lexicographically, Business first, the way DAGOR's
// compound level (B, U) is: every request of business class 2 outranks every
// request of class 3, whatever their user levels.
type Priority struct {
	Business uint8
	User     uint8
}

// A Priority and a Level are the same (Business, User) pair and share one
// encoding: the conversion Level(p) costs nothing.

// key is the priority as one 16-bit number that sorts in importance order.
func (p Priority) key() uint16 { return Level(p).key() }

// String formats the priority as "business.user", the form of the
// PriorityHeader.
func (p Priority) String() string { return Level(p).String() }

// ParsePriority parses the "business.user" form written by Priority.String.
func ParsePriority(s string) (Priority, error) {
	l, err := parseCompound(s, "priority")
	return Priority(l), err
}

// UserLevels is the number of distinct levels UserPriority returns (DAGOR
// uses 128: fine enough that the admission level does not flap between two
// coarse steps, small enough to histogram cheaply).
const UserLevels = 128

// The default key of UserPriority. It is fixed on purpose: collaborative
// shedding needs every process of a fleet to give a user the same level in
// the same hour, so the key must not be random per process. Services that do
// not want users to be able to predict their level set their own key with
// NewUserHash.
const (
	defaultUserKey0 = 0x6275_6c77_6172_6b2d // "bulwark-"
	defaultUserKey1 = 0x7573_6572_2d70_7231 // "user-pr1"
)

// UserPriority returns the user level (0..UserLevels-1) of userID for the hour
// that contains t, using the package's fixed default key. The level is a keyed
// hash of the user ID and the hour number (UTC, so time zones do not matter),
// which makes it stable within an hour, identical in every process, and
// different from one hour to the next, so no user is always the first shed.
//
// Use NewUserHash for a private key.
func UserPriority(userID string, t time.Time) uint8 {
	return UserHash{k0: defaultUserKey0, k1: defaultUserKey1}.Priority(userID, t)
}

// UserHash computes user levels with a private 128-bit key. Its zero value
// uses an all-zero key; build one with NewUserHash. It is a small value, safe
// to copy and to use concurrently.
type UserHash struct {
	k0, k1 uint64
}

// NewUserHash returns a UserHash keyed with key. Every process that must agree
// on user levels needs the same key.
func NewUserHash(key [16]byte) UserHash {
	return UserHash{
		k0: binary.LittleEndian.Uint64(key[:8]),
		k1: binary.LittleEndian.Uint64(key[8:]),
	}
}

// Priority returns the level (0..UserLevels-1) of userID in the hour that
// contains t. It does not allocate.
func (h UserHash) Priority(userID string, t time.Time) uint8 {
	sec := t.Unix()
	hour := sec / 3600
	if sec < 0 && sec%3600 != 0 {
		hour-- // floor division, so times before 1970 still bucket by hour
	}
	sum := sipHash24(h.k0, h.k1, uint64(hour), userID)
	return uint8(sum >> 57) // top 7 bits: 0..127
}

// sipHash24 is SipHash-2-4 (Aumasson and Bernstein) of the 8-byte
// little-endian prefix followed by s. Reading the string in place keeps the
// call free of allocations.
func sipHash24(k0, k1, prefix uint64, s string) uint64 {
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573
	round := func() {
		v0 += v1
		v1 = bits.RotateLeft64(v1, 13)
		v1 ^= v0
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v3
		v3 = bits.RotateLeft64(v3, 16)
		v3 ^= v2
		v0 += v3
		v3 = bits.RotateLeft64(v3, 21)
		v3 ^= v0
		v2 += v1
		v1 = bits.RotateLeft64(v1, 17)
		v1 ^= v2
		v2 = bits.RotateLeft64(v2, 32)
	}
	block := func(m uint64) {
		v3 ^= m
		round()
		round()
		v0 ^= m
	}
	block(prefix)
	n := len(s)
	for len(s) >= 8 {
		block(uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56)
		s = s[8:]
	}
	last := uint64(n+8) << 56
	for i := len(s) - 1; i >= 0; i-- {
		last |= uint64(s[i]) << (8 * uint(i))
	}
	block(last)
	v2 ^= 0xff
	round()
	round()
	round()
	round()
	return v0 ^ v1 ^ v2 ^ v3
}
