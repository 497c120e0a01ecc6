package tlv

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bulwark-go/bulwark/tlv/tlvwire"
)

// SkipMessage, returned by a Walk callback for a Message field, skips its content.
//
//lint:ignore ST1012 named like fs.SkipDir: a control value for Walk, not a failure
var SkipMessage = errors.New("tlv: skip this message")

// Valid reports whether data is a well-formed message under the default DecodeOptions:
// every field framed correctly, nested messages valid to depth 64, packed arrays whole.
// It needs no schema and does not allocate.
func Valid(data []byte) bool {
	return DecodeOptions{}.Validate(data) == nil
}

// Validate checks data like Valid and says what is wrong. MaxSize, MaxDepth and
// MaxElements apply; with Strict it also requires minimal varints and non-decreasing tags
// (equal tags are allowed: without a schema a repeated field cannot be told apart).
func (o DecodeOptions) Validate(data []byte) error {
	var d decoder
	if err := o.init(&d, len(data)); err != nil {
		return err
	}
	return d.validate(data)
}

func (d *decoder) validate(data []byte) error {
	var prev uint32
	it := tlvwire.NewIter(data)
	for it.Next() {
		f := it.Field()
		if d.Elements--; d.Elements < 0 {
			return d.errAt(f.Offset, f.Tag, ErrTooManyElements)
		}
		if d.Strict {
			if f.Tag < prev {
				return d.errAt(f.Offset, f.Tag, ErrNonCanonical)
			}
			k, n := tlvwire.ConsumeVarint(f.Raw)
			if n != tlvwire.SizeVarint(k) {
				return d.errAt(f.Offset, f.Tag, ErrNonCanonical)
			}
			if !minimalValue(f.Raw[n:], f.Type) {
				return d.errAt(f.Offset+n, f.Tag, ErrNonCanonical)
			}
		}
		prev = f.Tag
		vo := len(f.Raw) - len(f.Value) + f.Offset
		switch f.Type {
		case tlvwire.Message:
			if d.Depth >= d.MaxDepth {
				return d.errAt(vo, f.Tag, ErrDepth)
			}
			d.Depth++
			d.Base += vo
			err := d.validate(f.Value)
			d.Base -= vo
			d.Depth--
			if err != nil {
				return err
			}
		case tlvwire.PackedVarint:
			v := f.Value
			if len(v) > 0 && v[len(v)-1] >= 0x80 {
				return d.errAt(valueStart(f), f.Tag, ErrMalformed)
			}
			for pos := 0; pos < len(v); {
				x, n := tlvwire.ConsumeVarint(v[pos:])
				if n < 0 {
					return d.errAt(vo+pos, f.Tag, tlvwire.CodeError(n))
				}
				if d.Strict && n != tlvwire.SizeVarint(x) {
					return d.errAt(vo+pos, f.Tag, ErrNonCanonical)
				}
				if d.Elements--; d.Elements < 0 {
					return d.errAt(f.Offset, f.Tag, ErrTooManyElements)
				}
				pos += n
			}
		case tlvwire.PackedFixed32, tlvwire.PackedFixed64:
			size := 4
			if f.Type == tlvwire.PackedFixed64 {
				size = 8
			}
			if len(f.Value)%size != 0 {
				return d.errAt(valueStart(f), f.Tag, ErrMalformed)
			}
			if d.Elements -= len(f.Value) / size; d.Elements < 0 {
				return d.errAt(f.Offset, f.Tag, ErrTooManyElements)
			}
		}
	}
	if err := it.Err(); err != nil {
		de := err.(*DecodeError)
		key := it.Offset()
		if de.Tag != 0 && d.Elements < 1 {
			// The key was read but not the value: the field counts first, as in the
			// decoders.
			return d.errAt(key, de.Tag, ErrTooManyElements)
		}
		if d.Strict && de.Tag != 0 {
			// Then strict checks on the key and the value's minimality (SPEC.md §7).
			k, n := tlvwire.ConsumeVarint(data[key:])
			if de.Tag < prev || n != tlvwire.SizeVarint(k) {
				return d.errAt(key, de.Tag, ErrNonCanonical)
			}
			if !minimalValue(data[key+n:], tlvwire.WireType(k&7)) {
				return d.errAt(key+n, de.Tag, ErrNonCanonical)
			}
		}
		return d.errAt(de.Offset, de.Tag, de.Err)
	}
	return nil
}

