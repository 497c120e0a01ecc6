package overload

import (
	"testing"
)

// FuzzParseLevel: never panics; whatever parses formats back to itself.
func FuzzParseLevel(f *testing.F) {
	for _, s := range []string{"0.0", "3.127", "255.255", "256.0", "1..2", "", "01.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLevel(s)
		if err != nil {
			return
		}
		if l.String() != s {
			t.Fatalf("ParseLevel(%q) = %v, formats as %q", s, l, l.String())
		}
		p, err := ParsePriority(s)
		if err != nil || p.String() != s {
			t.Fatalf("ParsePriority(%q) = %v, %v; want the same as ParseLevel", s, p, err)
		}
	})
}

// FuzzLevelBinary: UnmarshalBinary never panics, accepts exactly 2 bytes,
// and round-trips.
func FuzzLevelBinary(f *testing.F) {
	f.Add([]byte{1, 2})
	f.Add([]byte{})
	f.Add([]byte{255, 255, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var l Level
		err := l.UnmarshalBinary(b)
		if (err == nil) != (len(b) == 2) {
			t.Fatalf("UnmarshalBinary(%x) error %v", b, err)
		}
		if err != nil {
			return
		}
		out, _ := l.AppendBinary(nil)
		if string(out) != string(b) {
			t.Fatalf("round trip %x -> %x", b, out)
		}
	})
}
