package overload

import "time"

// This file ends adaptation windows: swap the window's counters out, judge
// the window, update the capacity estimate, measure the backlog, and move
// the level (nextLevel in window.go).

// gapWindows: a window that lasted this many Window lengths had (almost) no
// arrivals in its last Window, since a window ends at the first fourth
// arrival past its length; the traffic went away, and the level reopens
// fully rather than greet the next burst with the level of the last one.
const gapWindows = 2

// refusalShare: a window in which queue-full, displacement and deadline
// refusals exceed 1/refusalShare of the requests that passed the level is
// overloaded, whatever its mean queuing time. Short queues (fast handlers,
// MaxQueue × service time below QueueThreshold) show overload this way.
const refusalShare = 20

// maybeRoll ends the window, which the caller found due at now. One caller
// at a time does the work; the others carry on.
func (c *Controller) maybeRoll(now int64) {
	if !c.rolling.CompareAndSwap(false, true) {
		return
	}
	stats, changed := c.roll(now)
	c.rolling.Store(false)
	if c.hooks.OnWindow != nil && stats.Arrivals > 0 {
		c.hooks.OnWindow(stats)
	}
	if changed && c.hooks.OnLevelChange != nil {
		c.hooks.OnLevelChange(stats.From, stats.To)
	}
}

// windowCounts is one window's counters, swapped out at its end.
type windowCounts struct {
	arrivals, passed, started, queued, waitSum, refused int64
	elapsed                                             int64 // ns
	mean                                                int64 // ns, mean queuing time of the starts
	hist                                                []bucket
}

// roll closes the window. The caller holds the rolling flag.
func (c *Controller) roll(now int64) (WindowStats, bool) {
	start := c.winStart.Load()
	if now-start < c.window && c.arrivals.Load()+c.hidden.Load() < c.winRequests && !c.forceRoll.Swap(false) {
		return WindowStats{}, false // another caller just rolled
	}
	cur := c.state.Load().key
	w := c.swapCounters(now, start, cur)
	if c.meanHold.Load() == 0 {
		c.updateTiers(w.hist, cur)
	}
	trunc, gated, hidden := c.truncation(w.arrivals)
	if trunc < cur {
		// A Gate learns a rise one round trip into the window: the keys up
		// to the level in force were hidden only for that long.
		trunc = cur
	}
	v := c.verdict(w)
	capacity := c.measureCapacity(w, v)
	backlog, v := c.backlog(v)

	next := cur
	switch v {
	case verdictGap:
		next = keyOpen
	default:
		first := !c.lastOverloaded && w.mean <= 2*c.threshold
		next = nextLevel(w.hist, cur, w.started, backlog, capacity, v, first, trunc, uint64(hidden))
	}
	c.lastOverloaded = v == verdictOverloaded || v == verdictRefusing || v == verdictMarginal
	// Calm arms the onset rule and keeps the own-queue bound off
	// (ownqueue.go). Only a window whose waits showed overload ends it:
	// for a service with its own queue a refusing window's refusals are
	// the bound's own, and counting them would keep the bound engaged on
	// its own evidence.
	c.calm.Store(c.meanHold.Load() == 0 && v != verdictOverloaded && v != verdictMarginal)
	if next != cur {
		c.setLevel(next)
	}
	return WindowStats{
		Arrivals:   w.arrivals,
		Passed:     w.passed,
		Started:    w.started,
		Refused:    w.refused,
		MeanQueue:  time.Duration(w.mean),
		Overloaded: v == verdictOverloaded || v == verdictDrained || v == verdictRefusing || v == verdictMarginal,
		Idle:       v == verdictIdle || v == verdictGap,
		Duration:   time.Duration(w.elapsed),
		Capacity:   perSecond(c.drainInterval()),
		Backlog:    backlog,
		Gated:      gated,
		Held:       hidden,
		From:       levelFromKey(cur),
		To:         levelFromKey(next),
	}, next != cur
}

