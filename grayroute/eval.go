package grayroute

import (
	"fmt"
	"strings"
)

// evalState caches, for one Route call, each attribute the release uses
// (fetched from the request map once) and each parsed version and number.
// It lives on the caller's stack.
type evalState struct {
	attrs      map[string]string
	key        string
	fetched    uint32
	vals       [attrSlots]string
	verDone    uint8
	verOK      uint8
	numDone    uint8
	numOK      uint8
	keyDone    bool
	keyOK      bool
	keyNum     uint64
	vers       [cachedSlots]version
	scratch    version
	numScratch decimal
	nums       [cachedSlots]decimal
}

func (st *evalState) attr(c *cond) string {
	if c.slot < 0 {
		return st.attrs[c.attr]
	}
	bit := uint32(1) << uint(c.slot)
	if st.fetched&bit == 0 {
		st.vals[c.slot] = st.attrs[c.attr]
		st.fetched |= bit
	}
	return st.vals[c.slot]
}

func (st *evalState) version(c *cond) (*version, bool) {
	if c.vslot < 0 {
		v, ok := parseVersion(st.attr(c))
		st.scratch = v
		return &st.scratch, ok
	}
	bit := uint8(1) << uint(c.vslot)
	if st.verDone&bit == 0 {
		v, ok := parseVersion(st.attr(c))
		st.vers[c.vslot] = v
		st.verDone |= bit
		if ok {
			st.verOK |= bit
		} else {
			st.verOK &^= bit
		}
	}
	return &st.vers[c.vslot], st.verOK&bit != 0
}

func (st *evalState) number(c *cond) (*decimal, bool) {
	if c.vslot < 0 {
		x, ok := parseNumber(st.attr(c))
		st.numScratch = x
		return &st.numScratch, ok
	}
	bit := uint8(1) << uint(c.vslot)
	if st.numDone&bit == 0 {
		f, ok := parseNumber(st.attr(c))
		st.nums[c.vslot] = f
		st.numDone |= bit
		if ok {
			st.numOK |= bit
		} else {
			st.numOK &^= bit
		}
	}
	return &st.nums[c.vslot], st.numOK&bit != 0
}

func (st *evalState) keyUint() (uint64, bool) {
	if !st.keyDone {
		st.keyNum, st.keyOK = parseUint(st.key)
		st.keyDone = true
	}
	return st.keyNum, st.keyOK
}

func (c *cond) eval(st *evalState) bool {
	switch c.op {
	case opEq:
		return st.attr(c) == c.str
	case opNeq:
		return st.attr(c) != c.str
	case opIn:
		return c.set.has(st.attr(c))
	case opNotIn:
		return !c.set.has(st.attr(c))
	case opPrefix:
		return strings.HasPrefix(st.attr(c), c.str)
	case opSuffix:
		return strings.HasSuffix(st.attr(c), c.str)
	case opContains:
		return strings.Contains(st.attr(c), c.str)
	case opNumLt, opNumLte, opNumGt, opNumGte:
		x, ok := st.number(c)
		if !ok {
			return false
		}
		r := compareDecimals(x, &c.num)
		switch c.op {
		case opNumLt:
			return r < 0
		case opNumLte:
			return r <= 0
		case opNumGt:
			return r > 0
		}
		return r >= 0
	case opVerLt, opVerLte, opVerGt, opVerGte, opVerEq:
		v, ok := st.version(c)
		if !ok {
			return false
		}
		r := compareVersions(v, &c.ver)
		switch c.op {
		case opVerLt:
			return r < 0
		case opVerLte:
			return r <= 0
		case opVerGt:
			return r > 0
		case opVerGte:
			return r >= 0
		}
		return r == 0
	case opKeyTail:
		k := st.key
		for i := range c.tails {
			g := &c.tails[i]
			if len(k) < g.n {
				break // groups are sorted by length
			}
			t := k[len(k)-g.n:]
			if isDigits(t) && g.set.has(t) {
				return true
			}
		}
		return false
	case opKeyRange:
		x, ok := st.keyUint()
		return ok && x >= c.lo && x <= c.hi
	}
	return false
}

