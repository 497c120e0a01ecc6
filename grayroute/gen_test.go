package grayroute

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// Random configurations and requests for the generative tests. Values come
// from small pools so that conditions match often enough to exercise every
// branch.

var (
	genAttrs     = []string{"platform", "region", "version", "n", "idc"}
	genStrings   = []string{"ios", "android", "web", "sz", "sh", "gz", "", "IOS", "io"}
	genVariants  = []string{"stable", "canary", "exp-a", "exp_b"}
	genIdents    = []string{"alpha", "beta", "rc", "1", "01", "2", "10", "x-y", "0"}
	genStringOps = []string{"eq", "neq", "prefix", "suffix", "contains"}
	genNumOps    = []string{"num_lt", "num_lte", "num_gt", "num_gte"}
	genVerOps    = []string{"version_lt", "version_lte", "version_gt", "version_gte", "version_eq"}
)

func genVersion(rng *rand.Rand, valid bool) string {
	if !valid && rng.IntN(3) == 0 {
		bad := []string{"", "v", "8..1", "1.2.3.4.5", " 1.2", "1.2-", "1.2+", "1.x", "1234567890", "1.2-a..b", "-1", "v-1", "1_2", "1.2.3-é"}
		return bad[rng.IntN(len(bad))]
	}
	var b strings.Builder
	switch rng.IntN(6) {
	case 0:
		b.WriteByte('v')
	case 1:
		b.WriteByte('V')
	}
	n := 1 + rng.IntN(4)
	for i := range n {
		if i > 0 {
			b.WriteByte('.')
		}
		switch rng.IntN(8) {
		case 0:
			b.WriteString(strconv.Itoa(rng.IntN(999_999_999) + 1))
		case 1:
			b.WriteString("0" + strconv.Itoa(rng.IntN(10)))
		default:
			b.WriteString(strconv.Itoa(rng.IntN(12)))
		}
	}
	if rng.IntN(3) == 0 {
		b.WriteByte('-')
		k := 1 + rng.IntN(3)
		for i := range k {
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(genIdents[rng.IntN(len(genIdents))])
		}
	}
	if rng.IntN(5) == 0 {
		b.WriteString("+build." + strconv.Itoa(rng.IntN(100)))
	}
	return b.String()
}

func genNumber(rng *rand.Rand) string {
	switch rng.IntN(6) {
	case 0:
		return strconv.FormatFloat(rng.NormFloat64()*100, 'f', rng.IntN(3), 64)
	case 1:
		return strconv.Itoa(rng.IntN(20) - 5)
	case 2:
		return fmt.Sprintf("%de%d", rng.IntN(9), rng.IntN(3))
	default:
		return strconv.Itoa(rng.IntN(10))
	}
}

func genValue(s string) *Value { v := Value(s); return &v }

func genCond(rng *rand.Rand) Condition {
	attr := genAttrs[rng.IntN(len(genAttrs))]
	switch rng.IntN(6) {
	case 0:
		return Condition{Attr: attr, Op: genStringOps[rng.IntN(len(genStringOps))], Value: genValue(genStrings[rng.IntN(len(genStrings))])}
	case 1:
		op := "in"
		if rng.IntN(3) == 0 {
			op = "not_in"
		}
		k := 1 + rng.IntN(12) // beyond 8 values the set is a map
		vals := make([]Value, k)
		for i := range vals {
			if rng.IntN(2) == 0 {
				vals[i] = Value(genStrings[rng.IntN(len(genStrings))])
			} else {
				vals[i] = Value(strconv.Itoa(rng.IntN(30)))
			}
		}
		return Condition{Attr: attr, Op: op, Values: vals}
	case 2:
		return Condition{Attr: attr, Op: genNumOps[rng.IntN(len(genNumOps))], Value: genValue(genNumber(rng))}
	case 3:
		return Condition{Attr: attr, Op: genVerOps[rng.IntN(len(genVerOps))], Value: genValue(genVersion(rng, true))}
	case 4:
		k := 1 + rng.IntN(3)
		vals := make([]Value, k)
		for i := range vals {
			vals[i] = Value(fmt.Sprintf("%0*d", 1+rng.IntN(3), rng.IntN(100)))
		}
		return Condition{Op: "key_tail", Values: vals}
	default:
		lo := rng.Uint64N(1000)
		hi := lo + rng.Uint64N(1000)
		return Condition{Op: "key_range", Min: genValue(strconv.FormatUint(lo, 10)), Max: genValue(strconv.FormatUint(hi, 10))}
	}
}

