package overload

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// uniform returns n cells of count each at keys base, base+1, ...
func uniform(base uint16, n int, count uint32) []bucket {
	h := make([]bucket, n)
	for i := range h {
		h[i] = bucket{key: base + uint16(i), n: count}
	}
	return h
}

func TestNextLevel(t *testing.T) {
	h := uniform(0x0100, 100, 10) // 1,000 arrivals over keys 1.0 .. 1.99
	tests := []struct {
		name     string
		hist     []bucket
		cur      uint16
		started  int64
		backlog  int64
		capacity uint64
		v        windowVerdict
		want     uint16
	}{
		// Open level, 1,000 arrived but only 400 ran: cut to 95 % of 400 = 380
		// arrivals, i.e. 38 cells, the last being key 0x0100+37.
		{"overloaded cuts from what ran", h, keyOpen, 400, 0, 0, verdictOverloaded, 0x0100 + 37},
		// Level admits 50 cells (500); 95 % of 500 = 475 -> 47 cells.
		{"overloaded cuts 5 percent", h, 0x0100 + 49, 500, 0, 0, verdictOverloaded, 0x0100 + 46},
		{"overloaded never closes the first cell", h, 0x0100, 1, 0, 0, verdictOverloaded, 0x0100},
		// 1 % of 500 is 5 arrivals, less than a cell: admit one more cell.
		// 95 % of 500 is 475, but 100 queued beyond the threshold's share:
		// cut by it to 400 -> 40 cells.
		{"overloaded drains the backlog", h, 0x0100 + 49, 500, 100, 0, verdictOverloaded, 0x0100 + 39},
		// The level admits 200 of the 500 that ran, below 500 - 100: the
		// queue drains by itself; admit 500 - 100 = 400 (40 cells) so it
		// empties within the next window instead of idling the slots.
		{"leftover backlog rises to drain in one window", h, 0x0100 + 19, 500, 100, 0, verdictOverloaded, 0x0100 + 39},
		// 200 admitted, 500 ran, 400 backlog: 500 - 400 = 100 < 200, hold.
		{"leftover backlog larger than the gap holds", h, 0x0100 + 19, 500, 400, 0, verdictOverloaded, 0x0100 + 19},
		// The backlog cut is at most half of what ran: 250 -> 25 cells.
		{"backlog cut is bounded", h, 0x0100 + 49, 500, 10000, 0, verdictOverloaded, 0x0100 + 24},
		{"drained queue holds the level", h, 0x0100 + 49, 500, -20, 0, verdictDrained, 0x0100 + 49},
		// marginal (queue within twice the threshold's share): 500 admitted,
		// 480 ran, 500 <= 1.1 × 480: a load at capacity, no cut.
		{"marginal window at capacity holds", h, 0x0100 + 49, 480, 5, 0, verdictMarginal, 0x0100 + 49},
		// 500 admitted, 400 ran: 500 > 440, overload: cut to 95 % of 400 = 380.
		{"marginal window above capacity cuts", h, 0x0100 + 49, 400, 5, 0, verdictMarginal, 0x0100 + 37},
		// Drained with the level at 200 but 500 running: rise to 95 % of
		// 500 = 475 -> 48 cells (the smallest prefix sum >= 475).
		{"drained queue rises to the steady cut", h, 0x0100 + 19, 500, -20, 0, verdictDrained, 0x0100 + 47},
		// capacity 600 is what the slots run: 95 % = 570 -> 57 cells.
		{"drained queue rises to the capacity's cut", h, 0x0100 + 19, 300, -20, 600, verdictDrained, 0x0100 + 56},
		// low: half the gap to capacity 700: 500 + 100 = 600 -> 60 cells.
		{"low closes half the gap to capacity", h, 0x0100 + 49, 500, 0, 700, verdictLow, 0x0100 + 59},
		{"normal rises one cell at least", h, 0x0100 + 49, 500, 0, 0, verdictNormal, 0x0100 + 50},
		{"normal keeps open", h, keyOpen, 1000, 0, 0, verdictNormal, keyOpen},
		// idle: max(2×200, 200+1000/4) = 450 -> 45 cells.
		{"idle doubles", h, 0x0100 + 19, 200, 0, 0, verdictIdle, 0x0100 + 44},
		// idle: max(2×300, 300+1000/4) = 600 -> 60 cells.
		{"idle doubles at least", h, 0x0100 + 29, 300, 0, 0, verdictIdle, 0x0100 + 59},
		// idle with nothing admitted: 0 + 1000/4 = 250 -> 25 cells.
		{"idle reopens when all were shed", h, 0x00FF, 0, 0, 0, verdictIdle, 0x0100 + 24},
		// idle would double 200 to 400, but the slots run 300: 30 cells.
		{"idle reopen capped by capacity", h, 0x0100 + 19, 200, 0, 300, verdictIdle, 0x0100 + 29},
		// a heavy cell: rounding to the nearer side cuts 5 %, not half.
		{"overloaded rounds to the nearer side", []bucket{{1, 10}, {2, 500}, {3, 10}}, 3, 520, 0, 0, verdictOverloaded, 2},
		{"idle past the total opens", h, 0x0100 + 79, 800, 0, 0, verdictIdle, keyOpen},
		{"empty window keeps the level", nil, 0x0100 + 5, 0, 0, 0, verdictOverloaded, 0x0100 + 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := nextLevel(tt.hist, tt.cur, tt.started, tt.backlog, tt.capacity, tt.v, false, keyOpen, 0)
			assert.Equal(t, levelFromKey(tt.want), levelFromKey(got))
		})
	}
}

