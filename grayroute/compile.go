package grayroute

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strconv"
)

// Limits on a configuration (each violation is a config error).
const (
	maxNameLen      = 64
	maxSaltLen      = 256
	maxVariants     = 255
	maxRules        = 10_000
	maxSticky       = 10_000_000
	maxTailDigits   = 19
	maxNumberDigits = 30
	// attrSlots and cachedSlots are performance limits, not errors: the
	// first attrSlots distinct attributes of a release are fetched once per
	// Route, the first cachedSlots version (and number) attributes parsed
	// once; any beyond are fetched or parsed at each use.
	attrSlots   = 32
	cachedSlots = 8
)

type opcode uint8

const (
	opEq opcode = iota + 1
	opNeq
	opIn
	opNotIn
	opPrefix
	opSuffix
	opContains
	opNumLt
	opNumLte
	opNumGt
	opNumGte
	opVerLt
	opVerLte
	opVerGt
	opVerGte
	opVerEq
	opKeyTail
	opKeyRange
)

var opNames = map[string]opcode{
	"eq": opEq, "neq": opNeq, "in": opIn, "not_in": opNotIn,
	"prefix": opPrefix, "suffix": opSuffix, "contains": opContains,
	"num_lt": opNumLt, "num_lte": opNumLte, "num_gt": opNumGt, "num_gte": opNumGte,
	"version_lt": opVerLt, "version_lte": opVerLte, "version_gt": opVerGt,
	"version_gte": opVerGte, "version_eq": opVerEq,
	"key_tail": opKeyTail, "key_range": opKeyRange,
}

