package grayroute

// version is a parsed version: up to four numeric parts (missing parts are
// 0, so "8.0" equals "8.0.0.0") and an optional semver pre-release. Build
// metadata after '+' is accepted and ignored, as semver says.
type version struct {
	parts [4]uint32
	pre   string // without the '-'; "" when absent
}

// parseVersion reads "[v|V]N[.N[.N[.N]]][-pre][+build]". Each N is 1 to 9
// decimal digits; pre-release and build identifiers are non-empty runs of
// [0-9A-Za-z-] separated by dots. It does not allocate.
func parseVersion(s string) (version, bool) {
	var v version
	if len(s) > 0 && (s[0] == 'v' || s[0] == 'V') {
		s = s[1:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '+' {
			if !validIdents(s[i+1:]) {
				return v, false
			}
			s = s[:i]
			break
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '-' {
			v.pre = s[i+1:]
			if !validIdents(v.pre) {
				return v, false
			}
			s = s[:i]
			break
		}
	}
	n := 0
	for {
		if n == 4 {
			return v, false
		}
		j := 0
		var x uint32
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			if j == 9 {
				return v, false
			}
			x = x*10 + uint32(s[j]-'0')
			j++
		}
		if j == 0 {
			return v, false
		}
		v.parts[n] = x
		n++
		s = s[j:]
		if len(s) == 0 {
			return v, true
		}
		if s[0] != '.' {
			return v, false
		}
		s = s[1:]
	}
}

func validIdents(s string) bool {
	if len(s) == 0 {
		return false
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if i == start {
				return false
			}
			start = i + 1
			continue
		}
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

// compareVersions orders a and b by semver precedence extended to four
// numeric parts: -1, 0 or +1.
func compareVersions(a, b *version) int {
	for i := range a.parts {
		if a.parts[i] != b.parts[i] {
			if a.parts[i] < b.parts[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre == "":
		return 1 // a release is above its pre-releases
	case b.pre == "":
		return -1
	}
	return comparePre(a.pre, b.pre)
}

// comparePre compares dot-separated pre-release identifiers: numeric ones
// numerically and below alphanumeric ones, alphanumeric ones in ASCII order,
// and a longer list above its prefix.
func comparePre(a, b string) int {
	for {
		ia, ra := cutDot(a)
		ib, rb := cutDot(b)
		if c := compareIdent(ia, ib); c != 0 {
			return c
		}
		a, b = ra, rb
		switch {
		case a == "" && b == "":
			return 0
		case a == "":
			return -1
		case b == "":
			return 1
		}
	}
}

func cutDot(s string) (string, string) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func compareIdent(a, b string) int {
	na, nb := isDigits(a), isDigits(b)
	switch {
	case na && nb:
		a, b = trimZeros(a), trimZeros(b)
		if len(a) != len(b) {
			if len(a) < len(b) {
				return -1
			}
			return 1
		}
	case na:
		return -1
	case nb:
		return 1
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}
