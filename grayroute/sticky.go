package grayroute

import lru "github.com/hashicorp/golang-lru/v2"

// stickySet remembers keys a split sent to a canary variant, up to a bound,
// evicting the least recently routed.
//
// An entry is keyed by the key's 64-bit salted hash (the one its bucket
// comes from), not by the key: two keys with the same hash have the same
// bucket under every split, so they are routed alike anyway, and an entry
// costs a fixed size whatever the key's length (no caller buffer is
// retained). It records the variant by name, so inserting or removing
// other variants (an Update that is accepted) neither re-targets nor drops
// it. Entries carry the epoch of the release snapshot that wrote them; a
// rollback starts a new epoch, so entries written by Route calls still
// running on the old snapshot are ignored.
type stickySet struct {
	c    *lru.Cache[uint64, stickyEntry]
	size int
}

type stickyEntry struct {
	variant string // a string of the compiled config: no allocation
	epoch   uint32
}

// stickyEntryBytes is what one entry costs, measured (TestStickyMemoryBound):
// the LRU's list element and map slot, the key and the entry.
const stickyEntryBytes = 200

func newStickySet(n int) (*stickySet, error) {
	c, err := lru.New[uint64, stickyEntry](n)
	if err != nil {
		return nil, err
	}
	return &stickySet{c: c, size: n}, nil
}

func (s *stickySet) add(h uint64, variant string, epoch uint32) {
	if e, ok := s.c.Peek(h); ok && e.variant == variant && e.epoch == epoch {
		return // already there; skip the LRU's write lock
	}
	s.c.Add(h, stickyEntry{variant: variant, epoch: epoch})
}

func (s *stickySet) get(h uint64, epoch uint32, readOnly bool) (string, bool) {
	var e stickyEntry
	var ok bool
	if readOnly {
		e, ok = s.c.Peek(h)
	} else {
		e, ok = s.c.Get(h)
	}
	if !ok || e.epoch != epoch {
		return "", false
	}
	return e.variant, true
}
