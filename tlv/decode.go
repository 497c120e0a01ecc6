package tlv

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"time"
	"unsafe"

	"github.com/bulwark-go/bulwark/tlv/internal/decstate"
	"github.com/bulwark-go/bulwark/tlv/tlvwire"
)

// Unmarshal decodes data into v, a non-nil pointer to a struct (or a tlvwire.Unmarshaler), with
// the default limits of DecodeOptions. v is reset first: fields absent from data end up
// zero. Strings and byte slices are copied; nothing in v aliases data (short ones share
// blocks of at most 1 KiB, see the package documentation). After an error, v
// holds whatever was decoded before it.
func Unmarshal(data []byte, v any) error {
	return DecodeOptions{}.Unmarshal(data, v)
}

// Unmarshal decodes data into v within the limits of o. Errors about the input are
// *DecodeError values wrapping one of the sentinels; an unsupported v gives an error
// wrapping ErrUnsupportedType.
func (o DecodeOptions) Unmarshal(data []byte, v any) error {
	// The state lives on the stack for the reflection codec; it only moves to the heap
	// (escapes) when handed to an Unmarshaler method, see callUnmarshaler.
	var d decoder
	if err := o.init(&d, len(data)); err != nil {
		return err
	}
	return d.unmarshal(data, v)
}

