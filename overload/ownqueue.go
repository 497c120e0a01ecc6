package overload

// This file bounds a service's own queue by expected wait (Admit and
// ObserveQueueTime). A priority level is blind to the queue within a
// window: it admits a share of the arrivals whatever is queued, and at a
// given utilisation such an admission waits what Erlang's formula says
// (benchmarks/overload RESULTS.md, "Feasibility"). The slot-driven
// Controller sees its queue and refuses into a full one; this gives a
// service with its own queue the same sight.
//
// The queue's length is what Admit passed less what ObserveQueueTime
// reported started, whatever order the service starts its queue in. A
// service that drops expired work without reporting it would leave such
// requests counted forever, so the count keeps its admissions in
// pendSlots buckets of one QueueThreshold each, by time of admission, and
// forgets those older than the buckets span; a start takes one off the
// oldest bucket still counting.
//
// The bound engages only under detected overload: while the level is
// closed, or, while it is open, once the window so far shows heavy
// overload (overloading), which also ends the window at once, as the onset
// rule does. While the level is open the queue's swings are the load's
// own (a few workers at ρ = 0.5 often have three queued, 60-100 ms of
// expected wait at 100 ms handlers), and refusing them would shed work
// that runs in time; a window past QueueThreshold that the level holds
// open (one unlucky window near capacity, window.go) does not engage it
// either. The bound's own refusals move the level (they are overload
// evidence) but do not count as saturation for the capacity estimate, nor
// end calm (roll.go).
//
// The count is a new request's wait only in a FIFO: a queue that starts
// important requests first starts them at once while others wait longer
// than the buckets span, and are forgotten (doc.go says so).

// pendSlots is the number of QueueThreshold-wide buckets the count spans
// (8 × 20 ms by default, twice the longest expected wait the bound admits
// under overload). An admission that really waits longer is forgotten
// early, which only loosens the bound.
const pendSlots = 8

// The bound on the expected wait of a request admitted into a service's
// own queue, in QueueThresholds, runs from ownQueueBoundHi for the most
// important traffic to ownQueueBoundLo for the least important the level
// passed in the last window (by its business class's place in that
// window's passed arrivals). Past it Admit refuses with ReasonQueueFull:
// as the queue grows, the least important requests are refused first,
// the way a full queue of Acquire displaces its least important waiter.
// While the level is open the bound is looser (openBoundLo to
// openBoundHi): it then only catches the onset of overload, and a steady
// load near capacity (a queue that swings) is not refused.
const (
	ownQueueBoundLo = 2
	ownQueueBoundHi = 4
	openBoundLo     = 3
	openBoundHi     = 6
	tierScale       = 1024
)

// pendEpoch is the bucket epoch of controller time now.
func (c *Controller) pendEpoch() uint32 {
	if c.threshold <= 0 {
		return 0 // a Controller not built by New
	}
	return uint32(c.lastNow.Load() / c.threshold)
}

func pendPack(epoch uint32, n uint32) uint64 { return uint64(epoch)<<32 | uint64(n) }

// pendAdmit counts one admission.
func (c *Controller) pendAdmit() {
	e := c.pendEpoch()
	slot := &c.pend[e%pendSlots]
	for {
		v := slot.Load()
		nv := pendPack(e, 1)
		if uint32(v>>32) == e {
			nv = v + 1
		}
		if slot.CompareAndSwap(v, nv) {
			return
		}
	}
}

// pendLen is the number of admissions counted as still queued.
func (c *Controller) pendLen() int64 {
	e := c.pendEpoch()
	var n int64
	for i := range c.pend {
		v := c.pend[i].Load()
		if e-uint32(v>>32) < pendSlots {
			n += int64(uint32(v))
		}
	}
	return n
}

// pendStart takes one admission off the oldest bucket still counting.
func (c *Controller) pendStart() {
	e := c.pendEpoch()
	for age := uint32(pendSlots - 1); ; age-- {
		slot := &c.pend[(e-age)%pendSlots]
		for {
			v := slot.Load()
			if uint32(v>>32) != e-age || uint32(v) == 0 {
				break
			}
			if slot.CompareAndSwap(v, v-1) {
				return
			}
		}
		if age == 0 {
			return
		}
	}
}

// ObserveQueueTime calls pendStart for every start. It used to forget the
// whole count for a start that waited less than one drain interval, on the
// theory that such a start found the queue empty; that holds only for a
// FIFO: a queue that starts its most important requests first starts them
// at once while less important ones wait behind, and the clear hid that
// queue from the bound (a mean wait of 96 ms at 2× load with class
// priority, against 19 ms with a FIFO). The forgetting of old admissions
// covers starts the service did not report.

