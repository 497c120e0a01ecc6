package grayroute

import (
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// refDecimal is the decimal text of f as an integer fraction p/q.
func refDecimal(f float64) (p, q *big.Int) {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	q = big.NewInt(1)
	if i := strings.IndexByte(s, '.'); i >= 0 {
		q.Exp(big.NewInt(10), big.NewInt(int64(len(s)-i-1)), nil)
		s = s[:i] + s[i+1:]
	}
	p, _ = new(big.Int).SetString(s, 10)
	return p, q
}

// refGateFails is the gate by integer cross-multiplication:
// (ce·kn − ke·cn)·q > p·cn·kn for the error rates, c99·q > p·k99 for p99.
func refGateFails(g Gate, c, k Health) bool {
	bi := big.NewInt
	ce, cn := bi(clampErrors(c)), bi(c.Requests)
	ke, kn := bi(clampErrors(k)), bi(max(k.Requests, 1))
	if k.Requests <= 0 {
		ke = bi(0)
	}
	p, q := refDecimal(g.MaxErrorRateIncrease)
	lhs := new(big.Int).Sub(new(big.Int).Mul(ce, kn), new(big.Int).Mul(ke, cn))
	lhs.Mul(lhs, q)
	rhs := new(big.Int).Mul(p, new(big.Int).Mul(cn, kn))
	if lhs.Cmp(rhs) > 0 {
		return true
	}
	if k.P99 <= 0 {
		return false
	}
	p, q = refDecimal(g.MaxP99Ratio)
	return new(big.Int).Mul(bi(int64(c.P99)), q).Cmp(new(big.Int).Mul(p, bi(int64(k.P99)))) > 0
}

// TestGateExactAtThreshold: random thresholds written as short decimals and
// random counts placed exactly at the limit, one below and one above it
// (error rates and p99). At the limit and below the gate passes; above it
// fails; every case agrees with integer cross-multiplication.
func TestGateExactAtThreshold(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 11))
	atLimit := 0
	for range scaled(20000, 10) {
		// max increase d/100 or d/1000; counts multiples that put the
		// canary exactly at control + max.
		den := []int64{100, 1000, 10000}[rng.IntN(3)]
		d := 1 + rng.Int64N(den/10)
		inc, _ := new(big.Rat).SetFrac64(d, den).Float64()
		m := 1 + rng.Int64N(50)
		cn := den * m
		kn := den * (1 + rng.Int64N(50))
		ke := rng.Int64N(kn / 4)
		// ce/cn = ke/kn + d/den  <=>  ce = (ke*cn + d*m*kn)/kn: exact when kn | ke*cn.
		num := ke*cn + d*m*kn
		ce := num / kn
		exact := num%kn == 0
		ratio, _ := new(big.Rat).SetFrac64(100+rng.Int64N(200), 100).Float64()
		k99 := time.Duration(100 * (1 + rng.Int64N(1000)))
		g := Gate{MaxErrorRateIncrease: inc, MaxP99Ratio: ratio}
		for _, dc := range []int64{-1, 0, 1} {
			if ce+dc < 0 || ce+dc > cn {
				continue
			}
			c := Health{Requests: cn, Errors: ce + dc, P99: k99}
			k := Health{Requests: kn, Errors: ke, P99: k99}
			got := gateFails(g, c, k) != ""
			require.Equal(t, refGateFails(g, c, k), got, "%+v %+v %+v", g, c, k)
			if exact && dc == 0 {
				atLimit++
				require.False(t, got, "exactly at the limit rolls back: %+v %+v %+v", g, c, k)
			}
			if dc == 1 {
				require.True(t, got, "above the limit passes: %+v %+v %+v", g, c, k)
			}
		}
		// p99 exactly at ratio × control, and 1 ns above.
		p, q := refDecimal(ratio)
		lim := new(big.Int).Mul(p, big.NewInt(int64(k99)))
		if new(big.Int).Mod(lim, q).Sign() == 0 {
			c99 := time.Duration(new(big.Int).Div(lim, q).Int64())
			k := Health{Requests: kn, P99: k99}
			require.Empty(t, gateFails(g, Health{Requests: cn, P99: c99}, k), "p99 at the limit: %v vs %v × %v", c99, ratio, k99)
			require.NotEmpty(t, gateFails(g, Health{Requests: cn, P99: c99 + 1}, k))
		}
	}
	require.Greater(t, atLimit, scaled(20000, 10)/10, "the generator must hit the limit exactly")
}

// binomial draws the number of successes in n trials of probability p.
func binomial(rng *rand.Rand, n int64, p float64) int64 {
	var k int64
	for range n {
		if rng.Float64() < p {
			k++
		}
	}
	return k
}

