package overload

import "strconv"

// Level is an admission level (DAGOR's B*, U*): a request is admitted when
// its Priority is at or above it, that is when (Business, User) <= (level
// Business, level User) in lexicographic order. LevelOpen admits everything.
//
// A Level travels back to callers on every response so they can shed doomed
// requests before sending them: as the LevelHeader in HTTP, or in any other
// protocol as its 2-byte binary form (MarshalBinary) or as a uint16 (Uint16),
// for example in a tlv field that older peers ignore.
//
// Level and Priority are the same pair and share this file's encoding code;
// Level(p) and Priority(l) convert between them.
type Level struct {
	Business uint8
	User     uint8
}

// LevelOpen is the level that admits every request.
var LevelOpen = Level{Business: 255, User: 255}

func levelFromKey(k uint16) Level { return Level{Business: uint8(k >> 8), User: uint8(k)} }

// key is the pair as one 16-bit number, Business in the high byte, that
// sorts in importance order (smaller is more important).
func (l Level) key() uint16 { return uint16(l.Business)<<8 | uint16(l.User) }

// Admits reports whether a request of priority p passes this level.
func (l Level) Admits(p Priority) bool { return p.key() <= l.key() }

// IsOpen reports whether the level admits every request.
func (l Level) IsOpen() bool { return l == LevelOpen }

// Uint16 returns the level as one number, Business in the high byte; larger
// numbers admit more. LevelFromUint16 is its inverse.
func (l Level) Uint16() uint16 { return l.key() }

// LevelFromUint16 is the inverse of Level.Uint16.
func LevelFromUint16(v uint16) Level { return levelFromKey(v) }

// String formats the level as "business.user", the form of the LevelHeader.
func (l Level) String() string { return string(l.appendText(make([]byte, 0, 7))) }

// AppendText appends the String form to b.
func (l Level) AppendText(b []byte) ([]byte, error) { return l.appendText(b), nil }

// MarshalText returns the String form.
func (l Level) MarshalText() ([]byte, error) { return l.appendText(make([]byte, 0, 7)), nil }

// UnmarshalText parses the String form.
func (l *Level) UnmarshalText(text []byte) error {
	v, err := ParseLevel(string(text))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// AppendBinary appends the 2-byte form (business, user) to b.
func (l Level) AppendBinary(b []byte) ([]byte, error) { return append(b, l.Business, l.User), nil }

// MarshalBinary returns the 2-byte form (business, user).
func (l Level) MarshalBinary() ([]byte, error) { return []byte{l.Business, l.User}, nil }

// UnmarshalBinary decodes the 2-byte form; any other length is an error.
func (l *Level) UnmarshalBinary(data []byte) error {
	if len(data) != 2 {
		return &ParseError{What: "binary level", Input: truncate(string(data))}
	}
	l.Business, l.User = data[0], data[1]
	return nil
}

// ParseLevel parses the "business.user" form written by Level.String.
func ParseLevel(s string) (Level, error) { return parseCompound(s, "level") }

// appendText appends "business.user".
func (l Level) appendText(b []byte) []byte {
	b = strconv.AppendUint(b, uint64(l.Business), 10)
	b = append(b, '.')
	return strconv.AppendUint(b, uint64(l.User), 10)
}

// parseCompound parses "x.y" with x and y decimal numbers in 0..255, without
// signs, spaces or leading zeros beyond a single "0". what names the value in
// the error ("level", "priority").
func parseCompound(s, what string) (Level, error) {
	dot := -1
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			dot = i
			break
		}
	}
	if dot >= 0 {
		x, okx := parseByte(s[:dot])
		y, oky := parseByte(s[dot+1:])
		if okx && oky {
			return Level{Business: x, User: y}, nil
		}
	}
	return Level{}, &ParseError{What: what, Input: truncate(s)}
}

func parseByte(s string) (uint8, bool) {
	if len(s) == 0 || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	if v > 255 {
		return 0, false
	}
	return uint8(v), true
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
