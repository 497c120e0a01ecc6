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
