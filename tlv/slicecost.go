package tlv

import "unsafe"

// appendCap returns the capacity append gives a slice of capacity oldCap that must hold
// newLen elements (the runtime's nextslicecap): double below 256 elements, then about
// 1.25 times, which may overshoot twice the old capacity, so a decoder charging 2 × cap
// undercharged large slices grown run by run.
func appendCap(oldCap, newLen int) int {
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

// Grow returns s with room for n more elements, after charging to d what the Go runtime
// allocates for it: exactly what append would allocate (its growth rule and size class).
// Generated code calls it before appending decoded elements.
func Grow[S ~[]E, E any](d *DecodeState, s S, n int) (S, error) {
	if cap(s)-len(s) >= n {
		return s, nil
	}
	var e E
	newCap := appendCap(cap(s), len(s)+n)
	if err := d.Alloc(newCap * int(unsafe.Sizeof(e))); err != nil {
		return s, err
	}
	// make and copy rather than slices.Grow, whose append of a make allocates that make
	// too when the race detector instruments the code.
	ns := make(S, len(s), newCap)
	copy(ns, s)
	return ns, nil
}
