package overload

import "math"

// This file holds the unsynchronised core of DAGOR's level adaptation: given
// one window's histogram of arrivals per priority key, how the window went,
// and the current level, compute the next level. The Controller calls it once
// per window with its counters swapped out.

// DAGOR (Zhou et al., SoCC 2018, §4.2) moves the expected number of admitted
// requests down by alpha when a window was overloaded and up by beta when it
// was not, then walks the histogram's prefix sums to the level that admits
// that many.
const (
	alpha = 0.05 // decrease per overloaded window
	beta  = 0.01 // increase per normal window
)

// Bulwark's addition (see doc.go, "Reopening"): when a window's mean queuing
// time is below idleFraction of the threshold and fewer than 1/idleFraction
// of its requests had to wait at all, the queue is clearly idle and
// the expected admissions grow much faster: doubled, and by at least
// reopenShare of the window's arrivals, up to what the slots can run. DAGOR's +1 % alone needs minutes to
// climb back from a deep shed.
const (
	idleFraction = 4 // idle when mean queuing time < threshold / idleFraction
	reopenShare  = 4 // and at least total arrivals / reopenShare more
)

// marginShare: an overloaded window whose level admits at most (1 +
// margin) × what ran may be a load at capacity that had an unlucky window
// (see nextLevel), and a window that was not overloaded and saw at most
// that much demand reopens fully. Poisson arrivals of n a window vary by
// √n: the margin is three of those (0.106 at 800 a window, 0.15 at 400),
// at least marginShare and at most maxMargin, so that demand at twice the
// capacity never counts as noise.
const (
	marginShare = 0.10
	maxMargin   = 0.5
)

// margin returns the relative arrival noise tolerated for a window in which
// n requests ran.
func margin(n uint64) float64 {
	if n == 0 {
		return maxMargin
	}
	return min(maxMargin, max(marginShare, 3/math.Sqrt(float64(n))))
}

// keyOpen is the key of LevelOpen: every priority key is <= it.
const keyOpen = 0xFFFF

// bucket is one non-empty histogram cell.
type bucket struct {
	key uint16
	n   uint32
}

// windowVerdict is what a window says about load.
type windowVerdict uint8

const (
	verdictNormal windowVerdict = iota
	verdictOverloaded
	verdictIdle
	verdictLow      // not idle, but mean queuing time below half the threshold
	verdictDrained  // overloaded on average, but the queue has since drained
	verdictRefusing // refusals for a full queue, displacement or deadline beyond 1/refusalShare of the passed
	verdictGap      // the traffic went away for a window or more: reopen fully
	verdictMarginal // overloaded on average, but the queue ended within twice the threshold's share
)

