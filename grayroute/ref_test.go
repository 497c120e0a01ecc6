package grayroute

import (
	"hash/fnv"
	"math/big"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A straightforward reference interpreter of the JSON configuration: no
// compilation, no caches, big integers for versions, stdlib FNV and big
// arithmetic for buckets. Route must agree with it on every request.

var (
	refVersionRE = regexp.MustCompile(`^[vV]?([0-9]{1,9})(?:\.([0-9]{1,9}))?(?:\.([0-9]{1,9}))?(?:\.([0-9]{1,9}))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$`)
	refNumberRE  = regexp.MustCompile(`^([+-]?)([0-9]*)\.?([0-9]*)(?:[eE]([+-]?[0-9]{1,2}))?$`)
)

type refVersion struct {
	parts [4]*big.Int
	pre   []string
}

func refParseVersion(s string) (refVersion, bool) {
	m := refVersionRE.FindStringSubmatch(s)
	if m == nil {
		return refVersion{}, false
	}
	var v refVersion
	for i := range 4 {
		v.parts[i] = new(big.Int)
		if m[i+1] != "" {
			v.parts[i].SetString(m[i+1], 10)
		}
	}
	if m[5] != "" {
		v.pre = strings.Split(m[5], ".")
	}
	return v, true
}

func refCompareVersions(a, b refVersion) int {
	for i := range 4 {
		if c := a.parts[i].Cmp(b.parts[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(a.pre) == 0 && len(b.pre) == 0:
		return 0
	case len(a.pre) == 0:
		return 1
	case len(b.pre) == 0:
		return -1
	}
	for i := 0; i < len(a.pre) && i < len(b.pre); i++ {
		x, y := a.pre[i], b.pre[i]
		xn, xok := new(big.Int).SetString(x, 10)
		yn, yok := new(big.Int).SetString(y, 10)
		xok = xok && !strings.ContainsAny(x, "+-")
		yok = yok && !strings.ContainsAny(y, "+-")
		switch {
		case xok && yok:
			if c := xn.Cmp(yn); c != 0 {
				return c
			}
		case xok:
			return -1
		case yok:
			return 1
		default:
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
		}
	}
	switch {
	case len(a.pre) < len(b.pre):
		return -1
	case len(a.pre) > len(b.pre):
		return 1
	}
	return 0
}

// refParseNumber reads the number grammar exactly, as a big.Rat:
// sign, digits.fraction × 10^exponent.
func refParseNumber(s string) (*big.Rat, bool) {
	m := refNumberRE.FindStringSubmatch(s)
	if m == nil || len(m[2])+len(m[3]) == 0 || len(m[2])+len(m[3]) > 30 {
		return nil, false
	}
	mant, _ := new(big.Int).SetString(m[2]+m[3], 10)
	e := -len(m[3])
	if m[4] != "" {
		x, _ := strconv.Atoi(m[4])
		e += x
	}
	r := new(big.Rat).SetInt(mant)
	p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(max(e, -e))), nil))
	if e >= 0 {
		r.Mul(r, p)
	} else {
		r.Quo(r, p)
	}
	if m[1] == "-" {
		r.Neg(r)
	}
	return r, true
}

// decimalRat is x as a big.Rat.
func decimalRat(x *decimal) *big.Rat {
	var b strings.Builder
	b.WriteString("0")
	for _, d := range x.d[:x.n] {
		b.WriteByte('0' + d)
	}
	mant, _ := new(big.Int).SetString(b.String(), 10)
	e := int(x.exp) - int(x.n)
	r := new(big.Rat).SetInt(mant)
	p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(max(e, -e))), nil))
	if e >= 0 {
		r.Mul(r, p)
	} else {
		r.Quo(r, p)
	}
	if x.neg {
		r.Neg(r)
	}
	return r
}

func refBucket(salt, key string) int {
	h := fnv.New64a()
	h.Write([]byte(salt))
	h.Write([]byte{0})
	h.Write([]byte(key))
	x := h.Sum64()
	// fmix64, written out again.
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	p := new(big.Int).Mul(new(big.Int).SetUint64(x), big.NewInt(10000))
	return int(p.Rsh(p, 64).Int64())
}

