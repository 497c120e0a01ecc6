package tlvwire

import "math"

// WidenFloat32 returns the float64 equal to the binary32 value bits (SPEC.md §6). A NaN
// keeps its sign and payload bit for bit, the payload shifted into the top of the wider
// mantissa (Go's float64(float32) conversion would set the quiet bit).
func WidenFloat32(bits uint32) float64 {
	if bits&0x7f800000 == 0x7f800000 && bits&0x7fffff != 0 {
		return math.Float64frombits(uint64(bits>>31)<<63 | 0x7ff<<52 | uint64(bits&0x7fffff)<<29)
	}
	return float64(math.Float32frombits(bits))
}

// NarrowFloat64 returns the float32 equal to the binary64 value bits and true, or false
// when none is (SPEC.md §6): a number must be exactly representable. A NaN always narrows:
// it keeps its sign and the top 23 bits of its payload, and when those are all zero (a
// payload only in the low 29 bits) the result is the quiet NaN of that sign. So
// NarrowFloat64(bits of WidenFloat32(x)) gives x back for every x.
func NarrowFloat64(bits uint64) (float32, bool) {
	if bits&(0x7ff<<52) == 0x7ff<<52 && bits&(1<<52-1) != 0 {
		mant := uint32((bits & (1<<52 - 1)) >> 29)
		if mant == 0 {
			mant = 1 << 22
		}
		return math.Float32frombits(uint32(bits>>63)<<31 | 0xff<<23 | mant), true
	}
	f := math.Float64frombits(bits)
	f32 := float32(f)
	if float64(f32) != f {
		return 0, false
	}
	return f32, true
}