// nextLevel returns the next admission level key. hist holds the window's
// non-empty cells in increasing key order; started is the number of requests
// that got a slot in the window (they may have arrived in the previous one).
//
// backlog is how many more requests are queued at the window's end than the
// queue holds at the threshold's mean wait (by Little's law); an overloaded
// window also cuts half of that, at most half of what ran, so a queue filled
// by a spike drains in the next window instead of keeping several windows
// overloaded. A backlog below minus half that queue means the queue has
// already drained under the last cut: the window was overloaded by its
// start, and the level holds rather than cutting again (verdictDrained).
//
// capacity is how many requests the slots can start in a window of this
// length, measured in saturated windows (0 if unknown); it caps the idle
// reopen.
//
// first says this window is the first overloaded one after a window that
// was not, with a mean wait within twice the threshold: if its level admits
// about what the slots run, it holds, and only a second such window cuts.
//
// trunc is the key above which the histogram is incomplete (keyOpen:
// complete), because most arrivals came through an upstream Gate enforcing
// that level, and hidden the requests such Gates held back: the demand is
// what arrived plus the hidden, and a rise extrapolates the demand above
// trunc (riseLevel).
func nextLevel(hist []bucket, cur uint16, started, backlog int64, capacity uint64, v windowVerdict, first bool, trunc uint16, hidden uint64) uint16 {
	var total, admitted uint64
	for _, b := range hist {
		total += uint64(b.n)
		if b.key <= cur {
			admitted += uint64(b.n)
		}
	}
	if total == 0 {
		return cur // nothing arrived: no information
	}
	ran := uint64(max(started, 0))
	if capacity > ran {
		ran = capacity
	}
	noise := 1 + margin(ran)
	nearCapacity := float64(admitted) <= float64(ran)*noise
	switch {
	case nearCapacity && v == verdictMarginal:
		// The mean wait was high, but the queue ended within twice
		// what the threshold allows and the level admits no more than
		// the slots ran, give or take arrival noise: a burst of a load
		// at capacity, not overload. Cutting here would shed at steady
		// 1×; demand above capacity builds a backlog within a window.
		return cur
	case nearCapacity && first && (v == verdictOverloaded || v == verdictRefusing):
		// Overloaded, but mildly (a mean wait within twice the
		// threshold), the level admits no more than the slots ran (give
		// or take arrival noise) and the window before was not
		// overloaded: one unlucky window of a load at capacity. Wait
		// for a second window before cutting. Demand clearly above
		// capacity is not near it and cuts at once; demand a little
		// above it overloads the next window too, which then cuts.
		return cur
	case v == verdictMarginal:
		v = verdictOverloaded
	}
	if (v == verdictIdle || v == verdictLow || v == verdictNormal) && capacity > 0 && float64(total+hidden) <= float64(capacity)*noise {
		// The mean wait was below the threshold and everything that
		// arrived, shed or not, is within arrival noise of what the slots
		// run: the demand is a load at capacity, not overload. Reopen
		// fully; rising towards the capacity by halves (or by DAGOR's
		// 1 %) would never quite get there, and would shed the least
		// important class for many windows after one unlucky window at
		// steady 1×.
		return keyOpen
	}
	switch v {
	case verdictDrained:
		// The queue emptied under the last cut, which was sized to drain a
		// spike's backlog: with the backlog gone, a level admitting less
		// than the steady cut (95 % of what the slots run) would leave them
		// idle for the next window. Rise to it; never cut here.
		if want := uint64(float64(ran) * (1 - alpha)); want > admitted {
			return riseLevel(hist, want, cur, trunc, hidden)
		}
		return cur
	case verdictOverloaded, verdictRefusing:
		// Base the cut on what actually ran, not on what passed the level:
		// when the level is open at 4x load, 4x passes it but 1x runs, and
		// cutting 5 % of 4x per window would take seconds of overload.
		// What ran is the slots' throughput only if they were busy all the
		// window; when the queue built up late in it, the measured capacity
		// is the better bound (cutting to 95 % of a half-idle window's
		// starts would cut far more than 5 %).
		n := min(admitted, ran)
		want := uint64(float64(n) * (1 - alpha))
		if backlog > 0 {
			// Drain half of the backlog in the next window: admit what the
			// slots run less half the backlog (at most half of what ran).
			drain := ran - min(uint64(backlog), ran/2)
			if admitted <= drain {
				// The level already admits less than that: the queue is a
				// leftover of earlier windows and drains by itself. Cutting
				// again for it would cut twice for the same spike; holding
				// a level far below it would leave the slots idle once the
				// queue is gone. Admit what empties the queue within the
				// next window: what runs less the whole backlog.
				if full := ran - min(uint64(backlog), ran); full > admitted {
					return riseLevel(hist, full, cur, trunc, hidden)
				}
				return cur
			}
			want = min(want, drain)
		}
		return floorLevel(hist, want, cur)
	case verdictIdle:
		want := 2 * admitted
		if m := admitted + total/reopenShare; m > want {
			want = m
		}
		// Not beyond what the slots can run in a window, when known: under
		// sustained overload an idle window only means the level is a little
		// low, and doubling would overshoot. An estimate at or below what
		// already runs idle is stale (capacity grew): ignore it.
		if capacity > admitted {
			want = min(want, capacity)
		}
		return riseLevel(hist, want, cur, trunc, hidden)
	default:
		want := uint64(float64(admitted)*(1+beta) + 0.5)
		if want <= admitted {
			want = admitted + 1
		}
		// Well below what the slots can run: close half the gap per window
		// rather than creep up 1 % at a time. The overload test guards the
		// top: a stale, too high estimate costs one overloaded window, which
		// also measures the capacity again.
		if capacity > admitted && v == verdictLow {
			want = max(want, admitted+(capacity-admitted)/2)
		}
		return riseLevel(hist, want, cur, trunc, hidden)
	}
}

// floorLevel returns the key whose prefix sum is nearest to want among the
// largest key at or below it and the next one, never at or above cur (an
// overloaded window always cuts), and never below the first non-empty cell:
// the most important demand is always admitted, so the controller keeps
// measuring. Choosing the nearer side matters when one cell is heavy (a
// very active user): always rounding down would turn a 5 % cut into 30 %.
func floorLevel(hist []bucket, want uint64, cur uint16) uint16 {
	if len(hist) == 0 {
		return cur
	}
	level := hist[0].key
	var sum, below uint64
	for _, b := range hist {
		sum += uint64(b.n)
		if sum > want {
			if b.key < cur && sum-want < want-below && b.key != hist[0].key {
				level = b.key
			}
			break
		}
		level, below = b.key, sum
	}
	if level > cur {
		level = cur
	}
	return level
}

// ceilLevel returns the smallest key whose prefix sum is >= want (so a rise
// always admits at least one more non-empty cell), never below cur; open when
// want reaches the total.
func ceilLevel(hist []bucket, want uint64, cur uint16) uint16 {
	var sum uint64
	for i, b := range hist {
		sum += uint64(b.n)
		if sum < want {
			continue
		}
		if i == len(hist)-1 {
			break // everything seen is admitted: open
		}
		if b.key < cur {
			return cur
		}
		return b.key
	}
	return keyOpen
}