// TestNextLevelPriorityOrder checks the walk sheds the least important
// classes first: with 4 classes of 100 arrivals and room for 150, class 0
// stays fully admitted and class 1 half.
func TestNextLevelPriorityOrder(t *testing.T) {
	var h []bucket
	for b := uint16(0); b < 4; b++ {
		h = append(h, uniform(b<<8, 100, 1)...)
	}
	got := levelFromKey(nextLevel(h, keyOpen, 158, 0, 0, verdictOverloaded, false, keyOpen, 0)) // 0.95×158 = 150
	assert.Equal(t, Level{Business: 1, User: 49}, got)
	assert.True(t, got.Admits(Priority{Business: 0, User: 255}))
	assert.False(t, got.Admits(Priority{Business: 2, User: 0}))
}

// TestNextLevelSteadyLoad covers the two rules that keep a load at
// capacity from being shed: the first mildly overloaded window whose level
// admits about what ran holds, and a window that was not overloaded and saw
// demand within arrival noise of the capacity reopens fully.
func TestNextLevelSteadyLoad(t *testing.T) {
	h := uniform(0x0100, 100, 10) // 1,000 arrivals over keys 1.0 .. 1.99
	cur := uint16(0x0100 + 49)    // admits 500
	// 500 admitted, 490 ran: within 1 + margin(490) = 1.136.
	assert.Equal(t, cur, nextLevel(h, cur, 490, 100, 0, verdictOverloaded, true, keyOpen, 0), "first window near capacity holds")
	assert.Equal(t, cur, nextLevel(h, cur, 490, 0, 0, verdictRefusing, true, keyOpen, 0), "first refusing window near capacity holds")
	assert.Less(t, nextLevel(h, cur, 490, 100, 0, verdictOverloaded, false, keyOpen, 0), cur, "second overloaded window cuts")
	assert.Less(t, nextLevel(h, keyOpen, 490, 100, 0, verdictOverloaded, true, keyOpen, 0), uint16(keyOpen), "demand twice what ran cuts at once")
	// Demand 1,000, capacity 950: within 1 + margin(950) = 1.097.
	for _, v := range []windowVerdict{verdictLow, verdictNormal, verdictIdle} {
		assert.Equal(t, uint16(keyOpen), nextLevel(h, cur, 500, 0, 950, v, false, keyOpen, 0), "verdict %d: demand at capacity reopens fully", v)
	}
	// Demand 1,000, capacity 800: beyond 1.106 × 800 = 885; close half the gap.
	assert.Equal(t, uint16(0x0100+64), nextLevel(h, cur, 500, 0, 800, verdictLow, false, keyOpen, 0))
}

func TestMargin(t *testing.T) {
	assert.Equal(t, maxMargin, margin(0))
	assert.Equal(t, maxMargin, margin(4))
	assert.InDelta(t, 0.3, margin(100), 1e-9)
	assert.InDelta(t, 0.106, margin(800), 1e-3)
	assert.Equal(t, marginShare, margin(1_000_000))
}
