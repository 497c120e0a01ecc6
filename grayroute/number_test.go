package grayroute

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// genCloseNumbers returns two numbers of the grammar that differ in their
// last digits only, possibly beyond float64's precision, written in
// different but equal ways (leading/trailing zeros, exponents, signs).
func genCloseNumbers(rng *rand.Rand) (string, string) {
	nd := 1 + rng.IntN(25)
	if rng.IntN(2) == 0 {
		nd = 16 + rng.IntN(10) // beyond float64
	}
	var b strings.Builder
	for i := range nd {
		d := byte('0' + rng.IntN(10))
		if i == 0 && d == '0' {
			d = '1'
		}
		b.WriteByte(d)
	}
	x := []byte(b.String())
	y := append([]byte(nil), x...)
	switch rng.IntN(3) {
	case 0: // equal
	case 1:
		if y[nd-1] < '9' {
			y[nd-1]++
		}
	case 2:
		if y[nd-1] > '0' {
			y[nd-1]--
		}
	}
	write := func(ds []byte) string {
		point := rng.IntN(len(ds) + 1)
		s := string(ds[:point]) + "." + string(ds[point:])
		if point == len(ds) && rng.IntN(2) == 0 {
			s = string(ds)
		}
		if rng.IntN(3) == 0 {
			s = "00" + s
		}
		if rng.IntN(3) == 0 && strings.Contains(s, ".") {
			s += "000"
		}
		if len(strings.Trim(s, ".")) > maxNumberDigits {
			s = string(ds)
		}
		return s
	}
	sign := ""
	if rng.IntN(3) == 0 {
		sign = "-"
	}
	return sign + write(x), sign + write(y)
}

// TestNumCompareIsExact: num_* conditions on random pairs of numbers that
// agree to 15-25 significant digits (beyond float64) compare exactly like
// math/big.Rat, through Route.
func TestNumCompareIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 9))
	ops := []string{"num_lt", "num_lte", "num_gt", "num_gte"}
	floatWrong := 0
	for range scaled(3000, 3) {
		a, b := genCloseNumbers(rng)
		if rng.IntN(2) == 0 {
			a, b = b, a
		}
		op := ops[rng.IntN(len(ops))]
		cfg := Config{Releases: map[string]Release{"r": {Variants: []string{"no", "yes"},
			Rules: []Rule{{When: []Condition{{Attr: "n", Op: op, Value: genValue(b)}}, Variant: "yes"}}}}}
		r, err := New(cfg)
		require.NoError(t, err, "%s %s", op, b)
		ra, ok := refParseNumber(a)
		require.True(t, ok, a)
		rb, _ := refParseNumber(b)
		c := ra.Cmp(rb)
		want := map[string]bool{"num_lt": c < 0, "num_lte": c <= 0, "num_gt": c > 0, "num_gte": c >= 0}[op]
		got := r.Route("r", Request{Key: "k", Attrs: map[string]string{"n": a}}).Variant == "yes"
		require.Equal(t, want, got, "%s %s %s", a, op, b)
		fa, _ := ra.Float64()
		fb, _ := rb.Float64()
		if (fa < fb) != (c < 0) {
			floatWrong++
		}
	}
	require.Greater(t, floatWrong, 0, "the generator must reach pairs float64 gets wrong")
}

func TestNumExamples(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"9007199254740993", "9007199254740992", 1},
		{"0.3", "0.30000000000000001", -1},
		{"-0", "0.000", 0},
		{"1e2", "100.0", 0},
		{"-1.5", "-1.49999999999999999999", -1},
		{"12.5e-1", "1.25", 0},
	} {
		x, ok1 := parseNumber(c.a)
		y, ok2 := parseNumber(c.b)
		require.True(t, ok1 && ok2)
		require.Equal(t, c.want, compareDecimals(&x, &y), fmt.Sprint(c))
	}
}
