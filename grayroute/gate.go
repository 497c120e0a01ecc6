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

// earlyAbortZ is the z-score of the early abort's bounds: each one-sided
// bound errs with probability about 3e-5.
const earlyAbortZ = 4.0

// wilson returns the Wilson score interval of errors out of n at z.
func wilson(errors, n int64, z float64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	nf := float64(n)
	p := float64(errors) / nf
	z2 := z * z
	den := 1 + z2/nf
	mid := (p + z2/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf)) / den
	return max(mid-half, 0), min(mid+half, 1)
}

// earlyAbort returns why a canary that has not yet reached min_samples
// must roll back now, or "": when even the lower bound of its error rate
// (Wilson score, z = 4) exceeds the upper bound of the control's (0 for a
// control without requests, as in the gate) by more than
// max_error_rate_increase. A canary that is plainly failing thus rolls
// back within a few requests; one that is merely a little worse waits for
// min_samples and the exact gate. p99 is not judged early.
func earlyAbort(g Gate, c, k Health) string {
	if c.Requests <= 0 {
		return ""
	}
	lc, _ := wilson(clampErrors(c), c.Requests, earlyAbortZ)
	hk := 0.0
	if k.Requests > 0 {
		_, hk = wilson(clampErrors(k), k.Requests, earlyAbortZ)
	}
	if lc-hk > g.MaxErrorRateIncrease {
		return fmt.Sprintf("early abort before min_samples: %d errors in %d canary requests vs control %d in %d (error rate surely %.4f above, max increase %v)",
			clampErrors(c), c.Requests, clampErrors(k), max(k.Requests, 0), lc-hk, g.MaxErrorRateIncrease)
	}
	return ""
}