// valueStart returns the offset of f's value: its first byte after the key.
func valueStart(f tlvwire.Field) int {
	_, n := tlvwire.ConsumeVarint(f.Raw)
	return f.Offset + n
}

// Walk calls fn for every field of data, depth first, descending into Message fields
// (unless fn returns SkipMessage for one). path holds the tags from the top down to the
// field, the field's own tag last; it is reused between calls, so copy it to keep it.
// Field offsets are from the start of data. Walk stops at the first error of fn (other
// than SkipMessage) or of the input, and at depth 64.
func Walk(data []byte, fn func(path []uint32, f tlvwire.Field) error) error {
	var path [DefaultMaxDepth]uint32
	return walk(data, 0, path[:0], fn)
}

func walk(data []byte, base int, path []uint32, fn func([]uint32, tlvwire.Field) error) error {
	it := tlvwire.NewIter(data)
	for it.Next() {
		f := it.Field()
		f.Offset += base
		p := append(path, f.Tag)
		err := fn(p, f)
		if errors.Is(err, SkipMessage) {
			continue
		}
		if err != nil {
			return err
		}
		if f.Type == tlvwire.Message {
			if len(p) >= DefaultMaxDepth {
				return &DecodeError{Offset: f.Offset + len(f.Raw) - len(f.Value), Tag: f.Tag, Err: ErrDepth}
			}
			if err := walk(f.Value, f.Offset+len(f.Raw)-len(f.Value), p, fn); err != nil {
				return err
			}
		}
	}
	if err := it.Err(); err != nil {
		de := err.(*DecodeError)
		return &DecodeError{Offset: de.Offset + base, Tag: de.Tag, Err: de.Err}
	}
	return nil
}

// Dump writes an indented, human-readable tree of the message in data to w, without a
// schema: one line per field with its tag, wire type and value; nested messages indented
// inside braces; text shown quoted and other bytes in hex; varints shown both unsigned and
// zigzag-decoded. Long values are abbreviated. A malformed part ends the dump with an
// error line and the returned error.
func Dump(w io.Writer, data []byte) error {
	bw := bufio.NewWriter(w)
	err := dump(bw, data, 0, 0)
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return err
}

const (
	dumpMaxBytes    = 64
	dumpMaxElements = 16
)

func dump(w *bufio.Writer, data []byte, base, depth int) error {
	indent := strings.Repeat("  ", depth)
	it := tlvwire.NewIter(data)
	for it.Next() {
		f := it.Field()
		fmt.Fprintf(w, "%s%d: %s ", indent, f.Tag, f.Type)
		switch f.Type {
		case tlvwire.Varint:
			fmt.Fprintf(w, "%d (zigzag %d)\n", f.Num, f.Int())
		case tlvwire.Fixed32:
			fmt.Fprintf(w, "%v (0x%08x)\n", math.Float32frombits(uint32(f.Num)), f.Num)
		case tlvwire.Fixed64:
			fmt.Fprintf(w, "%v (0x%016x)\n", math.Float64frombits(f.Num), f.Num)
		case tlvwire.Bytes:
			w.WriteString(quoteBytes(f.Value))
			w.WriteByte('\n')
		case tlvwire.Message:
			vo := base + f.Offset + len(f.Raw) - len(f.Value)
			if len(f.Value) == 0 {
				w.WriteString("{}\n")
				continue
			}
			if depth+1 >= DefaultMaxDepth {
				fmt.Fprintf(w, "{ !%v }\n", ErrDepth)
				return &DecodeError{Offset: vo, Tag: f.Tag, Err: ErrDepth}
			}
			w.WriteString("{\n")
			if err := dump(w, f.Value, vo, depth+1); err != nil {
				return err
			}
			fmt.Fprintf(w, "%s}\n", indent)
		default:
			if err := dumpPacked(w, f); err != nil {
				return &DecodeError{Offset: base + valueStart(f), Tag: f.Tag, Err: err}
			}
		}
	}
	if err := it.Err(); err != nil {
		de := err.(*DecodeError)
		fmt.Fprintf(w, "%s!%v\n", indent, de.Err)
		return &DecodeError{Offset: de.Offset + base, Tag: de.Tag, Err: de.Err}
	}
	return nil
}