func refCond(c Condition, q Request) bool {
	attr := q.Attrs[c.Attr]
	switch c.Op {
	case "eq":
		return attr == string(*c.Value)
	case "neq":
		return attr != string(*c.Value)
	case "in", "not_in":
		in := false
		for _, v := range c.Values {
			if string(v) == attr {
				in = true
			}
		}
		return in == (c.Op == "in")
	case "prefix":
		return strings.HasPrefix(attr, string(*c.Value))
	case "suffix":
		return strings.HasSuffix(attr, string(*c.Value))
	case "contains":
		return strings.Contains(attr, string(*c.Value))
	case "num_lt", "num_lte", "num_gt", "num_gte":
		x, ok := refParseNumber(attr)
		if !ok {
			return false
		}
		y, _ := refParseNumber(string(*c.Value))
		r := x.Cmp(y)
		switch c.Op {
		case "num_lt":
			return r < 0
		case "num_lte":
			return r <= 0
		case "num_gt":
			return r > 0
		}
		return r >= 0
	case "key_tail":
		for _, v := range c.Values {
			if strings.HasSuffix(q.Key, string(v)) {
				return true
			}
		}
		return false
	case "key_range":
		x, err := strconv.ParseUint(q.Key, 10, 64)
		if err != nil {
			return false
		}
		lo, _ := strconv.ParseUint(string(*c.Min), 10, 64)
		hi, _ := strconv.ParseUint(string(*c.Max), 10, 64)
		return x >= lo && x <= hi
	}
	// version ops
	x, ok := refParseVersion(attr)
	if !ok {
		return false
	}
	y, _ := refParseVersion(string(*c.Value))
	r := refCompareVersions(x, y)
	switch c.Op {
	case "version_lt":
		return r < 0
	case "version_lte":
		return r <= 0
	case "version_gt":
		return r > 0
	case "version_gte":
		return r >= 0
	}
	return r == 0
}

// refRoute decides like Route for a fresh Router (plans at step 0, share
// given by share when >= 0; no sticky history).
func refRoute(cfg *Config, name string, q Request, share int) Decision {
	rel, ok := cfg.Releases[name]
	if !ok {
		return Decision{Release: name, Bucket: -1, Reason: ReasonUnknownRelease}
	}
	def := rel.Variants[0]
	if rel.Default != "" {
		def = rel.Default
	}
	salt := rel.Salt
	if salt == "" {
		salt = name
	}
	for i, ru := range rel.Rules {
		rn := ru.Name
		if rn == "" {
			rn = "rules[" + strconv.Itoa(i) + "]"
		}
		if ru.Keys != nil && !slices.Contains(ru.Keys, q.Key) {
			continue
		}
		ok := true
		for _, c := range ru.When {
			if !refCond(c, q) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if ru.Variant != "" {
			reason := ReasonRule
			if ru.Keys != nil {
				reason = ReasonWhitelist
			}
			return Decision{Release: name, Variant: ru.Variant, Rule: rn, Bucket: -1, Reason: reason}
		}
		weights := map[string]int{}
		for k, v := range ru.Split {
			weights[k] = v
		}
		keyless := def
		if rel.Plan != nil {
			keyless = rel.Plan.Control
		}
		if q.Key == "" {
			return Decision{Release: name, Variant: keyless, Rule: rn, Bucket: -1, Reason: ReasonDefault}
		}
		b := refBucket(salt, q.Key)
		// The bucket's variant under the configured weights, in variant
		// order; a plan then hands the canary the share buckets at its own
		// end of the pool (control's buckets, then canary's, in variant
		// order).
		lo := map[string]int{}
		owner, acc := "", 0
		for _, v := range rel.Variants {
			lo[v] = acc
			acc += weights[v]
			if owner == "" && b < acc {
				owner = v
			}
		}
		if rel.Plan != nil {
			ca, co := rel.Plan.Canary, rel.Plan.Control
			if _, named := weights[ca]; named && (owner == ca || owner == co) {
				s := rel.Plan.Steps[0].Share
				if share >= 0 {
					s = share
				}
				canaryFirst := slices.Index(rel.Variants, ca) < slices.Index(rel.Variants, co)
				first, second := co, ca
				if canaryFirst {
					first, second = ca, co
				}
				pos := b - lo[first]
				if owner == second {
					pos = weights[first] + b - lo[second]
				}
				pool := weights[ca] + weights[co]
				s = min(s, pool)
				owner = co
				if canaryFirst && pos < s || !canaryFirst && pos >= pool-s {
					owner = ca
				}
			}
		}
		return Decision{Release: name, Variant: owner, Rule: rn, Bucket: b, Reason: ReasonSplit}
	}
	return Decision{Release: name, Variant: def, Bucket: -1, Reason: ReasonDefault}
}

func TestRouteMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	configs, requests := scaled(400, 10), 300
	seen := map[Reason]int{}
	condFails := map[int]int{}
	defer func() {
		// The generator must reach every outcome, or this test proves little.
		for _, r := range []Reason{ReasonWhitelist, ReasonRule, ReasonSplit, ReasonDefault, ReasonUnknownRelease} {
			require.Greater(t, seen[r], scaled(100, 10), "reason %v seen %d times", r, seen[r])
		}
		for j := range 4 {
			require.Greater(t, condFails[j], scaled(100, 10), "condition %d failed %d times", j, condFails[j])
		}
	}()
	for i := range configs {
		cfg := genConfig(rng)
		r, err := New(cfg)
		require.NoError(t, err, "config %d: %+v", i, cfg)
		for range requests {
			q := genRequest(rng)
			for _, name := range []string{"rel-0", "rel-1", "rel-2", "nope"} {
				want := refRoute(&cfg, name, q, -1)
				got := r.Route(name, q)
				require.Equal(t, want, got, "config %d release %s request %+v", i, name, q)
				ex := r.Explain(name, q)
				require.Equal(t, got, ex.Decision, "Explain differs from Route")
				seen[got.Reason]++
				for _, s := range ex.Steps {
					condFails[s.Condition]++
				}
				if got.Reason != ReasonUnknownRelease {
					checkSteps(t, &cfg, name, q, ex)
				}
			}
		}
	}
}

