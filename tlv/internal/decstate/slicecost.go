package decstate

// AppendCap returns the capacity append gives a slice of capacity oldCap that must hold
// newLen elements (the runtime's nextslicecap): double below 256 elements, then about
// 1.25 times, which may overshoot twice the old capacity, so a decoder charging 2 × cap
// undercharged large slices grown run by run.
func AppendCap(oldCap, newLen int) int {
	c := oldCap
	if newLen > 2*c {
		return newLen
	}
	if c < 256 {
		return 2 * c
	}
	for c < newLen {
		c += (c + 3*256) >> 2
	}
	return c
}