func (o opcode) String() string {
	for k, v := range opNames {
		if v == o {
			return k
		}
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

func (o opcode) isNum() bool { return o >= opNumLt && o <= opNumGte }
func (o opcode) isVer() bool { return o >= opVerLt && o <= opVerEq }
func (o opcode) onKey() bool { return o == opKeyTail || o == opKeyRange }

// stringSet is a whitelist: a short slice scanned linearly, or a map.
type stringSet struct {
	small []string
	m     map[string]struct{}
}

func newStringSet(vals []string) stringSet {
	if len(vals) <= 8 {
		return stringSet{small: slices.Clone(vals)}
	}
	m := make(map[string]struct{}, len(vals))
	for _, v := range vals {
		m[v] = struct{}{}
	}
	return stringSet{m: m}
}

func (s *stringSet) has(x string) bool {
	if s.m != nil {
		_, ok := s.m[x]
		return ok
	}
	for _, v := range s.small {
		if v == x {
			return true
		}
	}
	return false
}

type tailGroup struct {
	n   int
	set stringSet
}

type cond struct {
	op    opcode
	attr  string
	slot  int // attribute slot, -1 = look up each time
	vslot int // version/number cache slot, -1 = parse each time
	str   string
	set   stringSet
	num   decimal
	ver   version
	tails []tailGroup
	lo    uint64
	hi    uint64
}

type rule struct {
	name    string
	hasKeys bool
	keys    stringSet
	conds   []cond
	variant int       // fixed outcome, -1 for a split
	weights []int     // per variant index, for a split
	segs    []segment // the split's bucket layout, in bucket order
	planned bool      // the plan drives this split
}

type release struct {
	name      string
	salt      string
	hashState uint64
	variants  []string
	def       int
	keyless   int // the variant of a split without a key: plan control, else default
	rules     []rule
	canary    []bool // variants sticky keeps
	stickyMax int
	sticky    *stickySet // nil when off
	epoch     uint32     // sticky entries of other epochs are ignored
	plan      *compiledPlan
	share     int  // the canary weight the plan applies, -1 without a plan
	rolled    bool // the plan rolled back: sticky is not consulted
	noConds   bool // no rule has conditions (Route's fast path)
}

type compiledPlan struct {
	steps       []PlanStep
	canary      int
	control     int
	gate        Gate
	rollbackAll bool // a rollback also drops the rules whose fixed variant is the canary
	fp          string
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

const nameRule = "must be 1 to 64 of [A-Za-z0-9._-]"

// compile validates cfg and builds the immutable routing tables, without
// plan shares or sticky sets (the Router attaches those).
func compile(cfg *Config) (map[string]*release, []string, error) {
	names := make([]string, 0, len(cfg.Releases))
	for n := range cfg.Releases {
		names = append(names, n)
	}
	sort.Strings(names)
	var attrs map[string]bool
	if len(cfg.Attrs) > 0 {
		attrs = make(map[string]bool, len(cfg.Attrs))
		for i, a := range cfg.Attrs {
			if a == "" {
				return nil, nil, cfgErr(fmt.Sprintf("attrs[%d]", i), "empty attribute name")
			}
			attrs[a] = true
		}
	}
	out := make(map[string]*release, len(names))
	for _, n := range names {
		rel := cfg.Releases[n]
		r, err := compileRelease(n, &rel, attrs)
		if err != nil {
			return nil, nil, err
		}
		out[n] = r
	}
	return out, names, nil
}

func compileRelease(name string, c *Release, attrs map[string]bool) (*release, error) {
	p := "releases." + name
	if !validName(name) {
		return nil, cfgErr(p, "release name "+nameRule)
	}
	r := &release{name: name, salt: c.Salt, share: -1}
	if r.salt == "" {
		r.salt = name
	}
	if len(r.salt) > maxSaltLen {
		return nil, cfgErr(p+".salt", fmt.Sprintf("longer than %d bytes", maxSaltLen))
	}
	for i := 0; i < len(r.salt); i++ {
		if r.salt[i] == 0 {
			return nil, cfgErr(p+".salt", "contains a NUL byte")
		}
	}
	if c.Hash != "" && c.Hash != "v1" {
		return nil, cfgErr(p+".hash", fmt.Sprintf("unknown hash version %q (known: v1)", c.Hash))
	}
	r.hashState = saltState(r.salt)
	if len(c.Variants) == 0 || len(c.Variants) > maxVariants {
		return nil, cfgErr(p+".variants", fmt.Sprintf("need 1 to %d variants, got %d", maxVariants, len(c.Variants)))
	}
	index := make(map[string]int, len(c.Variants))
	for i, v := range c.Variants {
		if !validName(v) {
			return nil, cfgErr(fmt.Sprintf("%s.variants[%d]", p, i), "variant "+nameRule)
		}
		if _, dup := index[v]; dup {
			return nil, cfgErr(fmt.Sprintf("%s.variants[%d]", p, i), fmt.Sprintf("duplicate variant %q", v))
		}
		index[v] = i
	}
	r.variants = slices.Clone(c.Variants)
	if c.Default != "" {
		d, ok := index[c.Default]
		if !ok {
			return nil, cfgErr(p+".default", fmt.Sprintf("unknown variant %q", c.Default))
		}
		r.def = d
	}
	r.keyless = r.def
	if c.Sticky < 0 || c.Sticky > maxSticky {
		return nil, cfgErr(p+".sticky", fmt.Sprintf("must be 0..%d, got %d", maxSticky, c.Sticky))
	}
	r.stickyMax = c.Sticky
	if len(c.Rules) > maxRules {
		return nil, cfgErr(p+".rules", fmt.Sprintf("more than %d rules", maxRules))
	}
	slots := map[string]int{}
	vslots := map[string]int{}
	nslots := map[string]int{}
	ruleNames := map[string]int{}
	r.rules = make([]rule, len(c.Rules))
	for i := range c.Rules {
		rp := fmt.Sprintf("%s.rules[%d]", p, i)
		cr := &c.Rules[i]
		ru := &r.rules[i]
		ru.name = cr.Name
		if ru.name == "" {
			ru.name = fmt.Sprintf("rules[%d]", i)
		}
		if j, dup := ruleNames[ru.name]; dup {
			return nil, cfgErr(rp+".name", fmt.Sprintf("same name as rules[%d]", j))
		}
		ruleNames[ru.name] = i
		if cr.Keys != nil {
			if len(cr.Keys) == 0 {
				return nil, cfgErr(rp+".keys", "empty whitelist (omit keys to match any key)")
			}
			for j, k := range cr.Keys {
				if k == "" {
					return nil, cfgErr(fmt.Sprintf("%s.keys[%d]", rp, j), "empty key")
				}
			}
			ru.hasKeys = true
			ru.keys = newStringSet(cr.Keys)
		}
		ru.conds = make([]cond, len(cr.When))
		for j := range cr.When {
			cp := fmt.Sprintf("%s.when[%d]", rp, j)
			if err := compileCond(cp, &cr.When[j], &ru.conds[j], attrs, slots, vslots, nslots); err != nil {
				return nil, err
			}
		}
		switch {
		case cr.Variant != "" && cr.Split != nil:
			return nil, cfgErr(rp, "both variant and split set; a rule ends in one of them")
		case cr.Variant != "":
			v, ok := index[cr.Variant]
			if !ok {
				return nil, cfgErr(rp+".variant", fmt.Sprintf("unknown variant %q", cr.Variant))
			}
			ru.variant = v
		case cr.Split != nil:
			ru.variant = -1
			ru.weights = make([]int, len(r.variants))
			keys := make([]string, 0, len(cr.Split))
			for k := range cr.Split {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			sum := 0
			for _, k := range keys {
				w := cr.Split[k]
				v, ok := index[k]
				if !ok {
					return nil, cfgErr(rp+".split."+k, fmt.Sprintf("unknown variant %q", k))
				}
				if w < 0 || w > Buckets {
					return nil, cfgErr(rp+".split."+k, fmt.Sprintf("weight %d outside 0..10000", w))
				}
				ru.weights[v] = w
				sum += w
			}
			if sum != Buckets {
				return nil, cfgErr(rp+".split", fmt.Sprintf("weights sum to %d, want 10000 (basis points)", sum))
			}
			ru.segs = layout(ru.weights)
		default:
			return nil, cfgErr(rp, "neither variant nor split set")
		}
	}
	r.noConds = true
	for i := range r.rules {
		r.noConds = r.noConds && len(r.rules[i].conds) == 0
	}
	if c.Plan != nil {
		if err := compilePlan(p+".plan", c, r, index); err != nil {
			return nil, err
		}
	}
	r.canary = make([]bool, len(r.variants))
	for i := range r.canary {
		if r.plan != nil {
			r.canary[i] = i == r.plan.canary
		} else {
			r.canary[i] = i != r.def
		}
	}
	return r, nil
}

// segment is a run of buckets of a split: those below hi (and at or
// above the previous segment's hi) go to variant v.
type segment struct {
	hi int
	v  int
}

// layout lays weights out in variant order: variant i gets the buckets
// from the sum of the weights before it, weight i of them.
func layout(w []int) []segment {
	segs := make([]segment, 0, len(w))
	s := 0
	for i, x := range w {
		if x == 0 {
			continue
		}
		s += x
		segs = append(segs, segment{hi: s, v: i})
	}
	return segs
}

// variantOf is the variant of bucket b.
func (ru *rule) variantOf(b int) int {
	i := 0
	for i < len(ru.segs)-1 && b >= ru.segs[i].hi {
		i++
	}
	return ru.segs[i].v
}

// planLayout is the layout of a planned split at a canary share: every
// variant but the canary and the control keeps the buckets its configured
// weight gives it in layout; the canary and control ranges form one pool,
// read from the control's range to the canary's (in variant order), and the
// canary takes the share buckets at the canary's end of it. Raising the
// share only adds buckets to the canary and takes them only from the
// control; with control and canary adjacent this is layout itself.
func planLayout(w []int, canary, control, share int) []segment {
	type run struct{ lo, hi, v int }
	starts := make([]int, len(w)+1)
	for i, x := range w {
		starts[i+1] = starts[i] + x
	}
	var runs []run
	for i := range w {
		if i != canary && i != control && w[i] > 0 {
			runs = append(runs, run{starts[i], starts[i+1], i})
		}
	}
	a0, a1 := starts[control], starts[control+1]
	c0, c1 := starts[canary], starts[canary+1]
	pool := (a1 - a0) + (c1 - c0)
	share = min(share, pool)
	// seq is the pool in reading order: first range, then second.
	f0, f1, s0 := a0, a1, c0 // control first: the canary takes the tail
	canLo, canHi := pool-share, pool
	if canary < control {
		f0, f1, s0 = c0, c1, a0 // canary first: it takes the head
		canLo, canHi = 0, share
	}
	emit := func(lo, hi, v int) { // pool positions lo..hi to buckets
		n := f1 - f0
		if lo < n {
			runs = append(runs, run{f0 + lo, f0 + min(hi, n), v})
		}
		if hi > n {
			runs = append(runs, run{s0 + max(lo-n, 0), s0 + hi - n, v})
		}
	}
	emit(canLo, canHi, canary)
	if canLo > 0 {
		emit(0, canLo, control)
	}
	if canHi < pool {
		emit(canHi, pool, control)
	}
	slices.SortFunc(runs, func(x, y run) int { return x.lo - y.lo })
	var segs []segment
	for _, r := range runs {
		if r.hi <= r.lo {
			continue
		}
		if n := len(segs); n > 0 && segs[n-1].v == r.v {
			segs[n-1].hi = r.hi
			continue
		}
		segs = append(segs, segment{hi: r.hi, v: r.v})
	}
	return segs
}

func compileCond(p string, c *Condition, k *cond, attrs map[string]bool, slots, vslots, nslots map[string]int) error {
	op, ok := opNames[c.Op]
	if !ok {
		return cfgErr(p+".op", fmt.Sprintf("unknown operator %q", c.Op))
	}
	k.op = op
	k.slot, k.vslot = -1, -1
	if op.onKey() {
		if c.Attr != "" {
			return cfgErr(p+".attr", c.Op+" tests the request key and takes no attr")
		}
	} else {
		if c.Attr == "" {
			return cfgErr(p+".attr", "missing attribute name")
		}
		if attrs != nil && !attrs[c.Attr] {
			return cfgErr(p+".attr", fmt.Sprintf("unknown attribute %q (not in attrs)", c.Attr))
		}
		k.attr = c.Attr
		s, ok := slots[c.Attr]
		if !ok {
			s = len(slots)
			slots[c.Attr] = s
		}
		if s < attrSlots {
			k.slot = s
		}
	}
	needValue := op != opIn && op != opNotIn && op != opKeyTail && op != opKeyRange
	needValues := op == opIn || op == opNotIn || op == opKeyTail
	if needValue && c.Value == nil {
		return cfgErr(p+".value", "missing for "+c.Op)
	}
	if !needValue && c.Value != nil {
		return cfgErr(p+".value", "not used by "+c.Op)
	}
	if needValues && len(c.Values) == 0 {
		return cfgErr(p+".values", "missing or empty for "+c.Op)
	}
	if !needValues && c.Values != nil {
		return cfgErr(p+".values", "not used by "+c.Op)
	}
	if op == opKeyRange {
		if c.Min == nil {
			return cfgErr(p+".min", "missing for key_range")
		}
		if c.Max == nil {
			return cfgErr(p+".max", "missing for key_range")
		}
	} else {
		if c.Min != nil {
			return cfgErr(p+".min", "not used by "+c.Op)
		}
		if c.Max != nil {
			return cfgErr(p+".max", "not used by "+c.Op)
		}
	}
	switch {
	case op == opIn || op == opNotIn:
		vals := make([]string, len(c.Values))
		for i, v := range c.Values {
			vals[i] = string(v)
		}
		k.set = newStringSet(vals)
	case op == opKeyTail:
		groups := map[int][]string{}
		for i, v := range c.Values {
			s := string(v)
			if !isDigits(s) || len(s) > maxTailDigits {
				return cfgErr(fmt.Sprintf("%s.values[%d]", p, i), fmt.Sprintf("key_tail wants 1 to %d decimal digits, got %q", maxTailDigits, s))
			}
			groups[len(s)] = append(groups[len(s)], s)
		}
		lens := make([]int, 0, len(groups))
		for n := range groups {
			lens = append(lens, n)
		}
		sort.Ints(lens)
		for _, n := range lens {
			k.tails = append(k.tails, tailGroup{n: n, set: newStringSet(groups[n])})
		}
	case op == opKeyRange:
		lo, ok := parseUint(string(*c.Min))
		if !ok {
			return cfgErr(p+".min", fmt.Sprintf("not an unsigned integer: %q", string(*c.Min)))
		}
		hi, ok := parseUint(string(*c.Max))
		if !ok {
			return cfgErr(p+".max", fmt.Sprintf("not an unsigned integer: %q", string(*c.Max)))
		}
		if lo > hi {
			return cfgErr(p+".max", fmt.Sprintf("max %d below min %d", hi, lo))
		}
		k.lo, k.hi = lo, hi
	case op.isNum():
		f, ok := parseNumber(string(*c.Value))
		if !ok {
			return cfgErr(p+".value", fmt.Sprintf("not a decimal number: %q", string(*c.Value)))
		}
		k.num = f
		s, ok := nslots[c.Attr]
		if !ok {
			s = len(nslots)
			nslots[c.Attr] = s
		}
		if s < cachedSlots {
			k.vslot = s
		}
	case op.isVer():
		v, ok := parseVersion(string(*c.Value))
		if !ok {
			return cfgErr(p+".value", fmt.Sprintf("unparsable version %q", string(*c.Value)))
		}
		v.pre = string([]byte(v.pre)) // do not pin the config text
		k.ver = v
		s, ok := vslots[c.Attr]
		if !ok {
			s = len(vslots)
			vslots[c.Attr] = s
		}
		if s < cachedSlots {
			k.vslot = s
		}
	default:
		k.str = string(*c.Value)
	}
	return nil
}

func compilePlan(p string, c *Release, r *release, index map[string]int) error {
	pl := c.Plan
	cp := &compiledPlan{steps: slices.Clone(pl.Steps), gate: pl.Gate, rollbackAll: pl.RollbackAll}
	var ok bool
	if cp.canary, ok = index[pl.Canary]; !ok {
		return cfgErr(p+".canary", fmt.Sprintf("unknown variant %q", pl.Canary))
	}
	if cp.control, ok = index[pl.Control]; !ok {
		return cfgErr(p+".control", fmt.Sprintf("unknown variant %q", pl.Control))
	}
	if cp.canary == cp.control {
		return cfgErr(p+".control", "same variant as canary")
	}
	if len(pl.Steps) == 0 {
		return cfgErr(p+".steps", "no steps")
	}
	prev := 0
	for i, s := range pl.Steps {
		sp := fmt.Sprintf("%s.steps[%d]", p, i)
		if s.Share < 1 || s.Share > Buckets {
			return cfgErr(sp+".share", fmt.Sprintf("share %d outside 1..10000 basis points", s.Share))
		}
		if s.Share <= prev {
			return cfgErr(sp+".share", fmt.Sprintf("share %d not above the previous step's %d", s.Share, prev))
		}
		prev = s.Share
		if s.Dwell < 0 {
			return cfgErr(sp+".dwell", "negative")
		}
		if s.MinSamples < 0 {
			return cfgErr(sp+".min_samples", "negative")
		}
	}
	g := &cp.gate
	if !(g.MaxErrorRateIncrease >= 0) || g.MaxErrorRateIncrease > 1 {
		return cfgErr(p+".gate.max_error_rate_increase", fmt.Sprintf("must be in 0..1, got %v", g.MaxErrorRateIncrease))
	}
	if g.MaxErrorRateIncrease == 0 {
		g.MaxErrorRateIncrease = DefaultMaxErrorRateIncrease
	}
	if g.MaxP99Ratio == 0 {
		g.MaxP99Ratio = DefaultMaxP99Ratio
	}
	if !(g.MaxP99Ratio >= 1) || g.MaxP99Ratio > 1e6 {
		return cfgErr(p+".gate.max_p99_ratio", fmt.Sprintf("must be in 1..1e6, got %v", g.MaxP99Ratio))
	}
	driven := 0
	for i := range r.rules {
		ru := &r.rules[i]
		if ru.variant >= 0 {
			continue
		}
		if _, named := c.Rules[i].Split[pl.Canary]; !named {
			continue
		}
		if _, named := c.Rules[i].Split[pl.Control]; !named {
			return cfgErr(fmt.Sprintf("releases.%s.rules[%d].split", r.name, i), fmt.Sprintf("splits the plan's canary %q but not its control %q", pl.Canary, pl.Control))
		}
		pool := ru.weights[cp.canary] + ru.weights[cp.control]
		if prev > pool {
			return cfgErr(fmt.Sprintf("%s.steps[%d].share", p, len(pl.Steps)-1), fmt.Sprintf("share %d above the canary+control weight %d of rules[%d].split", prev, pool, i))
		}
		ru.planned = true
		driven++
	}
	if driven == 0 {
		return cfgErr(p, fmt.Sprintf("no rule splits between canary %q and control %q", pl.Canary, pl.Control))
	}
	// The fingerprint covers what defines the ramp, so changing it restarts
	// the plan (and clears a rollback): the steps, canary, control and
	// epoch. Gate and rollback_all edits apply to the plan in progress.
	b, _ := json.Marshal(struct {
		Steps           []PlanStep
		Canary, Control string
		Epoch           int
	}{pl.Steps, pl.Canary, pl.Control, pl.Epoch})
	h := fnv.New64a()
	h.Write(b)
	cp.fp = strconv.FormatUint(h.Sum64(), 16)
	r.plan = cp
	r.keyless = cp.control
	return nil
}

// withShare returns a copy of r whose planned splits give the canary share
// basis points (the control takes the rest of their pool; see planLayout).
func (r *release) withShare(share int, rolled bool, epoch uint32) *release {
	c := *r
	c.share, c.rolled, c.epoch = share, rolled, epoch
	if r.plan == nil {
		return &c
	}
	c.rules = slices.Clone(r.rules)
	if rolled && r.plan.rollbackAll {
		// The rolled-back instance has no rule that names the canary (the
		// request goes on to the next rule, as if they were not written)
		// and a canary default gives way to the control.
		c.rules = slices.DeleteFunc(c.rules, func(ru rule) bool { return ru.variant == r.plan.canary })
		if c.def == r.plan.canary {
			c.def = r.plan.control
		}
		c.noConds = true
		for i := range c.rules {
			c.noConds = c.noConds && len(c.rules[i].conds) == 0
		}
	}
	for i := range c.rules {
		ru := &c.rules[i]
		if !ru.planned {
			continue
		}
		w := slices.Clone(ru.weights)
		pool := w[r.plan.canary] + w[r.plan.control]
		s := min(share, pool)
		ru.segs = planLayout(w, r.plan.canary, r.plan.control, s)
		w[r.plan.canary] = s
		w[r.plan.control] = pool - s
		ru.weights = w
	}
	return &c
}

// parseUint reads decimal digits (leading zeros allowed) as a uint64,
// without allocating; it fails on overflow.
func parseUint(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	var x uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if x > (^uint64(0)-d)/10 {
			return 0, false
		}
		x = x*10 + d
	}
	return x, true
}
