package grayroute

import lru "github.com/hashicorp/golang-lru/v2"

// stickySet remembers keys a split sent to a canary variant, up to a bound,
// evicting the least recently routed. Entries carry the epoch of the release
// snapshot that wrote them; a rollback starts a new epoch, so entries written
// by Route calls still running on the old snapshot are ignored.
type stickySet struct {
	c    *lru.Cache[string, stickyEntry]
	size int
}

type stickyEntry struct {
	variant int32
	epoch   uint32
}

func newStickySet(n int) (*stickySet, error) {
	c, err := lru.New[string, stickyEntry](n)
	if err != nil {
		return nil, err
	}
	return &stickySet{c: c, size: n}, nil
}

func (s *stickySet) add(key string, variant int, epoch uint32) {
	if e, ok := s.c.Peek(key); ok && e.variant == int32(variant) && e.epoch == epoch {
		return // already there; skip the LRU's write lock
	}
	s.c.Add(key, stickyEntry{variant: int32(variant), epoch: epoch})
}

func (s *stickySet) get(key string, epoch uint32, readOnly bool) (int, bool) {
	var e stickyEntry
	var ok bool
	if readOnly {
		e, ok = s.c.Peek(key)
	} else {
		e, ok = s.c.Get(key)
	}
	if !ok || e.epoch != epoch {
		return 0, false
	}
	return int(e.variant), true
}