// swapCounters takes the window's counters and histogram and starts the
// next window at now. Counts added while this runs land in either window;
// the error is a few requests in thousands.
func (c *Controller) swapCounters(now, start int64, cur uint16) windowCounts {
	w := windowCounts{
		arrivals: c.arrivals.Swap(0),
		started:  c.started.Swap(0),
		queued:   c.queuedStarts.Swap(0),
		waitSum:  c.waitSum.Swap(0),
		refused:  c.refused.Swap(0),
		elapsed:  now - start,
	}
	c.winStart.Store(now)
	buf := c.rollBuf[:0]
	for k := range c.hist {
		cell := &c.hist[k]
		if cell.Load() == 0 {
			continue
		}
		if n := cell.Swap(0); n > 0 {
			buf = append(buf, bucket{key: uint16(k), n: n})
			if uint16(k) <= cur {
				w.passed += int64(n)
			}
		}
	}
	c.rollBuf = buf
	w.hist = buf
	if w.started > 0 {
		w.mean = w.waitSum / w.started
	}
	return w
}

// verdict judges the window from its queuing time and refusals.
func (c *Controller) verdict(w windowCounts) windowVerdict {
	switch {
	case w.elapsed >= gapWindows*c.window:
		return verdictGap
	case w.mean > c.threshold:
		return verdictOverloaded
	case w.refused*refusalShare > w.passed:
		return verdictRefusing
	case w.mean < c.threshold/idleFraction && w.queued*idleFraction <= w.started:
		return verdictIdle
	case w.mean < c.threshold/2:
		return verdictLow
	}
	return verdictNormal
}

// measureCapacity updates the capacity estimate and returns how many
// requests the slots can start in a window of this length (0 if unknown, or
// if the estimate is stale and the verdict must not lean on it).
//
// The estimate comes from the sampled hold times of permits (smoothed over
// windows), or, for services that report queuing time themselves, from the
// start rate of windows where the queue clearly never emptied. A window with
// enough samples replaces the estimate outright, so one stalled window (a GC
// pause, a noisy neighbour) is forgotten in the next; a thin window is
// averaged with the previous estimate.
func (c *Controller) measureCapacity(w windowCounts, v windowVerdict) uint64 {
	if hs, hn := c.holdSum.Swap(0), c.holdN.Swap(0); hn > 0 && hs > 0 {
		sample := hs / hn
		if prev := c.meanHold.Load(); prev > 0 && hn < minHoldSamples {
			sample = (prev + sample) / 2
		}
		c.meanHold.Store(max(sample, 1))
	}
	// Refusals show saturation for the Controller's own queue (a full
	// one). For a service with its own queue they are the own-queue
	// bound's, which refuses to keep the queue short: the start rate of
	// such a window is the admitted load, not the capacity.
	saturated := w.mean > c.threshold/2 || (v == verdictRefusing && c.meanHold.Load() != 0)
	if saturated && w.queued*2 >= w.started && w.started > 0 && w.elapsed > 0 {
		sample := max(w.elapsed/w.started, 1)
		// The start rate is the capacity only if the queue never emptied.
		// A service reporting its own queue shows that by the latest wait:
		// if it is short, the queue drained during the window and the rate
		// understates the capacity, so it may only raise the estimate.
		drained := c.meanHold.Load() == 0 && c.lastWait.Load() < c.threshold/2
		if prev := c.nsPerStart.Load(); !drained || prev == 0 || sample < prev {
			c.nsPerStart.Store(sample)
		}
	}
	per := c.drainInterval()
	if per <= 0 || w.elapsed <= 0 {
		return 0
	}
	// The estimate may be stale (measured windows ago). That is safe in
	// both directions: nextLevel ignores an estimate at or below what
	// already runs (the capacity grew), and one that is too high costs one
	// overloaded window, which measures the capacity again.
	return uint64(w.elapsed / per)
}

// backlog returns the queue beyond what QueueThreshold allows by Little's
// law at the end of an overloaded window, and turns the verdict into
// verdictDrained when the queue has already emptied below half of that.
//
// The Controller's own queue is counted directly. For a service that keeps
// its own queue (no permits, so no hold samples) the latest reported wait
// stands for the queue's length: a request that waited d started behind
// about d / drain-interval others.
func (c *Controller) backlog(v windowVerdict) (int64, windowVerdict) {
	per := c.drainInterval()
	if v != verdictOverloaded || per <= 0 {
		return 0, v
	}
	allowed := c.threshold / per
	queue := c.waiting.Load()
	if c.meanHold.Load() == 0 {
		queue = c.lastWait.Load() / per
	}
	backlog := queue - allowed
	switch {
	case backlog < -allowed/2:
		return backlog, verdictDrained
	case backlog <= allowed:
		return backlog, verdictMarginal
	}
	return backlog, v
}