// TestEarlyAbortIsSafeAndFast: a canary as healthy as its control (same
// true error rate, random rates and sizes, sampled) never aborts early, in
// thousands of draws; a canary whose true error rate is 50 points above the
// control's plus the allowed increase aborts once it has a few hundred
// requests (the anytime bound pays for being valid at every look; see
// TestEarlyAbortSpeed for the catastrophic cases), and the glaring
// case (999 of 999 failing) aborts.
func TestEarlyAbortIsSafeAndFast(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 12))
	for range scaled(4000, 8) {
		p := rng.Float64() * 0.3
		g := Gate{MaxErrorRateIncrease: []float64{0.001, 0.01, 0.05}[rng.IntN(3)]}
		cn, kn := 1+rng.Int64N(2000), 1+rng.Int64N(4000)
		c := Health{Requests: cn, Errors: binomial(rng, cn, p)}
		k := Health{Requests: kn, Errors: binomial(rng, kn, p)}
		require.Empty(t, earlyAbort(g, c, k), "healthy canary aborted: p %.3f %+v %+v", p, c, k)
	}
	for range scaled(2000, 8) {
		p := rng.Float64() * 0.3
		g := Gate{MaxErrorRateIncrease: []float64{0.001, 0.01, 0.05}[rng.IntN(3)]}
		cn, kn := 300+rng.Int64N(2000), 200+rng.Int64N(4000)
		c := Health{Requests: cn, Errors: binomial(rng, cn, min(p+g.MaxErrorRateIncrease+0.5, 1))}
		k := Health{Requests: kn, Errors: binomial(rng, kn, p)}
		require.NotEmpty(t, earlyAbort(g, c, k), "failing canary not aborted: p %.3f %+v %+v", p, c, k)
	}
	g := Gate{MaxErrorRateIncrease: DefaultMaxErrorRateIncrease}
	require.NotEmpty(t, earlyAbort(g, Health{Requests: 999, Errors: 999}, Health{Requests: 100000}))
	require.NotEmpty(t, earlyAbort(g, Health{Requests: 49999, Errors: 49999}, Health{Requests: 5000000}))
}

// Finding 9: a gate threshold is compared as the decimal written. Random
// decimals of 1..20 significant digits (leading and trailing zeros,
// exponents) as max_error_rate_increase and max_p99_ratio: up to 15
// significant digits they are accepted and the gate's exact value equals
// the literal; beyond, ParseConfig refuses them with the field's path (the
// reviewer's 0.00999999999999999999 among them).
func TestGateThresholdDigits(t *testing.T) {
	cfgWith := func(field, lit string) string {
		return `{"releases":{"r":{"variants":["stable","canary"],"rules":[{"name":"all","split":{"stable":5000,"canary":5000}}],
		"plan":{"canary":"canary","control":"stable","steps":[{"share":100}],"gate":{"` + field + `":` + lit + `}}}}}`
	}
	_, err := ParseConfig([]byte(cfgWith("max_error_rate_increase", "0.00999999999999999999")))
	require.ErrorIs(t, err, ErrInvalidConfig)
	require.ErrorContains(t, err, "releases.r.plan.gate.max_error_rate_increase")
	_, err = ParseConfig([]byte(cfgWith("max_p99_ratio", "1.19999999999999999999")))
	require.ErrorContains(t, err, "releases.r.plan.gate.max_p99_ratio")

	rng := rand.New(rand.NewPCG(18, 9))
	accepted, refused := 0, 0
	for range scaled(20000, 10) {
		digits := 1 + rng.IntN(20)
		var sb strings.Builder
		sb.WriteByte(byte('1' + rng.IntN(9)))
		for i := 1; i < digits; i++ {
			d := byte('0' + rng.IntN(10))
			if i == digits-1 && d == '0' {
				d = '7'
			}
			sb.WriteByte(d)
		}
		mant := sb.String()
		field, exp := "max_error_rate_increase", -digits-rng.IntN(8) // value < 1
		if rng.IntN(2) == 0 {
			field, exp = "max_p99_ratio", -digits+1+rng.IntN(6) // value in 1..1e6
		}
		lit := mant + "e" + strconv.Itoa(exp)
		switch rng.IntN(3) { // the same number written as a plain decimal
		case 0:
			r, _ := new(big.Rat).SetString(lit)
			lit = r.FloatString(max(-exp, 0)) + strings.Repeat("0", rng.IntN(3))
			if !strings.Contains(lit, ".") {
				lit += ".0"
			}
		case 1:
			lit = "0" + mant[:1] + "." + mant[1:] + "0e" + strconv.Itoa(exp+digits-1)
			lit = strings.TrimPrefix(lit, "0")
		}
		want, ok := new(big.Rat).SetString(lit)
		require.True(t, ok, lit)
		cfg, err := ParseConfig([]byte(cfgWith(field, lit)))
		if digits > maxSigDigits {
			require.ErrorIs(t, err, ErrInvalidConfig, lit)
			require.ErrorContains(t, err, "releases.r.plan.gate."+field, lit)
			refused++
			continue
		}
		require.NoError(t, err, lit)
		g := cfg.Releases["r"].Plan.Gate
		f := g.MaxErrorRateIncrease
		if field == "max_p99_ratio" {
			f = g.MaxP99Ratio
		}
		require.Zero(t, exactRat(f).Cmp(want), "%s read back as %v", lit, f)
		accepted++
	}
	require.Positive(t, accepted)
	require.Positive(t, refused)
}
