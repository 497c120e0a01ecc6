package metrics

import "strconv"

// Attr is an OssAttr-style integer counter set: one module id, a fixed
// number of keys, each key a Counter. It is bounded by construction: a key
// outside 0..keys-1 goes to the overflow key (key="__overflow__") and is
// counted in bulwark_metrics_overflow_total{reason="key"}. Safe for
// concurrent use; Add is an index and a Counter.Add, no lookup.
type Attr struct {
	keys []*series // len keys+1; the last is the overflow key
	ovf  *Counter
}

// MaxAttrKeys bounds the keys of one Attr.
const MaxAttrKeys = 1 << 16

var attrLabels = []string{"id", "key"}

// Attr returns the attr with this id exposed as name{id="…",key="…"},
// registering it first. Several ids may share a name, and several
// goroutines may register them at once.
//
// The ids of one name share WithMaxSeries like a vector's label values: an
// id costs keys+1 series (its keys and its overflow key). The first id of
// a name always gets its series; an Attr call for a further id that would
// take the name past MaxSeries series returns the name's overflow Attr
// instead, one series exposed as name{id="__overflow__",key="__overflow__"}
// that every key of every such id adds to, each Add counted in
// bulwark_metrics_overflow_total{reason="series"}. Ids registered earlier
// keep their series, and a name holds at most max(MaxSeries, keys+1) + 1
// series, so ids taken from request data cannot grow the registry without
// bound.
//
// It panics if keys is not in 1..MaxAttrKeys, if name is invalid or used by
// another kind of metric, or if the id exists with another number of keys.
func (r *Registry) Attr(id uint32, name string, keys int) *Attr {
	if keys < 1 || keys > MaxAttrKeys {
		panic("metrics: Attr " + name + ": keys " + strconv.Itoa(keys) + " not in 1.." + strconv.Itoa(MaxAttrKeys))
	}
	checkNames(name, kindCounter, attrLabels)
	// One hold of r.mu covers the lookup, the registration and the ids, so
	// goroutines registering ids of one name at once agree on the family.
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.fams[name]
	if f == nil {
		f = r.registerLocked(name, "", kindCounter, attrLabels, r.maxSeries)
		f.attr = true
		f.attrs = map[uint32]*Attr{}
	} else if !f.attr {
		panic("metrics: Attr " + name + ": name is already a " + f.kind.String())
	}
	if a := f.attrs[id]; a != nil {
		if len(a.keys)-1 != keys {
			panic("metrics: Attr " + name + " id " + strconv.FormatUint(uint64(id), 10) + " registered again with " +
				strconv.Itoa(keys) + " keys, have " + strconv.Itoa(len(a.keys)-1))
		}
		return a
	}
	if n := f.count.Load(); n > 0 && n+int64(keys)+1 > f.max {
		return f.overflowAttr()
	}
	return f.newAttr(id, keys)
}

// newAttr creates the series of a new id; the caller holds r.mu.
func (f *family) newAttr(id uint32, keys int) *Attr {
	a := &Attr{keys: make([]*series, keys+1)}
	ids := strconv.FormatUint(uint64(id), 10)
	f.mu.Lock()
	for k := 0; k <= keys; k++ {
		kv := OverflowValue
		if k < keys {
			kv = strconv.Itoa(k)
		}
		key := []string{ids, kv}
		a.keys[k] = f.newSeries(f.idx.hash(key), key)
	}
	f.count.Add(int64(keys) + 1)
	f.mu.Unlock()
	a.ovf = &f.r.ovf.with([]string{f.name, "key"}).c
	f.attrs[id] = a
	return a
}

// overflowAttr returns the name's overflow Attr, creating it once; the
// caller holds r.mu. It has no keys: every Add goes to its one series and
// counts as a series overflow.
func (f *family) overflowAttr() *Attr {
	if f.attrOvf == nil {
		key := []string{OverflowValue, OverflowValue}
		f.mu.Lock()
		s := f.newSeries(f.idx.hash(key), key)
		f.mu.Unlock()
		f.attrOvf = &Attr{keys: []*series{s}, ovf: &f.r.ovf.with([]string{f.name, "series"}).c}
	}
	return f.attrOvf
}

// Add adds n to key. On the overflow Attr every key goes to its one series.
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