func genSplit(rng *rand.Rand, variants []string) map[string]int {
	m := map[string]int{}
	left := Buckets
	perm := rng.Perm(len(variants))
	for i, p := range perm {
		if i == len(perm)-1 {
			m[variants[p]] = left
			break
		}
		if rng.IntN(4) == 0 {
			continue
		}
		w := rng.IntN(left + 1)
		m[variants[p]] = w
		left -= w
	}
	return m
}

func genRelease(rng *rand.Rand) Release {
	nv := 1 + rng.IntN(len(genVariants))
	variants := append([]string(nil), genVariants[:nv]...)
	rng.Shuffle(len(variants), func(i, j int) { variants[i], variants[j] = variants[j], variants[i] })
	r := Release{Variants: variants}
	if rng.IntN(2) == 0 {
		r.Salt = fmt.Sprintf("salt-%d", rng.IntN(1000))
	}
	if rng.IntN(3) == 0 {
		r.Default = variants[rng.IntN(nv)]
	}
	if rng.IntN(4) == 0 {
		r.Hash = "v1"
	}
	nr := rng.IntN(9)
	for i := range nr {
		ru := Rule{}
		if rng.IntN(3) > 0 {
			ru.Name = fmt.Sprintf("r%d", i)
		}
		if rng.IntN(5) == 0 {
			k := 1 + rng.IntN(12)
			for range k {
				ru.Keys = append(ru.Keys, genKey(rng))
			}
			for j, key := range ru.Keys {
				if key == "" {
					ru.Keys[j] = "k"
				}
			}
		}
		nc := rng.IntN(5)
		for range nc {
			ru.When = append(ru.When, genCond(rng))
		}
		if rng.IntN(2) == 0 {
			ru.Variant = variants[rng.IntN(nv)]
		} else {
			ru.Split = genSplit(rng, variants)
		}
		r.Rules = append(r.Rules, ru)
	}
	if nv >= 2 && rng.IntN(3) == 0 {
		genPlan(rng, &r)
	}
	return r
}

// genPlan adds a valid plan (canary and control two random variants, in
// either order, other arms possibly between them) if some split can carry
// it.
func genPlan(rng *rand.Rand, r *Release) {
	ix := rng.Perm(len(r.Variants))
	canary, control := r.Variants[ix[0]], r.Variants[ix[1]]
	pool := Buckets
	found := false
	for i := range r.Rules {
		sp := r.Rules[i].Split
		if sp == nil {
			continue
		}
		if _, ok := sp[canary]; !ok {
			continue
		}
		if _, ok := sp[control]; !ok {
			sp[control] = 0
		}
		found = true
		pool = min(pool, sp[canary]+sp[control])
	}
	if !found || pool < 1 {
		return
	}
	n := 1 + rng.IntN(min(4, pool))
	shares := rng.Perm(pool)[:n]
	for i := range shares {
		shares[i]++
	}
	sortInts(shares)
	pl := &Plan{Canary: canary, Control: control}
	for _, s := range shares {
		pl.Steps = append(pl.Steps, PlanStep{Share: s, Dwell: Duration(rng.IntN(3)) * Duration(1e9*60), MinSamples: int64(rng.IntN(3) * 100)})
	}
	r.Plan = pl
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

func genConfig(rng *rand.Rand) Config {
	c := Config{Releases: map[string]Release{}}
	n := 1 + rng.IntN(3)
	for i := range n {
		c.Releases[fmt.Sprintf("rel-%d", i)] = genRelease(rng)
	}
	return c
}

func genKey(rng *rand.Rand) string {
	switch rng.IntN(7) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("user-%d", rng.IntN(1000))
	case 2:
		return strconv.Itoa(rng.IntN(2000))
	case 3:
		return fmt.Sprintf("%08d", rng.IntN(100_000_000))
	case 4:
		return "k"
	case 5:
		return strings.Repeat("0", rng.IntN(25)) + strconv.Itoa(rng.IntN(50))
	default:
		return strconv.FormatUint(rng.Uint64(), 10)
	}
}

func genRequest(rng *rand.Rand) Request {
	q := Request{Key: genKey(rng), Attrs: map[string]string{}}
	for _, a := range genAttrs {
		switch rng.IntN(5) {
		case 0: // missing
		case 1:
			q.Attrs[a] = genVersion(rng, false)
		case 2:
			q.Attrs[a] = genNumber(rng)
		default:
			q.Attrs[a] = genStrings[rng.IntN(len(genStrings))]
		}
	}
	if rng.IntN(10) == 0 {
		q.Attrs = nil
	}
	return q
}

// scaled returns n, or n/div under the race detector or -short.
func scaled(n, div int) int {
	if raceOn || testing.Short() {
		return max(n/div, 1)
	}
	return n
}
