package grayroute

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// exactRat is the decimal a threshold was written as: the shortest decimal
// that reads back as the same float64 (0.01 is 1/100, not the binary
// fraction nearest to it).
func exactRat(f float64) *big.Rat {
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
	if !ok { // not reachable for the finite values New accepts
		r = new(big.Rat)
		r.SetFloat64(f)
	}
	return r
}

// clampErrors is h's error count within 0..Requests.
func clampErrors(h Health) int64 { return min(max(h.Errors, 0), max(h.Requests, 0)) }

// errorRate is h's error rate as an exact fraction (0 without requests).
func errorRate(h Health) *big.Rat {
	if h.Requests <= 0 {
		return new(big.Rat)
	}
	return new(big.Rat).SetFrac(big.NewInt(clampErrors(h)), big.NewInt(h.Requests))
}

// gateFails returns why the canary fails the gate against the control, or
// "". Both comparisons are exact: the counts as fractions and the
// thresholds as the decimals written in the config, so a value exactly at
// a threshold passes and only one above it fails.
func gateFails(g Gate, c, k Health) string {
	rc, rk := errorRate(c), errorRate(k)
	inc := new(big.Rat).Sub(rc, rk)
	if inc.Cmp(exactRat(g.MaxErrorRateIncrease)) > 0 {
		fc, _ := rc.Float64()
		fk, _ := rk.Float64()
		return fmt.Sprintf("error rate %.4f vs control %.4f (max increase %v)", fc, fk, g.MaxErrorRateIncrease)
	}
	if k.P99 > 0 {
		limit := new(big.Rat).Mul(exactRat(g.MaxP99Ratio), new(big.Rat).SetInt64(int64(k.P99)))
		if new(big.Rat).SetInt64(int64(c.P99)).Cmp(limit) > 0 {
			return fmt.Sprintf("p99 %v vs control %v (max ratio %v)", c.P99, k.P99, g.MaxP99Ratio)
		}
	}
	return ""
}

// earlyAbortAlpha bounds each side's error of the early abort over every
// look: the canary's test and the control's bound each err with
// probability at most earlyAbortAlpha for the whole step, however many
// Ticks look at it (a union bound over sample sizes, see klBound).
const earlyAbortAlpha = 1e-4

// kl is the Kullback-Leibler divergence of Bernoulli(q) from Bernoulli(p).
func kl(q, p float64) float64 {
	d := 0.0
	if q > 0 {
		d += q * math.Log(q/p)
	}
	if q < 1 {
		d += (1 - q) * math.Log((1-q)/(1-p))
	}
	return d
}

// klLevel is the divergence n observations need before a Chernoff tail
// bound rejects at sample size n: log(n(n+1)/alpha)/n. Spending alpha/(n(n+1))
// at sample size n sums to alpha over all n, so the test holds under any
// number of looks (a Tick that sees the same n again looks at the same
// evidence).
func klLevel(n int64) float64 {
	nf := float64(n)
	return math.Log(nf*(nf+1)/earlyAbortAlpha) / nf
}

// klUpper is the anytime upper confidence bound of the error rate of
// errors out of n: the largest p with KL(errors/n, p) ≤ klLevel(n)
// (1 without requests).
func klUpper(errors, n int64) float64 {
	if n <= 0 {
		return 1
	}
	q := float64(errors) / float64(n)
	level := klLevel(n)
	lo, hi := q, 1.0
	if kl(q, hi) <= level {
		return 1
	}
	for range 60 {
		mid := (lo + hi) / 2
		if kl(q, mid) <= level {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// earlyAbort returns why a canary that has not yet reached min_samples
// must roll back now, or "". Let b be the control's anytime upper bound
// (klUpper; 0 for a control without requests, as in the gate): the canary
// rolls back when its errors reject "rate ≤ b + max_error_rate_increase"
// with a Chernoff tail bound at level alpha/(n(n+1)) for its n requests.
// So a healthy canary (rate within the allowed increase of the control's)
// rolls back early with probability at most 2·earlyAbortAlpha per step
// whatever the number of Ticks (requests taken as independent trials), while a plainly failing one rolls back
// within a few requests (4 at 100 % errors, a median of 11 at 50 %, against a
// 1 % control). p99 is not judged early.
func earlyAbort(g Gate, c, k Health) string {
	n := c.Requests
	if n <= 0 {
		return ""
	}
	x := clampErrors(c)
	hk := 0.0
	if k.Requests > 0 {
		hk = klUpper(clampErrors(k), k.Requests)
	}
	p0 := hk + g.MaxErrorRateIncrease
	if !rejects(x, n, p0) {
		return ""
	}
	return fmt.Sprintf("early abort before min_samples: %d errors in %d canary requests vs control %d in %d (canary error rate surely above %.4f, the control's bound %.4f plus max increase %v)",
		x, n, clampErrors(k), max(k.Requests, 0), p0, hk, g.MaxErrorRateIncrease)
}

// rejects reports whether x errors in n requests reject "error rate ≤ p0"
// at level earlyAbortAlpha/(n(n+1)) (a Chernoff bound on the binomial tail).
func rejects(x, n int64, p0 float64) bool {
	if n <= 0 || p0 >= 1 {
		return false
	}
	q := float64(x) / float64(n)
	return q > p0 && kl(q, p0) >= klLevel(n)
}
