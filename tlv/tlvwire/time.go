package tlvwire

import (
	"fmt"
	"math"
	"time"
)

// Seconds since the epoch whose time, in nanoseconds, fits an int64 (years 1678 to 2262):
// such a time.Time is one varint; others are a message of seconds and nanoseconds.
const (
	minNanoSeconds = math.MinInt64 / 1_000_000_000   // -9223372036: s*1e9 + ns >= MinInt64 for ns >= 0
	maxNanoSeconds = math.MaxInt64/1_000_000_000 - 1 // 9223372035: s*1e9 + ns <= MaxInt64 for ns < 1e9
	// maxTimeSeconds bounds the message form so that time.Unix(s, n).Unix() == s (no
	// overflow in the time package's epoch shift), keeping decode → encode a fixpoint.
	maxTimeSeconds = 1 << 62
)

// CheckTime returns an error wrapping ErrRange when t cannot be encoded: its Unix seconds
// lie outside [−2^62, 2^62] (SPEC.md §4), so a decoder would reject the bytes. Marshal and
// generated AppendTLV methods call it before AppendTimeField, which does not check.
func CheckTime(t time.Time) error {
	if s := t.Unix(); s > maxTimeSeconds || s < -maxTimeSeconds {
		return fmt.Errorf("tlv: time %d seconds from 1970 is beyond ±2^62: %w", s, ErrRange)
	}
	return nil
}

// AppendTimeField appends t as field tag in canonical form (SPEC.md §4): a Varint of
// zigzag Unix nanoseconds for years 1678–2262, otherwise a Message holding zigzag seconds
// (tag 1) and nanoseconds (tag 2, omitted if 0). The location is not encoded.
func AppendTimeField(b []byte, tag uint32, t time.Time) []byte {
	s := t.Unix()
	if s >= minNanoSeconds && s <= maxNanoSeconds {
		return AppendVarint(AppendTag(b, tag, Varint), Zigzag(s*1e9+int64(t.Nanosecond())))
	}
	b, mark := BeginLen(AppendTag(b, tag, Message))
	b = AppendVarint(append(b, 1<<3|byte(Varint)), Zigzag(s)) // never 0 out here
	if ns := t.Nanosecond(); ns != 0 {
		b = AppendVarint(append(b, 2<<3|byte(Varint)), uint64(ns))
	}
	return EndLen(b, mark)
}

// SizeTimeField returns the number of bytes AppendTimeField appends.
func SizeTimeField(tag uint32, t time.Time) int {
	s := t.Unix()
	if s >= minNanoSeconds && s <= maxNanoSeconds {
		return SizeTag(tag) + SizeZigzag(s*1e9+int64(t.Nanosecond()))
	}
	n := 1 + SizeZigzag(s)
	if ns := t.Nanosecond(); ns != 0 {
		n += 1 + SizeVarint(uint64(ns))
	}
	return SizeTag(tag) + SizeVarint(uint64(n)) + n
}

// ConsumeTime parses a time.Time value of wire type wt at the start of b (just after the
// key) and returns it in UTC with the number of bytes read. Both forms are accepted; with
// strict it also requires the canonical one (ErrNonCanonical). Errors are sentinels
// (ErrWireType, ErrTruncated, ErrOverflow, ErrLength, ErrRange, ErrMalformed,
// ErrNonCanonical) for the caller to wrap with its offset and tag.
func ConsumeTime(b []byte, wt WireType, strict bool) (time.Time, int, error) {
	switch wt {
	case Varint:
		u, n := ConsumeVarint(b)
		if n < 0 {
			return time.Time{}, 0, CodeError(n)
		}
		ns := Unzigzag(u)
		if strict && (n != SizeVarint(u) || ns < minNanoSeconds*1e9 || ns > maxNanoSeconds*1e9+999999999) {
			return time.Time{}, 0, ErrNonCanonical
		}
		return time.Unix(0, ns).UTC(), n, nil
	case Message:
		// The length is checked for minimality before its use, as every length is.
		if l, m := ConsumeVarint(b); strict && m > 0 && m != SizeVarint(l) {
			return time.Time{}, 0, ErrNonCanonical
		}
		v, n := ConsumeBytes(b)
		if n < 0 {
			return time.Time{}, 0, CodeError(n)
		}
		t, err := parseTimeMessage(v, strict)
		return t, n, err
	}
	return time.Time{}, 0, ErrWireType
}

func parseTimeMessage(v []byte, strict bool) (time.Time, error) {
	var secs int64
	var nanos uint64
	var prev uint32
	for off := 0; off < len(v); {
		ft, wt, n := ConsumeTag(v[off:])
		if n < 0 {
			return time.Time{}, CodeError(n)
		}
		off += n
		if (ft != 1 && ft != 2) || wt != Varint {
			if strict {
				return time.Time{}, ErrMalformed
			}
			m := ConsumeValue(v[off:], wt)
			if m < 0 {
				return time.Time{}, CodeError(m)
			}
			off += m
			continue
		}
		u, m := ConsumeVarint(v[off:])
		if m < 0 {
			return time.Time{}, CodeError(m)
		}
		if strict && (ft <= prev || n != SizeTag(ft) || m != SizeVarint(u) || u == 0) {
			return time.Time{}, ErrNonCanonical
		}
		prev = ft
		off += m
		if ft == 1 {
			secs = Unzigzag(u)
		} else {
			nanos = u
		}
	}
	if nanos >= 1e9 || secs > maxTimeSeconds || secs < -maxTimeSeconds {
		return time.Time{}, ErrRange
	}
	if strict && secs >= minNanoSeconds && secs <= maxNanoSeconds {
		return time.Time{}, ErrNonCanonical // canonical form is the varint
	}
	return time.Unix(secs, int64(nanos)).UTC(), nil
}
