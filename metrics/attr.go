package metrics

import (
	"math"
	"strconv"
)

// Attr is an OssAttr-style integer counter set: one module id, a fixed
// number of keys, each key a Counter. It is bounded by construction: a key
// outside 0..keys-1 goes to the overflow key (key="__overflow__") and is
// counted in bulwark_metrics_overflow_total{reason="key"}. Safe for
// concurrent use; Add is an index and a Counter.Add, no lookup.
type Attr struct {
	id   uint32
	keys []*series // len keys+1; the last is the overflow key
	ovf  *Counter
}

// MaxAttrKeys bounds the keys of one Attr.
const MaxAttrKeys = 1 << 16

// Attr returns the attr with this id exposed as name{id="…",key="…"},
// registering it first. Several ids may share a name. It panics if keys is
// not in 1..MaxAttrKeys, if name is invalid or used by another kind of
// metric, or if the id exists with another number of keys.
func (r *Registry) Attr(id uint32, name string, keys int) *Attr {
	if keys < 1 || keys > MaxAttrKeys {
		panic("metrics: Attr " + name + ": keys " + strconv.Itoa(keys) + " not in 1.." + strconv.Itoa(MaxAttrKeys))
	}
	if err := checkName(name); err != "" {
		panic("metrics: metric name " + strconv.Quote(name) + ": " + err)
	}
	r.mu.Lock()
	f := r.fams[name]
	if f != nil && !f.attr {
		r.mu.Unlock()
		panic("metrics: Attr " + name + ": name is already a " + f.kind.String())
	}
	if f != nil {
		defer r.mu.Unlock()
		a := f.attrs[id]
		if a != nil {
			if len(a.keys)-1 != keys {
				panic("metrics: Attr " + name + " id " + strconv.FormatUint(uint64(id), 10) + " registered again with " +
					strconv.Itoa(keys) + " keys, have " + strconv.Itoa(len(a.keys)-1))
			}
			return a
		}
		return f.newAttr(id, keys)
	}
	r.mu.Unlock()
	f = r.register(name, "", kindCounter, []string{"id", "key"}, math.MaxInt)
	r.mu.Lock()
	defer r.mu.Unlock()
	if f.attrs == nil {
		f.attr = true
		f.attrs = map[uint32]*Attr{}
	}
	if a := f.attrs[id]; a != nil {
		return a
	}
	return f.newAttr(id, keys)
}

func (f *family) newAttr(id uint32, keys int) *Attr {
	a := &Attr{id: id, keys: make([]*series, keys+1)}
	ids := strconv.FormatUint(uint64(id), 10)
	f.mu.Lock()
	for k := 0; k <= keys; k++ {
		kv := OverflowValue
		if k < keys {
			kv = strconv.Itoa(k)
		}
		key := []string{ids, kv}
		h := f.idx.hash(key)
		s := f.idx.lookup(h, key)
		if s == nil {
			s = f.newSeries(h, key, nil)
		}
		a.keys[k] = s
	}
	f.mu.Unlock()
	a.ovf = &f.r.ovf.with([]string{f.name, "key"}).c
	f.attrs[id] = a
	return a
}

// Add adds n to key.
func (a *Attr) Add(key int, n uint64) {
	if uint(key) >= uint(len(a.keys)-1) {
		a.ovf.Inc()
		key = len(a.keys) - 1
	}
	a.keys[key].c.Add(n)
}

// Inc adds one to key.
func (a *Attr) Inc(key int) { a.Add(key, 1) }

// Value returns key's total (the overflow key's for a key out of range).
func (a *Attr) Value(key int) uint64 {
	if uint(key) >= uint(len(a.keys)-1) {
		key = len(a.keys) - 1
	}
	return a.keys[key].c.Value()
}
