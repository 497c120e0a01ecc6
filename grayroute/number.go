package grayroute

// decimal is a number of the num_* grammar held exactly: the value is
// 0.d[0]d[1]...d[n-1] × 10^exp, with d the significant digits (no leading
// or trailing zeros); zero has n == 0. It is a value type, parsed without
// allocating, so Route stays allocation-free.
type decimal struct {
	neg bool
	n   uint8
	exp int16
	d   [maxNumberDigits]byte
}

// parseNumber reads a decimal number: optional sign, digits with an optional
// fraction (at most 30 digits in all), optional exponent of at most two
// digits. It keeps every digit: num_* conditions compare exactly, not as
// float64.
func parseNumber(s string) (decimal, bool) {
	var x decimal
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		x.neg = s[i] == '-'
		i++
	}
	intStart := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intEnd := i
	fracStart, fracEnd := i, i
	if i < len(s) && s[i] == '.' {
		i++
		fracStart = i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		fracEnd = i
	}
	digits := (intEnd - intStart) + (fracEnd - fracStart)
	if digits == 0 || digits > maxNumberDigits {
		return decimal{}, false
	}
	e := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		k := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			e = e*10 + int(s[i]-'0')
			i++
		}
		if i == k || i-k > 2 {
			return decimal{}, false
		}
		if eneg {
			e = -e
		}
	}
	if i != len(s) {
		return decimal{}, false
	}
	// Walk the digits (integer part, then fraction) dropping leading zeros;
	// the point sits after the integer part.
	exp := intEnd - intStart
	started := false
	for j := intStart; j < fracEnd; j++ {
		if j == intEnd {
			j = fracStart
			if j == fracEnd {
				break
			}
		}
		c := s[j] - '0'
		if !started {
			if c == 0 {
				exp--
				continue
			}
			started = true
		}
		x.d[x.n] = c
		x.n++
	}
	for x.n > 0 && x.d[x.n-1] == 0 {
		x.n--
	}
	if x.n == 0 {
		return decimal{}, true // zero, whatever its sign
	}
	x.exp = int16(exp + e)
	return x, true
}

// compareDecimals returns -1, 0 or +1 as a is below, equal to or above b,
// exactly.
func compareDecimals(a, b *decimal) int {
	sa, sb := a.sign(), b.sign()
	if sa != sb {
		if sa < sb {
			return -1
		}
		return 1
	}
	if sa == 0 {
		return 0
	}
	m := compareMagnitudes(a, b)
	if sa < 0 {
		return -m
	}
	return m
}

func (x *decimal) sign() int {
	switch {
	case x.n == 0:
		return 0
	case x.neg:
		return -1
	}
	return 1
}

func compareMagnitudes(a, b *decimal) int {
	if a.exp != b.exp {
		if a.exp < b.exp {
			return -1
		}
		return 1
	}
	for i := 0; i < int(max(a.n, b.n)); i++ {
		var x, y byte
		if i < int(a.n) {
			x = a.d[i]
		}
		if i < int(b.n) {
			y = b.d[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
