package overload

import "math"

// This file is what a Controller learns from upstream Gates: a Gate that
// sheds in front of the service hides the demand above its level, and the
// Controller must not take the traffic it sees for all there is.

// ObserveGate reports that the next request (passed to Acquire or Admit)
// came through an upstream Gate enforcing level l, which refused held
// requests for this service since its previous report (Gate.Enforced gives
// both). Middleware calls it for requests carrying the GateLevelHeader,
// which RoundTripper sets; callers that pair a Gate with Acquire or Admit
// themselves should call it before each request the Gate let through, with
// what Gate.Enforced returned (skip it when that returns false).
//
// Without it, a window in which most arrivals came filtered through a Gate
// looks like demand at about the capacity, the level reopens fully, the Gate
// then sends everything, and the most important requests wait behind a
// window of work that times out. With it, the Controller adds the held
// requests to the demand it judges, and raises the level in steps sized by
// the demand density it sees below the Gate's level (see "Upstream Gates"
// in the package documentation). An open level is ignored; a negative held
// counts as 0 and a larger one than 65,536 as 65,536.
func (c *Controller) ObserveGate(l Level, held int64) {
	if !c.ready() || l.IsOpen() {
		return
	}
	c.gated.Add(1)
	if held > 0 {
		c.hidden.Add(min(held, maxHeld))
	}
	key := uint32(l.key())
	for {
		old := c.gateMin.Load()
		if key >= old || c.gateMin.CompareAndSwap(old, key) {
			return
		}
	}
}

// maxHeld bounds one report's held count (a forged header cannot make the
// demand look arbitrarily large).
const maxHeld = 1 << 16

// gatedShare: the demand above the lowest Gate level is taken as hidden
// when at least 1/gatedShare of a window's arrivals came through a Gate
// enforcing a closed level.
const gatedShare = 2

// truncation returns the key above which the window's histogram is
// incomplete (keyOpen: complete), the number of gated arrivals and the
// requests upstream Gates held back.
func (c *Controller) truncation(arrivals int64) (trunc uint16, gated, hidden int64) {
	gated, hidden = c.gated.Swap(0), c.hidden.Swap(0)
	low := uint16(c.gateMin.Swap(keyOpen))
	if gated == 0 || gated*gatedShare < arrivals {
		return keyOpen, gated, hidden
	}
	return low, gated, hidden
}

// riseLevel is ceilLevel for a histogram that is complete only up to the
// key trunc (keyOpen: complete). Above trunc the demand is extrapolated at
// the density per user level seen in trunc's business class (user levels
// are uniform, being a hash), so a rise admits about want requests instead
// of jumping to open because the cells an upstream Gate filtered out are
// empty. The density is taken at its upper bound (so a rise errs small),
// and a rise stops at the end of trunc's class. Where no density is known
// (the next class, or a class with few arrivals), the hidden requests the
// Gates held back bound it: they are at most all in that class. A rise past
// the highest business class seen (probes show it) opens, and so does one
// that admits the whole demand (what arrived plus the hidden requests).
// With nothing held back the view is complete: ceilLevel.
func riseLevel(hist []bucket, want uint64, cur, trunc uint16, hidden uint64) uint16 {
	if trunc == keyOpen || len(hist) == 0 {
		return ceilLevel(hist, want, cur)
	}
	var total uint64
	for _, b := range hist {
		total += uint64(b.n)
	}
	if want >= total+hidden {
		return keyOpen // the whole demand, held back or not, fits
	}
	span := uint64(UserLevels)
	for _, b := range hist {
		if uint64(b.key&0xFF) >= span {
			span = 256
			break
		}
	}
	class, user := uint64(trunc>>8), min(uint64(trunc&0xFF), span-1)
	var sum, inClass uint64
	for _, b := range hist {
		if b.key > trunc {
			break
		}
		sum += uint64(b.n)
		if uint64(b.key>>8) == class {
			inClass += uint64(b.n)
		}
		if sum >= want {
			return max(b.key, cur)
		}
	}
	if hidden == 0 {
		return ceilLevel(hist, want, cur) // nothing held back: the view is complete
	}
	extra := float64(want - sum)
	var pos uint64
	switch left := span - 1 - user; {
	case left == 0:
		// At the end of trunc's class. The next class's volume is
		// unknown (business classes differ widely), but it is at most
		// what the Gates held back: spread over the class, that bounds
		// its density, and a step sized by it admits at most extra.
		steps := uint64(extra * float64(span) / float64(hidden))
		pos = (class+1)*span + min(steps, span-1)
	case inClass >= minDensityCount:
		// The density's upper bound (densitySigmas standard deviations
		// of a Poisson count): an overestimate only makes the rise
		// smaller, while an underestimate overshoots into the queue.
		// It stops at the class's end.
		n := float64(inClass)
		density := (n + densitySigmas*math.Sqrt(n)) / float64(user+1)
		pos = class*span + user + min(max(1, uint64(extra/density+0.999)), left)
	default:
		// Too few arrivals in the class for a density: the rest of the
		// class holds at most what was held back.
		steps := uint64(extra * float64(left) / float64(hidden))
		pos = class*span + user + min(max(1, steps), left)
	}
	top := uint64(hist[len(hist)-1].key >> 8)
	if nb := pos / span; nb > top || nb > 255 {
		return keyOpen
	}
	key := uint16(pos/span)<<8 | uint16(pos%span)
	return max(key, cur)
}

// minDensityCount: fewer arrivals than this in trunc's class give no
// density (the held-back count bounds it instead); densitySigmas is how
// far above the measured density a rise assumes it.
const (
	minDensityCount = 4
	densitySigmas   = 2
)