func dumpPacked(w *bufio.Writer, f tlvwire.Field) error {
	v := f.Value
	w.WriteByte('[')
	n := 0
	for len(v) > 0 {
		if n == dumpMaxElements {
			w.WriteString(" …")
			break
		}
		if n > 0 {
			w.WriteByte(' ')
		}
		switch f.Type {
		case tlvwire.PackedVarint:
			x, m := tlvwire.ConsumeVarint(v)
			if m < 0 || (m == len(v) && v[len(v)-1] >= 0x80) {
				w.WriteString("!malformed]\n")
				return ErrMalformed
			}
			w.WriteString(strconv.FormatUint(x, 10))
			v = v[m:]
		case tlvwire.PackedFixed32:
			if len(v) < 4 {
				w.WriteString("!malformed]\n")
				return ErrMalformed
			}
			w.WriteString(strconv.FormatFloat(float64(math.Float32frombits(leUint32(v))), 'g', -1, 32))
			v = v[4:]
		default:
			if len(v) < 8 {
				w.WriteString("!malformed]\n")
				return ErrMalformed
			}
			w.WriteString(strconv.FormatFloat(math.Float64frombits(leUint64(v)), 'g', -1, 64))
			v = v[8:]
		}
		n++
	}
	w.WriteString("]\n")
	return nil
}

func quoteBytes(b []byte) string {
	short := b
	if len(short) > dumpMaxBytes {
		short = short[:dumpMaxBytes]
		// Do not cut a UTF-8 sequence in half.
		for len(short) > 0 && !utf8.Valid(short) && len(b)-len(short) < utf8.UTFMax {
			short = short[:len(short)-1]
		}
	}
	var s string
	if utf8.Valid(short) && printable(short) {
		s = strconv.Quote(string(short))
	} else {
		s = fmt.Sprintf("0x%x", short)
	}
	if len(short) < len(b) {
		s += fmt.Sprintf("… (%d bytes)", len(b))
	}
	return s
}

func printable(b []byte) bool {
	for _, r := range string(b) {
		if !strconv.IsPrint(r) && r != '\n' && r != '\t' {
			return false
		}
	}
	return true
}

// Get returns the field at path in the record data, without a schema: path[0] is a tag of
// the top-level message, path[1] a tag inside that field's message, and so on. Where a tag
// occurs more than once, the last occurrence counts (as for a decoder). Every element of
// the path but the last must be a Message field. Offsets in the result are from the start
// of data. It returns an error wrapping ErrNotFound when a tag is absent.
func Get(data []byte, path []uint32) (tlvwire.Field, error) {
	if len(path) == 0 || len(path) > DefaultMaxDepth {
		return tlvwire.Field{}, fmt.Errorf("tlv: path of %d tags (want 1..%d): %w", len(path), DefaultMaxDepth, ErrNotFound)
	}
	base := 0
	for i, tag := range path {
		f, found, err := lastField(data, tag)
		if err != nil {
			de := err.(*DecodeError)
			return tlvwire.Field{}, &DecodeError{Offset: base + de.Offset, Tag: de.Tag, Err: de.Err}
		}
		if !found {
			return tlvwire.Field{}, fmt.Errorf("tlv: tag %d of path %v: %w", tag, path[:i+1], ErrNotFound)
		}
		f.Offset += base
		if i == len(path)-1 {
			return f, nil
		}
		if f.Type != tlvwire.Message {
			return tlvwire.Field{}, &DecodeError{Offset: f.Offset, Tag: tag, Err: ErrWireType}
		}
		base = f.Offset + len(f.Raw) - len(f.Value)
		data = f.Value
	}
	panic("unreachable")
}

