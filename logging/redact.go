package logging

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"log/slog"
	"unicode"
	"unicode/utf8"
)

// Redacted replaces the value of a denylisted key.
const Redacted = "[REDACTED]"

// defaultRedactKeys is the default denylist. Keys match case-insensitively
// (Unicode simple folding) with '-' and '_' equivalent, at any depth.
var defaultRedactKeys = []string{
	"password", "passwd", "pwd", "passphrase", "secret", "client_secret",
	"token", "access_token", "refresh_token", "id_token", "auth_token",
	"session_token", "api_key", "apikey", "x-api-key", "authorization",
	"proxy-authorization", "cookie", "set-cookie", "private_key",
	"privatekey", "credentials", "credit_card", "card_number", "cvv",
}

// keySet matches keys after folding. ASCII keys take an allocation-free
// path filtered by a mask of the lengths present.
type keySet struct {
	// first[b] has bit n set when an entry of byte length n (< 64) starts
	// with the folded ASCII byte b; non-ASCII starts go under 0.
	first [128]uint64
	lens  uint64 // bit n: some entry has byte length n (n < 64)
	long  bool   // some entry is 64 bytes or longer
	byLen map[int][]string
	all   map[string]struct{}
}

func foldRune(r rune) rune {
	if r == '-' {
		return '_'
	}
	min := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < min {
			min = f
		}
	}
	return min
}

func foldString(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = utf8.AppendRune(b, foldRune(r))
	}
	return string(b)
}

func newKeySet(keys ...[]string) *keySet {
	ks := &keySet{byLen: map[int][]string{}, all: map[string]struct{}{}}
	for _, list := range keys {
		for _, k := range list {
			if k == "" {
				continue
			}
			f := foldString(k)
			if _, dup := ks.all[f]; dup {
				continue
			}
			ks.all[f] = struct{}{}
			ks.byLen[len(f)] = append(ks.byLen[len(f)], f)
			if len(f) < 64 {
				ks.lens |= 1 << uint(len(f))
				b := f[0]
				if b >= utf8.RuneSelf {
					b = 0
				}
				ks.first[b] |= 1 << uint(len(f))
			} else {
				ks.long = true
			}
		}
	}
	if len(ks.all) == 0 {
		return nil
	}
	return ks
}

// foldASCII folds an ASCII byte the way foldRune does.
func foldASCII(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	if c == '-' {
		return '_'
	}
	return c
}

func (ks *keySet) match(key string) bool {
	if ks == nil || key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] >= utf8.RuneSelf {
			_, ok := ks.all[foldString(key)]
			return ok
		}
	}
	n := len(key)
	if n < 64 {
		if ks.first[foldASCII(key[0])]&(1<<uint(n)) == 0 {
			return false
		}
	} else if !ks.long {
		return false
	}
	// Non-ASCII entries may fold to ASCII-length forms too; they live in
	// byLen under their folded length, which is what we compare.
outer:
	for _, e := range ks.byLen[n] {
		for i := 0; i < n; i++ {
			if foldASCII(key[i]) != e[i] {
				continue outer
			}
		}
		return true
	}
	return false
}

// redactor holds a handler's compiled redaction rules.
type redactor struct {
	deny    *keySet
	hash    *keySet
	hashKey [16]byte
}

// hashValue is "h:" and the first 12 bytes of HMAC-SHA256(HashKey, the
// value's text), in hex. The text is a string's bytes, a []byte's bytes,
// a TextMarshaler's text, an error's message, or else the value as
// slog.Value.String formats it.
func (rd *redactor) hashValue(v slog.Value) slog.Value {
	m := hmac.New(sha256.New, rd.hashKey[:])
	m.Write(hashText(v))
	sum := m.Sum(nil)
	return slog.StringValue("h:" + hex.EncodeToString(sum[:12]))
}

func hashText(v slog.Value) []byte {
	if v.Kind() == slog.KindAny {
		switch x := v.Any().(type) {
		case []byte:
			return x
		case encoding.TextMarshaler:
			if b, err := x.MarshalText(); err == nil {
				return b
			}
		case error:
			return []byte(x.Error())
		}
	}
	return []byte(v.String())
}

// needs reports whether a must be rewritten: a denied or hashed key, a
// LogValuer (resolved so the result can be checked), or a group holding one.
func (rd *redactor) needs(a slog.Attr) bool {
	switch a.Value.Kind() {
	case slog.KindLogValuer:
		return true
	case slog.KindGroup:
		if rd.deny.match(a.Key) || rd.hash.match(a.Key) {
			return true
		}
		for _, c := range a.Value.Group() {
			if rd.needs(c) {
				return true
			}
		}
		return false
	}
	return rd.deny.match(a.Key) || rd.hash.match(a.Key)
}

// under says what happens to every value below an open group: nothing
// more, hashing (the group's name is a HashKey) or redaction (it is
// denied). Redaction wins over hashing.
type under uint8

const (
	underNone under = iota
	underHash
	underDeny
)

// below is the mode for the members of a group named key opened in mode u.
func (rd *redactor) below(u under, key string) under {
	switch {
	case u == underDeny || rd.deny.match(key):
		return underDeny
	case u == underHash || rd.hash.match(key):
		return underHash
	}
	return underNone
}

// rewrite returns a with denied values replaced, hashed values hashed and
// LogValuers resolved, at any depth. A denied key's value, group or not,
// becomes Redacted. Under a hashed key every leaf is hashed and groups
// keep their shape, as under a WithGroup of that name.
func (rd *redactor) rewrite(a slog.Attr, u under) slog.Attr {
	if u == underNone && !rd.needs(a) {
		return a
	}
	v := a.Value.Resolve()
	m := rd.below(u, a.Key)
	switch {
	case m == underDeny && (a.Key != "" || v.Kind() != slog.KindGroup):
		return slog.String(a.Key, Redacted)
	case v.Kind() == slog.KindGroup:
		// An inlined group (empty key) has its members at this level.
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(rd.rewriteAll(v.Group(), m)...)}
	case m == underHash:
		return slog.Attr{Key: a.Key, Value: rd.hashValue(v)}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (rd *redactor) rewriteAll(as []slog.Attr, u under) []slog.Attr {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = rd.rewrite(a, u)
	}
	return out
}

// DefaultRedactKeys returns a copy of the default denylist.
func DefaultRedactKeys() []string { return append([]string(nil), defaultRedactKeys...) }