// ownQueueFull reports whether a request of business class b admitted now
// into the service's own queue would wait past its bound. It is false
// while the level is open and the window shows no heavy overload (see
// above), while the drain interval is unknown, and for Controllers that
// run permits (their queue is their own).
func (c *Controller) ownQueueFull(b uint8, open bool) bool {
	if c.meanHold.Load() != 0 {
		return false
	}
	if open {
		if !c.overloading() {
			return false
		}
		// Heavy overload, shown before the onset rule's 32 starts: end
		// the window now, as that rule does, so the level engages on it.
		if c.calm.CompareAndSwap(true, false) {
			c.forceRoll.Store(true)
			c.maybeRoll(c.nanotime())
		}
	}
	per := c.drainInterval()
	if per <= 0 {
		per = c.onsetDrainInterval()
		if per <= 0 {
			return false
		}
	}
	q := int64(c.tier[b].Load()) // share of passed traffic more important, × tierScale
	lo, hi := int64(ownQueueBoundLo), int64(ownQueueBoundHi)
	if open {
		lo, hi = openBoundLo, openBoundHi
	}
	limit := c.threshold * (lo*tierScale + (hi-lo)*(tierScale-q)) / tierScale
	if c.queueLen(per)*per <= limit {
		return false
	}
	// About to refuse. Admit reads the clock on every fourth call only, and
	// an old clock keeps admissions counted that are forgotten by now: a
	// refusal judged on it could refuse an important request that a fresh
	// clock, read by the next Admit, admits less important ones after.
	// Refusals are the slow path: read it now and judge again. An
	// admission on an old clock is safe, since a fresh one only counts
	// fewer.
	c.lastNow.Store(c.nanotime())
	return c.queueLen(per)*per > limit
}

// queueLen is the queue's length for the bound: the count, or, if longer,
// the queue the recent reported waits imply (lastWait / drain interval).
// The count forgets admissions older than its buckets span, so a backlog
// older than that (a load step mid-window admits seconds of it before the
// level engages) would read as a short queue and the bound would refuse
// nothing while it drains; the recent waits see it. They stand for the
// queue only while starts are reported: once none was for a few drain
// intervals the queue has emptied (or the workers are all busy, when the
// count alone judges).
func (c *Controller) queueLen(per int64) int64 {
	n := c.pendLen()
	span := min(3*pendSlots*c.threshold, maxWait/2)
	if lw := c.lastWait.Load(); lw > span && c.latestWait.Load() > span && lw/per > n &&
		c.lastNow.Load()-c.lastStart.Load() <= staleStarts*per+c.threshold {
		n = lw / per
	}
	return n
}

// staleStarts: drain intervals without a reported start after which the
// recent waits no longer stand for the queue.
const staleStarts = 4

// updateTiers records, for every business class, the share of the
// window's passed arrivals in more important classes. hist is in key
// order; cur is the level in force.
func (c *Controller) updateTiers(hist []bucket, cur uint16) {
	var passed int64
	for _, b := range hist {
		if b.key <= cur {
			passed += int64(b.n)
		}
	}
	if passed == 0 {
		return
	}
	var before int64
	i := 0
	for class := range c.tier {
		for i < len(hist) && int(hist[i].key>>8) < class {
			if hist[i].key <= cur {
				before += int64(hist[i].n)
			}
			i++
		}
		c.tier[class].Store(uint32(before * tierScale / passed))
	}
}

// onsetDrainInterval estimates the drain interval before any window has
// measured it (the first overload of the Controller's life): the time per
// start so far in this window, once onsetStarts/4 requests have started
// with a mean wait above half the threshold (the queue has not emptied
// much). 0 if that is not yet so.
func (c *Controller) onsetDrainInterval() int64 {
	n := c.started.Load()
	if n < onsetStarts/4 || c.waitSum.Load() <= c.threshold/2*n {
		return 0
	}
	el := c.lastNow.Load() - c.winStart.Load()
	if el <= 0 {
		return 0
	}
	return el / n
}

// overloading reports whether the window so far shows heavy overload
// before it ends: at least onsetStarts/4 starts, and recent waits
// (lastWait, about the last four starts) above earlyRecent ×
// QueueThreshold. The onset rule needs 32 starts, which at a few slow
// workers (4 × 85 ms) takes most of a second, and at 4× load the first
// window then admitted 144 requests, about two seconds of backlog.
//
// It judges the recent waits, not the window's mean: a load step that
// begins mid-window leaves the mean to the calm starts before it, and
// the window admitted a second of excess before it ended (0.1-1 s mean
// waits 3 s after a 6× step). Nor does it ask that arrivals outpace
// starts counted from the window's start (revision 3 did, 2.5 per start):
// that ratio comes late at 4× on a few slow workers and never at 2-2.5×
// or after a mid-window step. What keeps a steady load's excursion (4 ×
// 50 ms at ρ = 0.7: 9-17 starts averaging 110-150 ms) from ending a
// window early is the height asked, 12 × QueueThreshold, which such an
// excursion rarely reaches while an overload's growing queue passes it
// within a few hundred ms (TestOwnQueueSteadyExcursionKeepsLevel).
//
// The recent waits must also have been above the height for
// earlyReports reports in a row: the smoothing moves a quarter of the way
// per report, so one outlier of a second would pass the height alone and
// cut the level for a window. The height is capped below the largest wait
// a report can carry, so a long QueueThreshold (up to 1 s) still allows it.
func (c *Controller) overloading() bool {
	n := c.started.Load()
	return n >= onsetStarts/4 && c.lastWait.Load() > c.earlyHeight() && c.highRun.Load() >= earlyReports
}

// earlyHeight is the recent wait above which the early end may fire.
func (c *Controller) earlyHeight() int64 { return min(earlyRecent*c.threshold, maxWait/2) }

const (
	earlyRecent  = 12
	earlyReports = 3
)

// ownQueueIdleWait: a wait reported by ObserveQueueTime below
// QueueThreshold / ownQueueIdleWait (1.25 ms by default) counts as no wait
// for telling an idle window (see ObserveQueueTime).
const ownQueueIdleWait = 16
