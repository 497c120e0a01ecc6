package logging

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Dye is one dyed key and when it stops being dyed (zero: never).
type Dye struct {
	Key     string    `json:"key"`
	Expires time.Time `json:"expires"`
}

// Dyes is a set of dyed keys. Requests whose WithKey key is in the set log
// at every level. Readers take one atomic load; writers copy the set and
// swap it, so Add and Remove cost O(n) and are meant for admin rates.
//
// The zero value is an empty set using time.Now; set Clock before first
// use to inject time. Dyes is safe for concurrent use.
type Dyes struct {
	// Clock is the time source for expiry (nil: time.Now).
	Clock Clock

	mu  sync.Mutex // serialises writers
	cur atomic.Pointer[dyeSet]
}

type dyeSet struct {
	m map[string]time.Time // zero time: no expiry
}

// NewDyes returns an empty set.
func NewDyes() *Dyes { return &Dyes{} }

func (d *Dyes) now() time.Time {
	if d.Clock != nil {
		return d.Clock.Now()
	}
	return time.Now()
}

// Add dyes key for ttl (ttl ≤ 0: until Removed), replacing an earlier
// expiry of the same key. Expired keys are purged.
func (d *Dyes) Add(key string, ttl time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	m := d.copyLive(now, 1)
	var exp time.Time
	if ttl > 0 {
		exp = now.Add(ttl)
	}
	m[key] = exp
	d.store(m)
}

// addCapped is Add for DyeAdmin: it refuses a new key, reporting false,
// when max live dyes are set. Expired dyes do not count and are purged;
// refreshing a live key is always allowed. The check and the change are
// one step under the writers' lock, so concurrent calls never pass max.
func (d *Dyes) addCapped(key string, ttl time.Duration, max int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	m := d.copyLive(now, 1)
	if _, ok := m[key]; !ok && len(m) >= max {
		d.store(m)
		return false
	}
	var exp time.Time
	if ttl > 0 {
		exp = now.Add(ttl)
	}
	m[key] = exp
	d.store(m)
	return true
}

func (d *Dyes) store(m map[string]time.Time) {
	if len(m) == 0 {
		d.cur.Store(nil)
	} else {
		d.cur.Store(&dyeSet{m: m})
	}
}

// Remove undyes key and reports whether it was dyed and live.
func (d *Dyes) Remove(key string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	m := d.copyLive(now, 0)
	_, ok := m[key]
	delete(m, key)
	d.store(m)
	return ok
}

func (d *Dyes) copyLive(now time.Time, extra int) map[string]time.Time {
	old := d.cur.Load()
	n := extra
	if old != nil {
		n += len(old.m)
	}
	m := make(map[string]time.Time, n)
	if old != nil {
		for k, e := range old.m {
			if e.IsZero() || e.After(now) {
				m[k] = e
			}
		}
	}
	return m
}

// List returns the live dyes sorted by key.
func (d *Dyes) List() []Dye {
	s := d.cur.Load()
	if s == nil {
		return []Dye{}
	}
	now := d.now()
	out := make([]Dye, 0, len(s.m))
	for k, e := range s.m {
		if e.IsZero() || e.After(now) {
			out = append(out, Dye{Key: k, Expires: e})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Len is the number of entries held, expired ones included until the next
// change purges them.
func (d *Dyes) Len() int {
	if s := d.cur.Load(); s != nil {
		return len(s.m)
	}
	return 0
}

// active is the one atomic load Enabled pays when no dye is set.
func (d *Dyes) active() bool { return d.cur.Load() != nil }

// listed reports whether key is in the set, expired or not: Enabled's
// check, which reads no clock. Handle then checks the expiry against the
// record's time (dyedAt), so an expired dye costs at most a dropped record.
func (d *Dyes) listed(key string) bool {
	s := d.cur.Load()
	if s == nil {
		return false
	}
	_, ok := s.m[key]
	return ok
}

// dyedAt reports whether key is dyed at now.
func (d *Dyes) dyedAt(key string, now time.Time) bool {
	s := d.cur.Load()
	if s == nil {
		return false
	}
	e, ok := s.m[key]
	return ok && (e.IsZero() || e.After(now))
}

// dyed reports whether key is dyed at the Clock's time.
func (d *Dyes) dyed(key string) bool { return d.dyedAt(key, d.now()) }