// decide runs the rules; trace, when non-nil, collects Explain's steps and
// makes the call read-only (sticky is peeked, never written).
func (r *release) decide(req *Request, trace *[]Step) Decision {
	if r.noConds && trace == nil {
		return r.decideKeys(req)
	}
	var st evalState
	st.attrs = req.Attrs
	st.key = req.Key
	for i := range r.rules {
		ru := &r.rules[i]
		if ru.hasKeys && !ru.keys.has(req.Key) {
			if trace != nil {
				*trace = append(*trace, Step{Rule: ru.name, Condition: -1, Detail: fmt.Sprintf("key %q not in whitelist", req.Key)})
			}
			continue
		}
		failed := -1
		for j := range ru.conds {
			if !ru.conds[j].eval(&st) {
				failed = j
				break
			}
		}
		if failed >= 0 {
			if trace != nil {
				c := &ru.conds[failed]
				*trace = append(*trace, Step{Rule: ru.name, Condition: failed, Detail: c.describe(&st)})
			}
			continue
		}
		if ru.variant >= 0 {
			reason := ReasonRule
			if ru.hasKeys {
				reason = ReasonWhitelist
			}
			if trace != nil {
				*trace = append(*trace, Step{Rule: ru.name, Matched: true, Condition: -1, Detail: "variant " + r.variants[ru.variant]})
			}
			return Decision{Release: r.name, Variant: r.variants[ru.variant], Rule: ru.name, Bucket: -1, Reason: reason}
		}
		d := r.split(ru, req.Key, trace != nil)
		if trace != nil {
			detail := fmt.Sprintf("bucket %d of split %v", d.Bucket, r.splitText(ru))
			if d.Bucket < 0 {
				detail = "no key to bucket"
			}
			if d.Reason == ReasonSticky {
				detail += "; kept in " + d.Variant + " by sticky"
			}
			*trace = append(*trace, Step{Rule: ru.name, Matched: true, Condition: -1, Detail: detail})
		}
		return d
	}
	return Decision{Release: r.name, Variant: r.variants[r.def], Bucket: -1, Reason: ReasonDefault}
}

// decideKeys is decide for a release without conditions: it skips the
// attribute cache, which costs more to clear than such a release takes.
func (r *release) decideKeys(req *Request) Decision {
	for i := range r.rules {
		ru := &r.rules[i]
		if ru.hasKeys && !ru.keys.has(req.Key) {
			continue
		}
		if ru.variant >= 0 {
			reason := ReasonRule
			if ru.hasKeys {
				reason = ReasonWhitelist
			}
			return Decision{Release: r.name, Variant: r.variants[ru.variant], Rule: ru.name, Bucket: -1, Reason: reason}
		}
		return r.split(ru, req.Key, false)
	}
	return Decision{Release: r.name, Variant: r.variants[r.def], Bucket: -1, Reason: ReasonDefault}
}

func (r *release) split(ru *rule, key string, readOnly bool) Decision {
	if key == "" {
		return Decision{Release: r.name, Variant: r.variants[r.keyless], Rule: ru.name, Bucket: -1, Reason: ReasonDefault}
	}
	h := hashKey(r.hashState, key)
	b := bucketOf(h)
	vi := ru.variantOf(b)
	d := Decision{Release: r.name, Variant: r.variants[vi], Rule: ru.name, Bucket: b, Reason: ReasonSplit}
	if r.sticky == nil || r.rolled {
		return d
	}
	if r.canary[vi] {
		if !readOnly {
			r.sticky.add(h, r.variants[vi], r.epoch)
		}
		return d
	}
	if name, ok := r.sticky.get(h, r.epoch, readOnly); ok {
		for v, n := range r.variants {
			if n == name {
				if r.canary[v] {
					d.Variant = n
					d.Reason = ReasonSticky
				}
				break
			}
		}
	}
	return d
}

func (r *release) splitText(ru *rule) string {
	var b strings.Builder
	for i, w := range ru.weights {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s:%d", r.variants[i], w)
	}
	return "[" + b.String() + "]"
}

func (c *cond) describe(st *evalState) string {
	if c.op == opKeyTail || c.op == opKeyRange {
		if c.op == opKeyRange {
			return fmt.Sprintf("key %q not in range %d..%d", st.key, c.lo, c.hi)
		}
		return fmt.Sprintf("key %q tail not in key_tail values", st.key)
	}
	v, present := st.attrs[c.attr]
	if !present {
		return fmt.Sprintf("attribute %q missing; %s fails", c.attr, c.op)
	}
	if c.op.isVer() {
		if _, ok := parseVersion(v); !ok {
			return fmt.Sprintf("%s=%q is not a version", c.attr, v)
		}
	}
	if c.op.isNum() {
		if _, ok := parseNumber(v); !ok {
			return fmt.Sprintf("%s=%q is not a number", c.attr, v)
		}
	}
	return fmt.Sprintf("%s=%q fails %s", c.attr, v, c.op)
}