func (d *decoder) unmarshal(data []byte, v any) error {
	if p, ptr, ok := cachedPointerPlan(v); ok && ptr != nil {
		reflect.NewAt(p.typ, ptr).Elem().SetZero()
		return p.decode(d, data, ptr)
	}
	if u, ok := v.(tlvwire.Unmarshaler); ok && !isNilPointer(v) {
		return d.callUnmarshaler(u, data)
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Type().Elem().Kind() != reflect.Struct {
		return fmt.Errorf("tlv: cannot decode into %T (want a non-nil pointer to a struct): %w", v, ErrUnsupportedType)
	}
	p, err := planFor(rv.Type().Elem())
	if err != nil {
		return err
	}
	rememberPointerPlan(v, p)
	rv.Elem().SetZero()
	return p.decode(d, data, rv.UnsafePointer())
}

// callUnmarshaler runs u on data with a heap copy of d, so that d itself does not escape
// (an interface method call makes its arguments escape), and takes the copy's
// accounting back. One heap copy serves a whole decode: it is charged to the memory
// budget once and reused by every later call (a message may hold many fields whose type
// has its own UnmarshalTLV). A state already on the heap is passed as it is.
func (d *decoder) callUnmarshaler(u tlvwire.Unmarshaler, data []byte) error {
	hd := d.Heap
	if hd == &d.State {
		// Passing hd, not d, keeps a stack state from escaping.
		return u.UnmarshalTLV(data, wire(hd))
	}
	if hd == nil {
		if err := d.Alloc(int(unsafe.Sizeof(decstate.State{}))); err != nil {
			if d.Depth > 1 {
				return err // a nested value: the caller names its field's key
			}
			return d.errAt(0, 0, err) // the input as a whole
		}
		hd = new(decstate.State)
	}
	*hd = d.State
	hd.Heap = hd
	err := u.UnmarshalTLV(data, wire(hd))
	d.State = *hd
	d.Heap = hd
	return err
}

// arenaMax is the longest string or byte slice that copyOut places in a shared block;
// arenaBlock is the largest such block.
const (
	arenaMax   = 128
	arenaBlock = 1024
)

// copyOut returns a copy of v, the content of a string or byte slice found at offset off
// of the current message, with len == cap. Values up to arenaMax bytes are carved from
// blocks of at most arenaBlock bytes shared by the values of this decode, which saves an
// allocation per value; a block is never larger than the input left from off, so blocks
// hold at most the input's bytes plus less than arenaMax per block, and each is charged
// to the memory budget before it is allocated.
func (d *decoder) copyOut(v []byte, off int) ([]byte, error) {
	n := len(v)
	if n > arenaMax {
		if err := d.AllocData(n); err != nil {
			return nil, err
		}
		b := make([]byte, n)
		copy(b, v)
		return b, nil
	}
	if n > len(d.Arena) {
		size := max(min(d.Total-(d.Base+off), arenaBlock), n)
		if err := d.AllocData(size); err != nil {
			return nil, err
		}
		d.Arena = make([]byte, size)
	}
	b := d.Arena[:n:n]
	copy(b, v)
	d.Arena = d.Arena[n:]
	return b, nil
}

// copyString is copyOut for a string value; the block bytes it uses are never written
// again, so the string stays immutable.
func (d *decoder) copyString(v []byte, off int) (string, error) {
	if len(v) == 0 {
		return "", nil
	}
	b, err := d.copyOut(v, off)
	if err != nil {
		return "", err
	}
	return unsafe.String(unsafe.SliceData(b), len(b)), nil
}

// decode reads the fields in data into the struct at ptr, which is zero or holds fields
// decoded earlier from the same message (a lenient duplicate).
func (p *structPlan) decode(d *decoder, data []byte, ptr unsafe.Pointer) error {
	var prevTag uint32
	prevKnown := false
	var lastUnknown uint32
	unknownSorted := true
	unknownCount := 0
	off := 0
	for off < len(data) {
		start := off
		var tag uint32
		var wt tlvwire.WireType
		if c := data[off]; c < 0x80 {
			tag, wt = uint32(c>>3), tlvwire.WireType(c&7)
			if tag == 0 {
				return d.errAt(start, 0, ErrTag)
			}
			off++
		} else {
			t, w, n := tlvwire.ConsumeTag(data[off:])
			if n < 0 {
				return d.errAt(start, 0, tlvwire.CodeError(n))
			}
			if d.Strict && n != tlvwire.SizeTag(t) {
				return d.errAt(start, t, ErrNonCanonical)
			}
			tag, wt = t, w
			off += n
		}
		if d.Elements--; d.Elements < 0 {
			return d.errAt(start, tag, ErrTooManyElements)
		}
		var f *fieldPlan
		if tag < uint32(len(p.byTag)) { // lookup's dense case, inline
			if i := p.byTag[tag]; i != 0 {
				f = &p.fields[i-1]
			}
		} else {
			f = p.lookup(tag)
		}
		// Strict: ascending tags; an equal tag only continues a repeated field whose
		// elements use two wire types (time.Time's two forms). Checked before the wire
		// type, as generated code does, so both name the same error.
		if d.Strict && (tag < prevTag || (tag == prevTag && (f != nil || prevKnown) && !(f != nil && prevKnown && (f.kind == kRepeated || f.kind == kMap)))) {
			return d.errAt(start, tag, ErrNonCanonical)
		}
		if f != nil && (f.accept&(1<<wt) == 0 || (d.Strict && f.strictAcc&(1<<wt) == 0)) {
			// Both modes: kept as unknown, the value would be dropped or written back
			// under a tag the struct declares (SPEC.md §6).
			return d.errAt(start, tag, ErrWireType)
		}
		prevTag, prevKnown = tag, f != nil
		if f == nil {
			if d.Strict {
				// A varint is checked before it is used (a length before the bytes it
				// declares), as generated code does.
				if !minimalValue(data[off:], wt) {
					return d.errAt(off, tag, ErrNonCanonical)
				}
			}
			n := tlvwire.ConsumeValue(data[off:], wt)
			if n < 0 {
				return d.errAt(off, tag, tlvwire.CodeError(n))
			}
			if d.Strict && !p.hasUnknown {
				return d.errAt(start, tag, ErrUnknownField)
			}
			off += n
			if p.hasUnknown {
				u := (*Unknown)(unsafe.Add(ptr, p.unknownOff))
				if err := d.growUnknown(u, off-start); err != nil {
					return d.errAt(start, tag, err)
				}
				*u = append(*u, data[start:off]...)
				if tag < lastUnknown {
					unknownSorted = false
				}
				unknownCount++
				lastUnknown = tag
			}
			continue
		}
		var err error
		fp := unsafe.Add(ptr, f.off)
		switch f.kind {
		case kRepeated, kMap:
			off, err = d.decodeRun(f.c, data, start, fp, tag)
		default:
			off, err = d.decodeValue(f.c, wt, data, off, fp, tag, false)
		}
		if err != nil {
			// Errors about the field as a whole (limits, its form) arrive bare.
			return d.keyErr(start, tag, err)
		}
	}
	if !unknownSorted {
		u := (*Unknown)(unsafe.Add(ptr, p.unknownOff))
		s, err := wire(&d.State).SortUnknown(*u)
		if err != nil {
			return d.errAt(len(data), 0, err)
		}
		*u = s
	}
	return nil
}

func (d *decoder) growUnknown(u *Unknown, n int) error {
	if len(*u)+n <= cap(*u) {
		return nil
	}
	newCap := max(2*cap(*u), len(*u)+n)
	if err := d.AllocData(newCap); err != nil {
		return err
	}
	nu := make(Unknown, len(*u), newCap)
	copy(nu, *u)
	*u = nu
	return nil
}

// minimalValue reports whether the value at the start of v does not use a non-minimal
// varint for its number or length (a malformed varint is left to tlvwire.ConsumeValue).
func minimalValue(v []byte, wt tlvwire.WireType) bool {
	switch wt {
	case tlvwire.Fixed32, tlvwire.Fixed64:
		return true
	}
	x, n := tlvwire.ConsumeVarint(v)
	return n < 0 || n == tlvwire.SizeVarint(x)
}

// readVarint reads a varint at data[off:], checking minimality in strict mode.
func (d *decoder) readVarint(data []byte, off int, tag uint32) (uint64, int, error) {
	if off < len(data) && data[off] < 0x80 {
		return uint64(data[off]), off + 1, nil
	}
	v, n := tlvwire.ConsumeVarint(data[off:])
	if n < 0 {
		return 0, off, d.errAt(off, tag, tlvwire.CodeError(n))
	}
	if d.Strict && n != tlvwire.SizeVarint(v) {
		return 0, off, d.errAt(off, tag, ErrNonCanonical)
	}
	return v, off + n, nil
}

// readLen reads a length-delimited value at data[off:] and returns its content and the
// offset of the content.
func (d *decoder) readLen(data []byte, off int, tag uint32) ([]byte, int, error) {
	if off < len(data) && data[off] < 0x80 {
		// A one-byte length, the common case.
		next := off + 1
		if int(data[off]) > len(data)-next {
			return nil, off, d.errAt(off, tag, ErrLength)
		}
		end := next + int(data[off])
		return data[next:end:end], next, nil
	}
	l, next, err := d.readVarint(data, off, tag)
	if err != nil {
		return nil, off, err
	}
	if l > uint64(len(data)-next) {
		return nil, off, d.errAt(off, tag, ErrLength)
	}
	end := next + int(l)
	return data[next:end:end], next, nil
}

// storeInt stores the zigzag or plain varint u into an integer of kind k, or reports
// ErrRange. Zigzag maps an N-bit signed range onto [0, 2^N), so one unsigned bound
// checks both.
func storeInt(k kind, p unsafe.Pointer, u uint64) bool {
	switch k {
	case kBool:
		if u > 1 {
			return false
		}
		*(*bool)(p) = u == 1
	case kInt8:
		if u >= 1<<8 {
			return false
		}
		*(*int8)(p) = int8(tlvwire.Unzigzag(u))
	case kInt16:
		if u >= 1<<16 {
			return false
		}
		*(*int16)(p) = int16(tlvwire.Unzigzag(u))
	case kInt32:
		if u >= 1<<32 {
			return false
		}
		*(*int32)(p) = int32(tlvwire.Unzigzag(u))
	case kInt64:
		*(*int64)(p) = tlvwire.Unzigzag(u)
	case kUint8:
		if u >= 1<<8 {
			return false
		}
		*(*uint8)(p) = uint8(u)
	case kUint16:
		if u >= 1<<16 {
			return false
		}
		*(*uint16)(p) = uint16(u)
	case kUint32:
		if u >= 1<<32 {
			return false
		}
		*(*uint32)(p) = uint32(u)
	case kUint64:
		*(*uint64)(p) = u
	}
	return true
}

// storeFloat stores a fixed32 (wide=false) or fixed64 value into a float of kind k.
func storeFloat(k kind, p unsafe.Pointer, bits uint64, wide bool) bool {
	if k == kFloat64 {
		if wide {
			*(*uint64)(p) = bits
		} else {
			*(*float64)(p) = tlvwire.WidenFloat32(uint32(bits))
		}
		return true
	}
	if !wide {
		*(*uint32)(p) = uint32(bits)
		return true
	}
	f32, ok := tlvwire.NarrowFloat64(bits)
	if !ok {
		return false
	}
	*(*float32)(p) = f32
	return true
}

// decodeValue decodes the value of wire type wt at data[off:] into p and returns the offset
// after it. fresh says p is known to be zero memory. An error reading the value is a
// *DecodeError at the value (or inside it); an error about the field as a whole (a limit,
// a strict form) is returned bare, and the caller places it at the field's key (keyErr),
// as tlvwire.DecodeError's rule says.
func (d *decoder) decodeValue(c *codec, wt tlvwire.WireType, data []byte, off int, p unsafe.Pointer, tag uint32, fresh bool) (int, error) {
	switch c.kind {
	case kInt64, kUint64:
		// The widest integers take any value: no range check, no call to storeInt.
		var u uint64
		next := off + 1
		if off < len(data) && data[off] < 0x80 {
			u = uint64(data[off])
		} else {
			var err error
			if u, next, err = d.readVarint(data, off, tag); err != nil {
				return off, err
			}
		}
		if c.kind == kInt64 {
			*(*int64)(p) = tlvwire.Unzigzag(u)
		} else {
			*(*uint64)(p) = u
		}
		return next, nil
	case kBool, kInt8, kInt16, kInt32, kUint8, kUint16, kUint32:
		u, next, err := d.readVarint(data, off, tag)
		if err != nil {
			return off, err
		}
		if !storeInt(c.kind, p, u) {
			return off, d.errAt(off, tag, ErrRange)
		}
		return next, nil
	case kFloat32, kFloat64:
		var bits uint64
		n := 8
		if wt == tlvwire.Fixed32 {
			n = 4
		}
		if len(data)-off < n {
			return off, d.errAt(off, tag, ErrTruncated)
		}
		if n == 4 {
			bits = uint64(leUint32(data[off:]))
		} else {
			bits = leUint64(data[off:])
		}
		if !storeFloat(c.kind, p, bits, n == 8) {
			return off, d.errAt(off, tag, ErrRange)
		}
		return off + n, nil
	case kString:
		v, vo, err := d.readLen(data, off, tag)
		if err != nil {
			return off, err
		}
		str, err := d.copyString(v, vo)
		if err != nil {
			return off, err // a limit: the caller names the field's key
		}
		*(*string)(p) = str
		return vo + len(v), nil
	case kBytes:
		v, vo, err := d.readLen(data, off, tag)
		if err != nil {
			return off, err
		}
		if len(v) == 0 {
			*(*[]byte)(p) = nil
		} else {
			cp, err := d.copyOut(v, vo)
			if err != nil {
				return off, err
			}
			*(*[]byte)(p) = cp
		}
		return vo + len(v), nil
	case kTime:
		t, n, err := tlvwire.ConsumeTime(data[off:], wt, d.Strict)
		if err != nil {
			return off, d.errAt(off, tag, err)
		}
		*(*time.Time)(p) = t
		return off + n, nil
	case kStruct, kCustom:
		v, vo, err := d.readLen(data, off, tag)
		if err != nil {
			return off, err
		}
		if err := d.decodeMessage(c, v, vo, p, tag, fresh); err != nil {
			return off, err
		}
		return vo + len(v), nil
	case kPtr:
		if err := d.Alloc(int(c.elem.size)); err != nil {
			return off, err
		}
		np := reflect.New(c.elem.typ).UnsafePointer()
		next, err := d.decodeValue(c.elem, wt, data, off, np, tag, true)
		if err != nil {
			return off, err
		}
		*(*unsafe.Pointer)(p) = np
		return next, nil
	case kPacked:
		return d.decodePacked(c, wt, data, off, p, tag, fresh)
	case kRepeated, kMap:
		// Only reached for a repeated element or map value, which the plan forbids.
	}
	return off, d.errAt(off, tag, ErrUnsupportedType)
}

func leUint32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func leUint64(b []byte) uint64 {
	_ = b[7]
	return uint64(leUint32(b)) | uint64(leUint32(b[4:]))<<32
}

// decodeMessage decodes the content v (at offset vo of the current message) of a struct,
// time or custom value into p.
func (d *decoder) decodeMessage(c *codec, v []byte, vo int, p unsafe.Pointer, tag uint32, fresh bool) error {
	if d.Depth >= d.MaxDepth {
		return d.errAt(vo, tag, ErrDepth)
	}
	d.Depth++
	d.Base += vo
	var err error
	switch {
	case c.kind == kCustom && c.unmarshal:
		err = d.callUnmarshaler(reflect.NewAt(c.typ, p).Interface().(tlvwire.Unmarshaler), v)
	default:
		if !fresh {
			reflect.NewAt(c.typ, p).Elem().SetZero()
		}
		err = c.st.decode(d, v, p)
	}
	d.Base -= vo
	d.Depth--
	return err
}

// growSlice makes room for n more elements in the slice at p, charging the new backing
// array to the memory budget before it is allocated.
func (d *decoder) growSlice(c *codec, p unsafe.Pointer, n int) error {
	h := (*sliceHeader)(p)
	if h.cap-h.len >= n {
		return nil
	}
	newCap := decstate.AppendCap(h.cap, h.len+n)
	if c.kind == kPacked {
		if err := d.AllocData(newCap * int(c.elem.size)); err != nil {
			return err
		}
		// Pointer-free elements: a plain word array (8-byte aligned) holds them as well as
		// a typed one, without going through reflect.
		size := int(c.elem.size)
		words := make([]uint64, (newCap*size+7)/8)
		nd := unsafe.Pointer(unsafe.SliceData(words))
		if h.len > 0 {
			copy(unsafe.Slice((*byte)(nd), h.len*size), unsafe.Slice((*byte)(h.data), h.len*size))
		}
		h.data, h.cap = nd, newCap
		return nil
	}
	if err := d.Alloc(newCap * int(c.elem.size)); err != nil {
		return err
	}
	reflect.NewAt(c.typ, p).Elem().Grow(n)
	return nil
}

// decodePacked decodes a packed field, or in lenient mode one unpacked element, appending
// to the slice at p.
func (d *decoder) decodePacked(c *codec, wt tlvwire.WireType, data []byte, off int, p unsafe.Pointer, tag uint32, fresh bool) (int, error) {
	ek := c.elem.kind
	h := (*sliceHeader)(p)
	if !wt.LengthDelimited() {
		// A single unpacked element: accepted for schema evolution (T → []T).
		if d.Strict {
			return off, ErrNonCanonical // the field's form: its key
		}
		if err := d.growSlice(c, p, 1); err != nil {
			return off, err
		}
		h.len++
		next, err := d.decodeValue(c.elem, wt, data, off, unsafe.Add(h.data, uintptr(h.len-1)*c.elem.size), tag, true)
		if err != nil {
			h.len--
			return off, err
		}
		return next, nil
	}
	v, vo, err := d.readLen(data, off, tag)
	if err != nil {
		return off, err
	}
	end := vo + len(v)
	var n int
	switch wt {
	case tlvwire.PackedFixed32, tlvwire.PackedFixed64:
		size := 4
		if wt == tlvwire.PackedFixed64 {
			size = 8
		}
		if len(v)%size != 0 {
			return off, d.errAt(off, tag, ErrMalformed)
		}
		n = len(v) / size
	default:
		if len(v) > 0 && v[len(v)-1] >= 0x80 {
			return off, d.errAt(off, tag, ErrMalformed)
		}
		for _, x := range v {
			if x < 0x80 {
				n++
			}
		}
	}
	if n == 0 {
		if d.Strict && !fresh {
			return off, ErrNonCanonical
		}
		return end, nil
	}
	if d.Elements -= n; d.Elements < 0 {
		return off, ErrTooManyElements
	}
	if err := d.growSlice(c, p, n); err != nil {
		return off, err
	}
	base := unsafe.Add(h.data, uintptr(h.len)*c.elem.size)
	size := c.elem.size
	switch wt {
	case tlvwire.PackedFixed32, tlvwire.PackedFixed64:
		step := len(v) / n
		for i := 0; i < n; i++ {
			var bits uint64
			if step == 4 {
				bits = uint64(leUint32(v[i*4:]))
			} else {
				bits = leUint64(v[i*8:])
			}
			if !storeFloat(ek, unsafe.Add(base, uintptr(i)*size), bits, step == 8) {
				return off, d.errAt(vo+i*step, tag, ErrRange)
			}
		}
	default:
		pos := 0
		for i := 0; i < n; i++ {
			var u uint64
			if x := v[pos]; x < 0x80 {
				u = uint64(x)
				pos++
			} else {
				var m int
				u, m = tlvwire.ConsumeVarint(v[pos:])
				if m < 0 {
					return off, d.errAt(vo+pos, tag, tlvwire.CodeError(m))
				}
				if d.Strict && m != tlvwire.SizeVarint(u) {
					return off, d.errAt(vo+pos, tag, ErrNonCanonical)
				}
				pos += m
			}
			if !storeInt(ek, unsafe.Add(base, uintptr(i)*size), u) {
				return off, d.errAt(vo+elemStart(v, pos), tag, ErrRange)
			}
		}
	}
	h.len += n
	return end, nil
}

// keyErr wraps err, an error about the field whose key is at off (a limit or the field's
// form, returned bare by the code reading its value), in a *DecodeError naming that key;
// an error that already is a *DecodeError is returned unchanged.
func (d *decoder) keyErr(off int, tag uint32, err error) error {
	var de *DecodeError
	if errors.As(err, &de) {
		return err
	}
	return d.errAt(off, tag, err)
}

// elemStart returns the offset in v of the first byte of the varint that ends just before
// end (packed content, where end follows a complete varint).
func elemStart(v []byte, end int) int {
	i := end - 1
	for i > 0 && v[i-1] >= 0x80 {
		i--
	}
	return i
}

// scanRun counts the fields from data[start:] that begin with the same key bytes as the
// field at start, stopping at the first other or malformed field. It returns the count and
// the offset after the run.
func scanRun(data []byte, start, keyLen int) (int, int) {
	key := data[start : start+keyLen]
	wt := tlvwire.WireType(key[0] & 7)
	n, off := 0, start
	for off < len(data) && len(data)-off > keyLen && bytes.Equal(data[off:off+keyLen], key) {
		m := tlvwire.ConsumeValue(data[off+keyLen:], wt)
		if m < 0 {
			break
		}
		off += keyLen + m
		n++
	}
	if n == 0 {
		n = 1 // the first field is malformed; decoding it reports the error
	}
	return n, off
}

// decodeRun decodes the contiguous fields of a repeated or map field starting at the key at
// data[start:], sizing the slice or map once from the fields actually present.
func (d *decoder) decodeRun(c *codec, data []byte, start int, p unsafe.Pointer, tag uint32) (int, error) {
	_, wt, keyLen := tlvwire.ConsumeTag(data[start:])
	cnt, _ := scanRun(data, start, keyLen)
	if cnt > 1 {
		// The first field was counted by the caller.
		if d.Elements -= cnt - 1; d.Elements < 0 {
			return start, d.errAt(start, tag, ErrTooManyElements)
		}
	}
	if c.kind == kMap {
		return d.decodeMapRun(c, data, start, keyLen, cnt, p, tag)
	}
	if err := d.growSlice(c, p, cnt); err != nil {
		return start, d.errAt(start, tag, err)
	}
	h := (*sliceHeader)(p)
	e := c.elem
	off := start
	for i := 0; i < cnt; i++ {
		key := off
		off += keyLen
		if h.len == h.cap {
			if err := d.growSlice(c, p, 1); err != nil {
				return off, d.errAt(key, tag, err)
			}
		}
		h.len++
		next, err := d.decodeValue(e, wt, data, off, unsafe.Add(h.data, uintptr(h.len-1)*e.size), tag, true)
		if err != nil {
			return off, d.keyErr(key, tag, err)
		}
		off = next
	}
	return off, nil
}

func (d *decoder) decodeMapRun(c *codec, data []byte, start, keyLen, cnt int, p unsafe.Pointer, tag uint32) (int, error) {
	var prevKey []byte
	if c.strMap {
		m := *(*map[string]string)(p)
		if err := d.ChargeMap(c.mapL, m == nil, len(m), cnt); err != nil {
			return start, d.errAt(start, tag, err)
		}
		if m == nil {
			m = make(map[string]string, cnt)
			*(*map[string]string)(p) = m
		}
		// Lenient mode reads the usual entry shape (key field, value field, short lengths)
		// directly; anything else, and strict mode, goes through decodeEntry.
		fast := !d.Strict
		var kv *[2]string
		off := start
		for i := 0; i < cnt; i++ {
			key := off
			off += keyLen
			v, vo, err := d.readLen(data, off, tag)
			if err != nil {
				return off, err
			}
			off = vo + len(v)
			if fast && d.Elements >= 2 {
				if ke, ok := splitStringEntry(v); ok {
					d.Elements -= 2
					k, err := d.copyString(v[2:ke], vo+2)
					if err != nil {
						return off, d.errAt(vo, 1, err)
					}
					val, err := d.copyString(v[ke+2:], vo+ke+2)
					if err != nil {
						return off, d.errAt(vo+ke, 2, err)
					}
					m[k] = val
					continue
				}
			}
			// The key and value escape (decodeEntry stores through them): one heap pair
			// per run, charged.
			if kv == nil {
				if err := d.Alloc(int(unsafe.Sizeof(*kv))); err != nil {
					return off, d.errAt(key, tag, err)
				}
				kv = new([2]string)
			}
			*kv = [2]string{}
			if _, err := d.decodeEntry(c, v, vo, unsafe.Pointer(&kv[0]), unsafe.Pointer(&kv[1]), tag, &prevKey); err != nil {
				return off, d.keyErr(key, tag, err)
			}
			m[kv[0]] = kv[1]
		}
		return off, nil
	}
	mv := reflect.NewAt(c.typ, p).Elem()
	err := d.ChargeMap(c.mapL, mv.IsNil(), mv.Len(), cnt)
	if err == nil {
		// The key and value being decoded.
		if err = d.Alloc(int(c.key.size)); err == nil {
			err = d.Alloc(int(c.elem.size))
		}
	}
	if err != nil {
		return start, d.errAt(start, tag, err)
	}
	if mv.IsNil() {
		mv.Set(reflect.MakeMapWithSize(c.typ, cnt))
	}
	kv := reflect.New(c.key.typ).Elem()
	vv := reflect.New(c.elem.typ).Elem()
	off := start
	for i := 0; i < cnt; i++ {
		key := off
		off += keyLen
		v, vo, err := d.readLen(data, off, tag)
		if err != nil {
			return off, err
		}
		kv.SetZero()
		vv.SetZero()
		if _, err := d.decodeEntry(c, v, vo, unsafe.Pointer(kv.UnsafeAddr()), unsafe.Pointer(vv.UnsafeAddr()), tag, &prevKey); err != nil {
			return off, d.keyErr(key, tag, err)
		}
		mv.SetMapIndex(kv, vv)
		off = vo + len(v)
	}
	return off, nil
}

// splitStringEntry recognises the canonical entry of a map[string]string with lengths
// below 128: key field 1 (Bytes), value field 2 (Bytes), nothing else. It returns the
// offset of the value's key byte; the key content is v[2:ke], the value's v[ke+2:].
func splitStringEntry(v []byte) (int, bool) {
	if len(v) < 4 || v[0] != 1<<3|byte(tlvwire.Bytes) || v[1] >= 0x80 {
		return 0, false
	}
	ke := 2 + int(v[1])
	if len(v)-ke < 2 || v[ke] != 2<<3|byte(tlvwire.Bytes) || v[ke+1] >= 0x80 || len(v)-ke-2 != int(v[ke+1]) {
		return 0, false
	}
	return ke, true
}

// decodeEntry decodes one map entry message v (at offset vo) into the key at kp and the
// value at vp. In strict mode it checks the entry's shape and that its encoded key is
// above *prevKey.
//
// A map entry does not count toward the depth limit (SPEC.md §8): its value, when a
// message, does, through decodeMessage. Generated code counts the same way.
func (d *decoder) decodeEntry(c *codec, v []byte, vo int, kp, vp unsafe.Pointer, tag uint32, prevKey *[]byte) ([]byte, error) {
	d.Base += vo
	keyBytes, err := d.decodeEntryFields(c, v, kp, vp, tag, prevKey)
	d.Base -= vo
	return keyBytes, err
}

func (d *decoder) decodeEntryFields(c *codec, v []byte, kp, vp unsafe.Pointer, tag uint32, prevKey *[]byte) ([]byte, error) {
	var keyBytes []byte
	seen := 0
	off := 0
	for off < len(v) {
		start := off
		ft, wt, n := tlvwire.ConsumeTag(v[off:])
		if n < 0 {
			return nil, d.errAt(off, 0, tlvwire.CodeError(n))
		}
		if d.Elements--; d.Elements < 0 {
			return nil, d.errAt(start, ft, ErrTooManyElements)
		}
		off += n
		var fc *codec
		switch ft {
		case 1:
			fc = c.key
		case 2:
			fc = c.elem
		}
		// Strict: key then value, once each, except that a list value is one field per
		// element (checked before the wire type, as generated code does).
		listMore := ft == 2 && seen == 2 && fc != nil && fc.kind == kRepeated
		if d.Strict && fc != nil && ((int(ft) != seen+1 && !listMore) || n != tlvwire.SizeTag(ft)) {
			return nil, d.errAt(start, ft, ErrNonCanonical)
		}
		if fc == nil || fc.accept&(1<<wt) == 0 || (d.Strict && fc.strictAccept&(1<<wt) == 0) {
			if d.Strict {
				return nil, d.errAt(start, ft, ErrMalformed)
			}
			m := tlvwire.ConsumeValue(v[off:], wt)
			if m < 0 {
				return nil, d.errAt(off, ft, tlvwire.CodeError(m))
			}
			off += m
			continue
		}
		// The key and value start zero (the caller clears them per entry), so their first
		// occurrence is fresh: an empty packed value is canonical there (SPEC.md §5).
		fresh := int(ft) > seen
		seen = max(seen, int(ft))
		p := kp
		if ft == 2 {
			p = vp
		}
		var next int
		var err error
		if fc.kind == kRepeated {
			// A list value: each field is one more element.
			if err := d.growSlice(fc, p, 1); err != nil {
				return nil, d.errAt(start, ft, err)
			}
			h := (*sliceHeader)(p)
			h.len++
			if next, err = d.decodeValue(fc.elem, wt, v, off, unsafe.Add(h.data, uintptr(h.len-1)*fc.elem.size), ft, true); err != nil {
				h.len--
				return nil, d.keyErr(start, ft, err)
			}
		} else if next, err = d.decodeValue(fc, wt, v, off, p, ft, fresh); err != nil {
			return nil, d.keyErr(start, ft, err)
		}
		if ft == 1 {
			keyBytes = v[start:next]
		}
		off = next
	}
	if d.Strict {
		// Key and value are always written; an empty list value has no field.
		// Errors about the entry as a whole: the caller names the map field's key.
		if seen != 2 && (seen != 1 || c.elem.kind != kRepeated) {
			return nil, ErrNonCanonical
		}
		if *prevKey != nil && bytes.Compare(keyBytes, *prevKey) <= 0 {
			return nil, ErrNonCanonical
		}
		*prevKey = keyBytes
	}
	return keyBytes, nil
}
