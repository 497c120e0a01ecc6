package logging

import (
	"bytes"
	"io"
	"strconv"
	"sync"
)

// delWriter quotes the bare tokens of slog text lines that hold a raw DEL
// (0x7f): slog's TextHandler quotes every other control character but not
// that one. Quoted tokens never hold a raw DEL (strconv escapes it), so a
// line without one passes through untouched. slog writes one line per
// Write call.
type delWriter struct {
	w   io.Writer
	mu  sync.Mutex
	buf []byte
}

func (d *delWriter) Write(p []byte) (int, error) {
	if bytes.IndexByte(p, 0x7f) < 0 {
		return d.w.Write(p)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.buf = quoteDEL(d.buf[:0], p)
	if _, err := d.w.Write(d.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

func quoteDEL(dst, line []byte) []byte {
	i := 0
	for i < len(line) {
		if line[i] == '"' {
			j := i + 1
			for j < len(line) && line[j] != '"' {
				if line[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(line))
			dst = append(dst, line[i:j]...)
			i = j
			continue
		}
		j := i
		for j < len(line) && line[j] != '=' && line[j] != ' ' && line[j] != '\n' && line[j] != '"' {
			j++
		}
		tok := line[i:j]
		if bytes.IndexByte(tok, 0x7f) >= 0 {
			dst = strconv.AppendQuote(dst, string(tok))
		} else {
			dst = append(dst, tok...)
		}
		if j < len(line) {
			if line[j] == '"' {
				i = j
				continue
			}
			dst = append(dst, line[j])
			j++
		}
		i = j
	}
	return dst
}

// nelWriter escapes U+0085 (NEL) in JSON lines as \u0085. slog's
// JSONHandler escapes U+2028 and U+2029 but writes NEL raw, and
// Unicode-aware line splitters (Python's str.splitlines, for one) break a
// line there. slog's JSON is valid UTF-8, where the bytes C2 85 can only be
// a NEL, and only inside a string, where \u0085 means the same.
type nelWriter struct {
	w   io.Writer
	mu  sync.Mutex
	buf []byte
}

func (n *nelWriter) Write(p []byte) (int, error) {
	if !hasNEL(p) {
		return n.w.Write(p)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.buf = appendEscapedNEL(n.buf[:0], p)
	if _, err := n.w.Write(n.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

func hasNEL(p []byte) bool {
	for {
		i := bytes.IndexByte(p, 0x85)
		if i < 0 {
			return false
		}
		if i > 0 && p[i-1] == 0xc2 {
			return true
		}
		p = p[i+1:]
	}
}

func appendEscapedNEL(dst, p []byte) []byte {
	for {
		i := bytes.Index(p, []byte{0xc2, 0x85})
		if i < 0 {
			return append(dst, p...)
		}
		dst = append(append(dst, p[:i]...), `\u0085`...)
		p = p[i+2:]
	}
}

// escapeNEL is appendEscapedNEL for a whole buffer, copying only when
// there is a NEL.
func escapeNEL(p []byte) []byte {
	if !hasNEL(p) {
		return p
	}
	return appendEscapedNEL(nil, p)
}
