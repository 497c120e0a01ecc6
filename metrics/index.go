package metrics

import (
	"hash/maphash"
	"sync/atomic"
	"unicode/utf8"
)

// MaxLabelValueLen is the longest label value kept, in bytes. A longer value
// is cut at a UTF-8 boundary at or below this length before lookup, so two
// values that differ only past it share a series and no caller can make the
// registry hold more than MaxSeries × labels × MaxLabelValueLen bytes of
// label text.
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
// seeded per index, so label values chosen by an attacker cannot be made to
// collide.
type index struct {
	seed maphash.Seed
	tab  atomic.Pointer[table]
	n    atomic.Int64
}

func (x *index) init() {
	x.seed = maphash.MakeSeed()
	x.tab.Store(newTable(8))
}

func (x *index) hash(values []string) uint64 {
	h := uint64(len(values))
	for _, v := range values {
		h = (h ^ maphash.String(x.seed, v)) * 0x9E3779B97F4A7C15
	}
	return h
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

// truncateValue cuts v to at most MaxLabelValueLen bytes at a rune start.
func truncateValue(v string) string {
	if len(v) <= MaxLabelValueLen {
		return v
	}
	n := MaxLabelValueLen
	for n > 0 && !utf8.RuneStart(v[n]) {
		n--
	}
	return v[:n]
}
