package metrics

import (
	"math/bits"
	"math/rand/v2"
	"sync/atomic"
	"unicode/utf8"
)

// MaxLabelValueLen is the longest label value kept, in bytes. A value is
// first cleaned (each run of invalid UTF-8 becomes U+FFFD) and then cut at
// a rune boundary at or below this length; values with the same result
// share a series, which is exposed with that result. So no caller can make
// a vector hold more than 2 × MaxSeries × labels × MaxLabelValueLen bytes
// of label text: its series' values, and as many aliases (raw values of at
// most this length that cleaned up to a series) kept so that the next With
// of them is a lookup rather than a cleaning.
const MaxLabelValueLen = 1024

// entry maps one label-value combination to its series.
type entry struct {
	hash uint64
	key  []string
	s    *series
}

// table is an open-addressing hash table with linear probing. Readers load
// slots without locks; writers (holding the family's lock) only fill empty
// slots or publish a larger copy, so a reader sees either nothing or a
// complete entry.
type table struct {
	mask  uint64
	slots []atomic.Pointer[entry]
}

func newTable(n int) *table {
	return &table{mask: uint64(n - 1), slots: make([]atomic.Pointer[entry], n)}
}

// index is the lock-free lookup from label values to series. The hash is
// keyed with random numbers per index, so label values chosen by an
// attacker cannot be made to collide without knowing them.
type index struct {
	k0, k1, k2 uint64 // hash keys
	tab        atomic.Pointer[table]
	n          atomic.Int64
}

func (x *index) init() {
	x.k0, x.k1, x.k2 = rand.Uint64(), rand.Uint64(), rand.Uint64()
	x.tab.Store(newTable(8))
}

// hash returns the hash of a label-value combination.
func (x *index) hash(values []string) uint64 {
	h := uint64(len(values))
	for _, v := range values {
		h = x.hashString(h, v)
	}
	return h
}

// hashString folds s into h. It is the keyed wyhash-style function the Go
// runtime uses where it has no AES hash (runtime/hash64.go), inlined for
// the short strings label values are: about half the cost of two
// hash/maphash.String calls on "GET", "200", which is most of With's
// budget. Every byte of s reaches the result (TestHashUsesEveryByte).
func (x *index) hashString(h uint64, s string) uint64 {
	var a, b uint64
	n := len(s)
	seed := h ^ x.k0
	switch {
	case n == 0:
		return mix(seed, x.k2)
	case n < 4:
		a = uint64(s[0]) | uint64(s[n>>1])<<8 | uint64(s[n-1])<<16
	case n <= 8:
		a, b = read4(s, 0), read4(s, n-4)
	case n <= 16:
		a, b = read8(s, 0), read8(s, n-8)
	default:
		i := 0
		for ; n-i > 16; i += 16 {
			seed = mix(read8(s, i)^x.k1, read8(s, i+8)^seed)
		}
		a, b = read8(s, n-16), read8(s, n-8)
	}
	return mix(hashM5^uint64(n), mix(a^x.k1, b^seed))
}

// hashM5 is wyhash's fifth prime, as runtime/hash64.go names it.
const hashM5 = 0x1d8e4e27c47d124f

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func read4(s string, i int) uint64 {
	_ = s[i+3]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24
}

func read8(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

func (x *index) lookup(h uint64, values []string) *series {
	t := x.tab.Load()
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		e := t.slots[i].Load()
		if e == nil {
			return nil
		}
		if e.hash == h && equalStrings(e.key, values) {
			return e.s
		}
	}
}

// insert adds an entry; the caller holds the family's lock and has checked
// that the key is absent.
func (x *index) insert(e *entry) {
	t := x.tab.Load()
	if n := x.n.Load() + 1; uint64(n)*2 > t.mask+1 {
		nt := newTable(int(t.mask+1) * 2)
		for i := range t.slots {
			if o := t.slots[i].Load(); o != nil {
				nt.put(o)
			}
		}
		x.tab.Store(nt)
		t = nt
	}
	t.put(e)
	x.n.Add(1)
}

func (t *table) put(e *entry) {
	for i := e.hash & t.mask; ; i = (i + 1) & t.mask {
		if t.slots[i].Load() == nil {
			t.slots[i].Store(e)
			return
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// cleanValue returns v as a label value is kept: invalid UTF-8 replaced
// as strings.ToValidUTF8(v, "\uFFFD") does, then cut at a rune start to at
// most MaxLabelValueLen bytes. It reads v only as far as it needs, so a
// huge value costs no more than a short one.
func cleanValue(v string) string {
	if len(v) <= MaxLabelValueLen && utf8.ValidString(v) {
		return v
	}
	b := make([]byte, 0, MaxLabelValueLen+utf8.UTFMax)
	invalid := false
	for i := 0; i < len(v) && len(b) <= MaxLabelValueLen; {
		if c := v[i]; c < utf8.RuneSelf {
			b = append(b, c)
			i++
			invalid = false
			continue
		}
		_, w := utf8.DecodeRuneInString(v[i:])
		if w == 1 { // an invalid byte: one U+FFFD per run
			if !invalid {
				b = append(b, "\uFFFD"...)
				invalid = true
			}
			i++
			continue
		}
		b = append(b, v[i:i+w]...)
		i += w
		invalid = false
	}
	n := len(b)
	if n > MaxLabelValueLen {
		n = MaxLabelValueLen
		for n > 0 && !utf8.RuneStart(b[n]) {
			n--
		}
	}
	return string(b[:n])
}

// canonical returns the cleaned form of every value (see cleanValue).
func canonical(values []string) []string {
	c := make([]string, len(values))
	for i, v := range values {
		c[i] = cleanValue(v)
	}
	return c
}