// checkSteps verifies the Explain trace: one step per rule tried, the last
// matched iff a rule decided, the failing condition really fails and every
// one before it holds.
func checkSteps(t *testing.T, cfg *Config, name string, q Request, ex Explanation) {
	t.Helper()
	rel := cfg.Releases[name]
	for i, s := range ex.Steps {
		ru := rel.Rules[i]
		last := i == len(ex.Steps)-1
		require.Equal(t, last && ex.Decision.Rule != "", s.Matched, "step %d %+v", i, s)
		if s.Condition >= 0 {
			require.False(t, refCond(ru.When[s.Condition], q))
			for j := 0; j < s.Condition; j++ {
				require.True(t, refCond(ru.When[j], q))
			}
		} else if !s.Matched {
			require.NotContains(t, ru.Keys, q.Key)
		}
	}
	if ex.Decision.Rule == "" {
		require.Len(t, ex.Steps, len(rel.Rules))
	}
}

func TestVersionCompareMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range scaled(200_000, 20) {
		a, b := genVersion(rng, rng.IntN(4) > 0), genVersion(rng, rng.IntN(4) > 0)
		if rng.IntN(4) == 0 {
			b = a // equal inputs, and near-equal after mutation below
			if rng.IntN(2) == 0 && len(b) > 0 {
				b = "v" + b
			}
		}
		va, oka := parseVersion(a)
		ra, roka := refParseVersion(a)
		require.Equal(t, roka, oka, "parse %q", a)
		vb, okb := parseVersion(b)
		rb, rokb := refParseVersion(b)
		require.Equal(t, rokb, okb, "parse %q", b)
		if oka && okb {
			require.Equal(t, refCompareVersions(ra, rb), compareVersions(&va, &vb), "compare %q %q", a, b)
			require.Equal(t, -compareVersions(&va, &vb), compareVersions(&vb, &va), "antisymmetry %q %q", a, b)
		}
	}
}

func TestVersionOrderIsTotal(t *testing.T) {
	// Sorting random versions with compareVersions must give an order the
	// reference agrees with pairwise (transitivity, not just pairs).
	rng := rand.New(rand.NewPCG(5, 6))
	var vs []version
	var rs []refVersion
	for len(vs) < scaled(2000, 4) {
		s := genVersion(rng, true)
		v, ok := parseVersion(s)
		if !ok {
			continue
		}
		r, _ := refParseVersion(s)
		vs = append(vs, v)
		rs = append(rs, r)
	}
	idx := make([]int, len(vs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return compareVersions(&vs[a], &vs[b]) })
	for i := 1; i < len(idx); i++ {
		require.LessOrEqual(t, refCompareVersions(rs[idx[i-1]], rs[idx[i]]), 0)
	}
}

func TestNumberParseMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	alphabet := "0123456789.eE+-x "
	for range scaled(200_000, 20) {
		var b strings.Builder
		n := rng.IntN(12)
		for range n {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		s := b.String()
		if rng.IntN(3) == 0 {
			s = genNumber(rng)
		}
		f, ok := parseNumber(s)
		rf, rok := refParseNumber(s)
		require.Equal(t, rok, ok, "%q", s)
		if ok {
			require.Equal(t, 0, rf.Cmp(decimalRat(&f)), "%q: %v vs %v", s, rf, decimalRat(&f))
		}
	}
}
