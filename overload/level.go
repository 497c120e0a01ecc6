package overload

// Level is an admission level (DAGOR's B*, U*): a request is admitted when
// its Priority is at or above it, that is when (Business, User) <= (level
// Business, level User) in lexicographic order. LevelOpen admits everything.
//
// A Level travels back to callers on every response so they can shed doomed
// requests before sending them: as the LevelHeader in HTTP, or in any other
// protocol as its 2-byte binary form (MarshalBinary) or as a uint16 (Uint16),
// for example in a tlv field that older peers ignore.
type Level struct {
	Business uint8
	User     uint8
}

// LevelOpen is the level that admits every request.
var LevelOpen = Level{Business: 255, User: 255}

func levelFromKey(k uint16) Level { return Level{Business: uint8(k >> 8), User: uint8(k)} }

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
func (l Level) String() string {
	b := make([]byte, 0, 7)
	return string(appendPair(b, l.Business, l.User))
}

// AppendText appends the String form to b.
func (l Level) AppendText(b []byte) ([]byte, error) { return appendPair(b, l.Business, l.User), nil }

// MarshalText returns the String form.
func (l Level) MarshalText() ([]byte, error) { return l.AppendText(make([]byte, 0, 7)) }

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
func ParseLevel(s string) (Level, error) {
	b, u, err := parsePair(s)
	if err != nil {
		return Level{}, &ParseError{What: "level", Input: truncate(s)}
	}
	return Level{Business: b, User: u}, nil
}
