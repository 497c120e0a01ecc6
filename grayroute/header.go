package grayroute

import (
	"errors"
	"fmt"
	"strings"
)

// Header carries a request's decisions across hops: comma-separated
// release=variant pairs, e.g. "chat-v2=canary,search=stable".
const Header = "Bulwark-Gray"

// MaxHeaderLen bounds the Header value ParseHeader (and so Middleware)
// accepts; RoundTripper never sends more.
const MaxHeaderLen = 8 << 10

// ErrBadHeader matches the errors of ParseHeader and FormatHeader.
var ErrBadHeader = errors.New("grayroute: bad " + Header + " header")

// ParseHeader reads a Header value strictly: release=variant pairs, each
// name 1 to 64 of [A-Za-z0-9._-], separated by commas with optional spaces
// or tabs around them (as when HTTP joins repeated header lines); no empty
// pair, no release twice, at most MaxHeaderLen bytes. Anything else is an
// error matching ErrBadHeader and yields no decision at all, so a value
// cannot smuggle a pair past a lenient reader. The decisions have Bucket
// -1 and Reason ReasonPropagated. An empty value is no decisions.
func ParseHeader(v string) ([]Decision, error) {
	if len(v) > MaxHeaderLen {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrBadHeader, len(v), MaxHeaderLen)
	}
	v = strings.Trim(v, " \t")
	if v == "" {
		return nil, nil
	}
	var out []Decision
	for i := 0; v != ""; i++ {
		pair, rest, more := strings.Cut(v, ",")
		pair = strings.Trim(pair, " \t")
		name, variant, ok := strings.Cut(pair, "=")
		if !ok || !validName(name) || !validName(variant) {
			return nil, fmt.Errorf("%w: pair %d %q is not release=variant (names "+nameRule+")", ErrBadHeader, i, pair)
		}
		for _, d := range out {
			if d.Release == name {
				return nil, fmt.Errorf("%w: release %q given twice", ErrBadHeader, name)
			}
		}
		out = append(out, Decision{Release: name, Variant: variant, Bucket: -1, Reason: ReasonPropagated})
		if more && strings.Trim(rest, " \t") == "" {
			return nil, fmt.Errorf("%w: empty pair after a comma", ErrBadHeader)
		}
		v = rest
	}
	return out, nil
}

// FormatHeader writes decisions as a Header value, in order, leaving out
// those with an empty Variant (unknown releases). A release or variant that
// is not 1 to 64 of [A-Za-z0-9._-] (a comma, '=', space or control byte
// would inject pairs), a release given twice, or a value longer than
// MaxHeaderLen is an error matching ErrBadHeader. For any decisions it
// accepts, ParseHeader of the result gives them back (as propagated).
func FormatHeader(ds []Decision) (string, error) {
	var b strings.Builder
	for i, d := range ds {
		if d.Variant == "" {
			continue
		}
		if !validName(d.Release) || !validName(d.Variant) {
			return "", fmt.Errorf("%w: decision %d (%q=%q): names "+nameRule, ErrBadHeader, i, d.Release, d.Variant)
		}
		for _, e := range ds[:i] {
			if e.Release == d.Release && e.Variant != "" {
				return "", fmt.Errorf("%w: release %q given twice", ErrBadHeader, d.Release)
			}
		}
		appendPair(&b, d)
	}
	if b.Len() > MaxHeaderLen {
		return "", fmt.Errorf("%w: %d bytes, more than %d", ErrBadHeader, b.Len(), MaxHeaderLen)
	}
	return b.String(), nil
}

func appendPair(b *strings.Builder, d Decision) {
	if b.Len() > 0 {
		b.WriteByte(',')
	}
	b.WriteString(d.Release)
	b.WriteByte('=')
	b.WriteString(d.Variant)
}

// sendable reports whether RoundTripper may send d: a variant, both names
// valid (so no pair can be injected).
func sendable(d Decision) bool {
	return d.Variant != "" && validName(d.Release) && validName(d.Variant)
}
