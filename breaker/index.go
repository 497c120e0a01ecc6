package breaker

import "sync/atomic"

// keyIndex maps a Group's keys to their entries. Lookups take no lock and
// write nothing: a lookup of a known key costs the key's hash and a probe
// of an open-addressing table whose slots are atomic pointers to immutable
// entries (whose key never changes). The only writer is the Group's add or evict, under
// the Group's mutex: it fills an empty slot or a tombstone, tombstones a
// deleted key's slot, and swaps in a rebuilt table when tombstones and keys
// fill three quarters of it, so a probe always ends at an empty slot.
type keyIndex[T any] struct {
	tab  atomic.Pointer[keyTable[T]]
	tomb *entry[T] // marks a deleted key's slot
	hash func(string) uint64

	// Guarded by the Group's mutex.
	live, used int // slots holding a key; holding a key or a tombstone
}

type keyTable[T any] struct {
	slots []atomic.Pointer[entry[T]]
	mask  uint64
}

func (ix *keyIndex[T]) init(hash func(string) uint64) {
	ix.hash = hash
	ix.tomb = new(entry[T])
	ix.tab.Store(newKeyTable[T](16))
}

func newKeyTable[T any](n int) *keyTable[T] {
	return &keyTable[T]{slots: make([]atomic.Pointer[entry[T]], n), mask: uint64(n - 1)}
}

// lookup returns key's entry, or nil.
func (ix *keyIndex[T]) lookup(key string, h uint64) *entry[T] {
	t := ix.tab.Load()
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		e := t.slots[i].Load()
		if e == nil {
			return nil
		}
		if e.key == key && e != ix.tomb {
			return e
		}
	}
}

// insert adds e, whose key is not in the index and hashes to h. The
// Group's mutex is held.
func (ix *keyIndex[T]) insert(e *entry[T], h uint64) {
	t := ix.tab.Load()
	if (ix.used+1)*4 > len(t.slots)*3 {
		t = ix.rebuild(ix.live + 1)
	}
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		switch s := t.slots[i].Load(); s {
		case nil:
			ix.used++
			fallthrough
		case ix.tomb:
			t.slots[i].Store(e)
			ix.live++
			return
		}
	}
}

// remove deletes e, which is in the index. The Group's mutex is held.
func (ix *keyIndex[T]) remove(e *entry[T]) {
	t := ix.tab.Load()
	for i := ix.hash(e.key) & t.mask; ; i = (i + 1) & t.mask {
		if t.slots[i].Load() == e {
			t.slots[i].Store(ix.tomb)
			ix.live--
			return
		}
	}
}

// rebuild swaps in a table without tombstones, at most half full with n
// keys. Readers still probing the old table see it unchanged.
func (ix *keyIndex[T]) rebuild(n int) *keyTable[T] {
	size := 16
	for size < 2*n {
		size *= 2
	}
	old := ix.tab.Load()
	t := newKeyTable[T](size)
	for i := range old.slots {
		e := old.slots[i].Load()
		if e == nil || e == ix.tomb {
			continue
		}
		j := ix.hash(e.key) & t.mask
		for t.slots[j].Load() != nil {
			j = (j + 1) & t.mask
		}
		t.slots[j].Store(e)
	}
	ix.used = ix.live
	ix.tab.Store(t)
	return t
}