func lastField(data []byte, tag uint32) (tlvwire.Field, bool, error) {
	var out tlvwire.Field
	found := false
	it := tlvwire.NewIter(data)
	for it.Next() {
		if f := it.Field(); f.Tag == tag {
			out, found = f, true
		}
	}
	return out, found, it.Err()
}

// Set returns a copy of the record data with the field at path replaced by field, a
// complete encoded field (build it with tlvwire's Append*Field functions) whose tag is the
// last element of path; a nil field deletes. Every occurrence of the last tag in its
// message is removed and field is inserted at its canonical position (after smaller and
// equal tags, before larger). Missing intermediate messages are created; an existing one
// (the last occurrence of its tag) is rewritten in place with its new length. data is not
// modified, and other fields keep their bytes, so unknown fields survive. field is checked
// as Valid checks a record (a message field's content included), so Set never makes a
// Valid record invalid.
func Set(data []byte, path []uint32, field []byte) ([]byte, error) {
	if len(path) == 0 || len(path) > DefaultMaxDepth {
		return nil, fmt.Errorf("tlv: path of %d tags (want 1..%d): %w", len(path), DefaultMaxDepth, ErrNotFound)
	}
	if field != nil {
		tag, _, n := tlvwire.ConsumeField(field)
		if n < 0 {
			return nil, fmt.Errorf("tlv: Set: malformed field: %w", tlvwire.CodeError(n))
		}
		if n != len(field) || tag != path[len(path)-1] {
			return nil, fmt.Errorf("tlv: Set: field must be one field with tag %d: %w", path[len(path)-1], ErrMalformed)
		}
		// Its content too, as Valid checks it: a Valid record stays Valid.
		if err := (DecodeOptions{}).Validate(field); err != nil {
			return nil, fmt.Errorf("tlv: Set: field content: %w", err)
		}
	}
	return set(data, 0, path, field)
}

func set(data []byte, base int, path []uint32, field []byte) ([]byte, error) {
	tag := path[0]
	// Find the position of the last occurrence and where tag belongs in order.
	last, lastEnd, insertAt := -1, -1, -1
	var lastF tlvwire.Field
	it := tlvwire.NewIter(data)
	for it.Next() {
		f := it.Field()
		if f.Tag == tag {
			last, lastEnd, lastF = f.Offset, f.Offset+len(f.Raw), f
		}
		if insertAt < 0 && f.Tag > tag {
			insertAt = f.Offset
		}
	}
	if err := it.Err(); err != nil {
		de := err.(*DecodeError)
		return nil, &DecodeError{Offset: base + de.Offset, Tag: de.Tag, Err: de.Err}
	}
	if insertAt < 0 {
		insertAt = len(data)
	}
	out := make([]byte, 0, len(data)+len(field)+16)
	if len(path) == 1 {
		// Drop every occurrence of tag, insert field in order.
		it := tlvwire.NewIter(data)
		inserted := false
		for it.Next() {
			f := it.Field()
			if !inserted && f.Offset >= insertAt {
				out = append(out, field...)
				inserted = true
			}
			if f.Tag != tag {
				out = append(out, f.Raw...)
			}
		}
		if !inserted {
			out = append(out, field...)
		}
		return out, nil
	}
	var inner []byte
	if last >= 0 {
		if lastF.Type != tlvwire.Message {
			return nil, &DecodeError{Offset: base + last, Tag: tag, Err: ErrWireType}
		}
		vo := last + len(lastF.Raw) - len(lastF.Value)
		var err error
		if inner, err = set(lastF.Value, base+vo, path[1:], field); err != nil {
			return nil, err
		}
		out = append(out, data[:last]...)
		out = tlvwire.AppendBytes(tlvwire.AppendTag(out, tag, tlvwire.Message), inner)
		return append(out, data[lastEnd:]...), nil
	}
	if field == nil {
		return append(out, data...), nil // nothing to delete
	}
	inner, err := set(nil, 0, path[1:], field)
	if err != nil {
		return nil, err
	}
	out = append(out, data[:insertAt]...)
	out = tlvwire.AppendBytes(tlvwire.AppendTag(out, tag, tlvwire.Message), inner)
	return append(out, data[insertAt:]...), nil
}
