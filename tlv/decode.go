package tlv

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"time"
	"unsafe"
)

// Unmarshal decodes data into v, a non-nil pointer to a struct (or an Unmarshaler), with
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
	var d DecodeState
	if err := o.init(&d, len(data)); err != nil {
		return err
	}
	return d.unmarshal(data, v)
}

func (d *DecodeState) unmarshal(data []byte, v any) error {
	if p, ptr, ok := cachedPointerPlan(v); ok && ptr != nil {
		reflect.NewAt(p.typ, ptr).Elem().SetZero()
		return p.decode(d, data, ptr)
	}
	if u, ok := v.(Unmarshaler); ok && !isNilPointer(v) {
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
func (d *DecodeState) callUnmarshaler(u Unmarshaler, data []byte) error {
	hd := d.heap
	if hd == d {
		// Passing hd, not d, keeps a stack state from escaping.
		return u.UnmarshalTLV(data, hd)
	}
	if hd == nil {
		if err := d.Alloc(int(unsafe.Sizeof(DecodeState{}))); err != nil {
			return d.errAt(0, 0, err)
		}
		hd = new(DecodeState)
	}
	*hd = *d
	hd.heap = hd
	err := u.UnmarshalTLV(data, hd)
	*d = *hd
	d.heap = hd
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
func (d *DecodeState) copyOut(v []byte, off int) ([]byte, error) {
	n := len(v)
	if n > arenaMax {
		if err := d.allocData(n); err != nil {
			return nil, err
		}
		b := make([]byte, n)
		copy(b, v)
		return b, nil
	}
	if n > len(d.arena) {
		size := max(min(d.total-(d.base+off), arenaBlock), n)
		if err := d.allocData(size); err != nil {
			return nil, err
		}
		d.arena = make([]byte, size)
	}
	b := d.arena[:n:n]
	copy(b, v)
	d.arena = d.arena[n:]
	return b, nil
}

// copyString is copyOut for a string value; the block bytes it uses are never written
// again, so the string stays immutable.
func (d *DecodeState) copyString(v []byte, off int) (string, error) {
	if len(v) == 0 {
		return "", nil
	}
	b, err := d.copyOut(v, off)
	if err != nil {
		return "", err
	}
	return unsafe.String(unsafe.SliceData(b), len(b)), nil
}

// errAt builds a *DecodeError at offset off of the current message.
func (d *DecodeState) errAt(off int, tag uint32, err error) error {
	return &DecodeError{Offset: d.base + off, Tag: tag, Err: err}
}

// decode reads the fields in data into the struct at ptr, which is zero or holds fields
// decoded earlier from the same message (a lenient duplicate).
func (p *structPlan) decode(d *DecodeState, data []byte, ptr unsafe.Pointer) error {
	var prevTag uint32
	prevKnown := false
	var lastUnknown uint32
	unknownSorted := true
	unknownCount := 0
	off := 0
	for off < len(data) {
		start := off
		var tag uint32
		var wt WireType
		if c := data[off]; c < 0x80 {
			tag, wt = uint32(c>>3), WireType(c&7)
			if tag == 0 {
				return d.errAt(start, 0, ErrTag)
			}
			off++
		} else {
			t, w, n := ConsumeTag(data[off:])
			if n < 0 {
				return d.errAt(start, 0, CodeError(n))
			}
			if d.strict && n != SizeTag(t) {
				return d.errAt(start, t, ErrNonCanonical)
			}
			tag, wt = t, w
			off += n
		}
		if d.elements--; d.elements < 0 {
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
		if d.strict && (tag < prevTag || (tag == prevTag && (f != nil || prevKnown) && !(f != nil && prevKnown && (f.kind == kRepeated || f.kind == kMap)))) {
			return d.errAt(start, tag, ErrNonCanonical)
		}
		if f != nil && (f.accept&(1<<wt) == 0 || (d.strict && f.strictAcc&(1<<wt) == 0)) {
			if d.strict {
				return d.errAt(start, tag, ErrWireType)
			}
			f = nil // lenient: a known tag with an unreadable wire type is an unknown field
		}
		prevTag, prevKnown = tag, f != nil
		if f == nil {
			if d.strict {
				// A varint is checked before it is used (a length before the bytes it
				// declares), as generated code does.
				if !minimalValue(data[off:], wt) {
					return d.errAt(start, tag, ErrNonCanonical)
				}
			}
			n := ConsumeValue(data[off:], wt)
			if n < 0 {
				return d.errAt(start, tag, CodeError(n))
			}
			if d.strict && !p.hasUnknown {
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
			return err
		}
	}
	if !unknownSorted {
		u := (*Unknown)(unsafe.Add(ptr, p.unknownOff))
		s, err := d.SortUnknown(*u)
		if err != nil {
			return d.errAt(len(data), 0, err)
		}
		*u = s
	}
	return nil
}

// SortUnknown returns u.Sorted() after charging what sorting allocates, when u is not
// sorted yet: a copy of the fields and an index of 4 bytes per field. Generated code
// calls it after decoding a message that kept unknown fields.
func (d *DecodeState) SortUnknown(u Unknown) (Unknown, error) {
	n, sorted := u.fieldOrder()
	if sorted {
		return u, nil
	}
	if err := d.allocData(4 * n); err != nil {
		return u, err
	}
	if err := d.allocData(len(u)); err != nil {
		return u, err
	}
	return u.Sorted(), nil
}

func (d *DecodeState) growUnknown(u *Unknown, n int) error {
	if len(*u)+n <= cap(*u) {
		return nil
	}
	newCap := max(2*cap(*u), len(*u)+n)
	if err := d.allocData(newCap); err != nil {
		return err
	}
	nu := make(Unknown, len(*u), newCap)
	copy(nu, *u)
	*u = nu
	return nil
}

// minimalValue reports whether the value at the start of v does not use a non-minimal
// varint for its number or length (a malformed varint is left to ConsumeValue).
func minimalValue(v []byte, wt WireType) bool {
	switch wt {
	case Fixed32, Fixed64:
		return true
	}
	x, n := ConsumeVarint(v)
	return n < 0 || n == SizeVarint(x)
}

// readVarint reads a varint at data[off:], checking minimality in strict mode.
func (d *DecodeState) readVarint(data []byte, off int, tag uint32) (uint64, int, error) {
	if off < len(data) && data[off] < 0x80 {
		return uint64(data[off]), off + 1, nil
	}
	v, n := ConsumeVarint(data[off:])
	if n < 0 {
		return 0, off, d.errAt(off, tag, CodeError(n))
	}
	if d.strict && n != SizeVarint(v) {
		return 0, off, d.errAt(off, tag, ErrNonCanonical)
	}
	return v, off + n, nil
}

// readLen reads a length-delimited value at data[off:] and returns its content and the
// offset of the content.
func (d *DecodeState) readLen(data []byte, off int, tag uint32) ([]byte, int, error) {
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
		*(*int8)(p) = int8(Unzigzag(u))
	case kInt16:
		if u >= 1<<16 {
			return false
		}
		*(*int16)(p) = int16(Unzigzag(u))
	case kInt32:
		if u >= 1<<32 {
			return false
		}
		*(*int32)(p) = int32(Unzigzag(u))
	case kInt64:
		*(*int64)(p) = Unzigzag(u)
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
			*(*float64)(p) = WidenFloat32(uint32(bits))
		}
		return true
	}
	if !wide {
		*(*uint32)(p) = uint32(bits)
		return true
	}
	f32, ok := NarrowFloat64(bits)
	if !ok {
		return false
	}
	*(*float32)(p) = f32
	return true
}

// WidenFloat32 returns the float64 equal to the binary32 value bits (SPEC.md §6). A NaN
// keeps its sign and payload bit for bit, the payload shifted into the top of the wider
// mantissa (Go's float64(float32) conversion would set the quiet bit).
func WidenFloat32(bits uint32) float64 {
	if bits&0x7f800000 == 0x7f800000 && bits&0x7fffff != 0 {
		return math.Float64frombits(uint64(bits>>31)<<63 | 0x7ff<<52 | uint64(bits&0x7fffff)<<29)
	}
	return float64(math.Float32frombits(bits))
}

// NarrowFloat64 returns the float32 equal to the binary64 value bits and true, or false
// when none is (SPEC.md §6): a number must be exactly representable. A NaN always narrows:
// it keeps its sign and the top 23 bits of its payload, and when those are all zero (a
// payload only in the low 29 bits) the result is the quiet NaN of that sign. So
// NarrowFloat64(bits of WidenFloat32(x)) gives x back for every x.
func NarrowFloat64(bits uint64) (float32, bool) {
	if bits&(0x7ff<<52) == 0x7ff<<52 && bits&(1<<52-1) != 0 {
		mant := uint32((bits & (1<<52 - 1)) >> 29)
		if mant == 0 {
			mant = 1 << 22
		}
		return math.Float32frombits(uint32(bits>>63)<<31 | 0xff<<23 | mant), true
	}
	f := math.Float64frombits(bits)
	f32 := float32(f)
	if float64(f32) != f {
		return 0, false
	}
	return f32, true
}

// decodeValue decodes the value of wire type wt at data[off:] into p and returns the offset
// after it. fresh says p is known to be zero memory.
func (d *DecodeState) decodeValue(c *codec, wt WireType, data []byte, off int, p unsafe.Pointer, tag uint32, fresh bool) (int, error) {
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
			*(*int64)(p) = Unzigzag(u)
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
		if wt == Fixed32 {
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
			return off, d.errAt(off, tag, err)
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
				return off, d.errAt(off, tag, err)
			}
			*(*[]byte)(p) = cp
		}
		return vo + len(v), nil
	case kTime:
		t, n, err := ConsumeTime(data[off:], wt, d.strict)
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
			return off, d.errAt(off, tag, err)
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
func (d *DecodeState) decodeMessage(c *codec, v []byte, vo int, p unsafe.Pointer, tag uint32, fresh bool) error {
	if d.depth >= d.maxDepth {
		return d.errAt(vo, tag, ErrDepth)
	}
	d.depth++
	d.base += vo
	var err error
	switch {
	case c.kind == kCustom && c.unmarshal:
		err = d.callUnmarshaler(reflect.NewAt(c.typ, p).Interface().(Unmarshaler), v)
	default:
		if !fresh {
			reflect.NewAt(c.typ, p).Elem().SetZero()
		}
		err = c.st.decode(d, v, p)
	}
	d.base -= vo
	d.depth--
	return err
}

// growSlice makes room for n more elements in the slice at p, charging the new backing
// array to the memory budget before it is allocated.
func (d *DecodeState) growSlice(c *codec, p unsafe.Pointer, n int) error {
	h := (*sliceHeader)(p)
	if h.cap-h.len >= n {
		return nil
	}
	newCap := appendCap(h.cap, h.len+n)
	if c.kind == kPacked {
		if err := d.allocData(newCap * int(c.elem.size)); err != nil {
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
func (d *DecodeState) decodePacked(c *codec, wt WireType, data []byte, off int, p unsafe.Pointer, tag uint32, fresh bool) (int, error) {
	ek := c.elem.kind
	h := (*sliceHeader)(p)
	if !wt.LengthDelimited() {
		// A single unpacked element: accepted for schema evolution (T → []T).
		if d.strict {
			return off, d.errAt(off, tag, ErrNonCanonical)
		}
		if err := d.growSlice(c, p, 1); err != nil {
			return off, d.errAt(off, tag, err)
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
	case PackedFixed32, PackedFixed64:
		size := 4
		if wt == PackedFixed64 {
			size = 8
		}
		if len(v)%size != 0 {
			return off, d.errAt(vo, tag, ErrMalformed)
		}
		n = len(v) / size
	default:
		if len(v) > 0 && v[len(v)-1] >= 0x80 {
			return off, d.errAt(vo, tag, ErrMalformed)
		}
		for _, x := range v {
			if x < 0x80 {
				n++
			}
		}
	}
	if n == 0 {
		if d.strict && !fresh {
			return off, d.errAt(off, tag, ErrNonCanonical)
		}
		return end, nil
	}
	if d.elements -= n; d.elements < 0 {
		return off, d.errAt(vo, tag, ErrTooManyElements)
	}
	if err := d.growSlice(c, p, n); err != nil {
		return off, d.errAt(vo, tag, err)
	}
	base := unsafe.Add(h.data, uintptr(h.len)*c.elem.size)
	size := c.elem.size
	switch wt {
	case PackedFixed32, PackedFixed64:
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
				u, m = ConsumeVarint(v[pos:])
				if m < 0 {
					return off, d.errAt(vo+pos, tag, CodeError(m))
				}
				if d.strict && m != SizeVarint(u) {
					return off, d.errAt(vo+pos, tag, ErrNonCanonical)
				}
				pos += m
			}
			if !storeInt(ek, unsafe.Add(base, uintptr(i)*size), u) {
				return off, d.errAt(vo+pos, tag, ErrRange)
			}
		}
	}
	h.len += n
	return end, nil
}

// scanRun counts the fields from data[start:] that begin with the same key bytes as the
// field at start, stopping at the first other or malformed field. It returns the count and
// the offset after the run.
func scanRun(data []byte, start, keyLen int) (int, int) {
	key := data[start : start+keyLen]
	wt := WireType(key[0] & 7)
	n, off := 0, start
	for off < len(data) && len(data)-off > keyLen && bytes.Equal(data[off:off+keyLen], key) {
		m := ConsumeValue(data[off+keyLen:], wt)
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
func (d *DecodeState) decodeRun(c *codec, data []byte, start int, p unsafe.Pointer, tag uint32) (int, error) {
	_, wt, keyLen := ConsumeTag(data[start:])
	cnt, _ := scanRun(data, start, keyLen)
	if cnt > 1 {
		// The first field was counted by the caller.
		if d.elements -= cnt - 1; d.elements < 0 {
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
		off += keyLen
		if h.len == h.cap {
			if err := d.growSlice(c, p, 1); err != nil {
				return off, d.errAt(off, tag, err)
			}
		}
		h.len++
		next, err := d.decodeValue(e, wt, data, off, unsafe.Add(h.data, uintptr(h.len-1)*e.size), tag, true)
		if err != nil {
			return off, err
		}
		off = next
	}
	return off, nil
}

func (d *DecodeState) decodeMapRun(c *codec, data []byte, start, keyLen, cnt int, p unsafe.Pointer, tag uint32) (int, error) {
	var prevKey []byte
	if c.strMap {
		m := *(*map[string]string)(p)
		if err := d.chargeMap(c.mapL, m == nil, len(m), cnt); err != nil {
			return start, d.errAt(start, tag, err)
		}
		if m == nil {
			m = make(map[string]string, cnt)
			*(*map[string]string)(p) = m
		}
		// Lenient mode reads the usual entry shape (key field, value field, short lengths)
		// directly; anything else, and strict mode, goes through decodeEntry.
		fast := !d.strict
		var kv *[2]string
		off := start
		for i := 0; i < cnt; i++ {
			off += keyLen
			v, vo, err := d.readLen(data, off, tag)
			if err != nil {
				return off, err
			}
			off = vo + len(v)
			if fast && d.elements >= 2 {
				if ke, ok := splitStringEntry(v); ok {
					d.elements -= 2
					k, err := d.copyString(v[2:ke], vo+2)
					if err != nil {
						return off, d.errAt(vo+1, 1, err)
					}
					val, err := d.copyString(v[ke+2:], vo+ke+2)
					if err != nil {
						return off, d.errAt(vo+ke+1, 2, err)
					}
					m[k] = val
					continue
				}
			}
			// The key and value escape (decodeEntry stores through them): one heap pair
			// per run, charged.
			if kv == nil {
				if err := d.Alloc(int(unsafe.Sizeof(*kv))); err != nil {
					return off, d.errAt(vo, tag, err)
				}
				kv = new([2]string)
			}
			*kv = [2]string{}
			if _, err := d.decodeEntry(c, v, vo, unsafe.Pointer(&kv[0]), unsafe.Pointer(&kv[1]), tag, &prevKey); err != nil {
				return off, err
			}
			m[kv[0]] = kv[1]
		}
		return off, nil
	}
	mv := reflect.NewAt(c.typ, p).Elem()
	err := d.chargeMap(c.mapL, mv.IsNil(), mv.Len(), cnt)
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
		off += keyLen
		v, vo, err := d.readLen(data, off, tag)
		if err != nil {
			return off, err
		}
		kv.SetZero()
		vv.SetZero()
		if _, err := d.decodeEntry(c, v, vo, unsafe.Pointer(kv.UnsafeAddr()), unsafe.Pointer(vv.UnsafeAddr()), tag, &prevKey); err != nil {
			return off, err
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
	if len(v) < 4 || v[0] != 1<<3|byte(Bytes) || v[1] >= 0x80 {
		return 0, false
	}
	ke := 2 + int(v[1])
	if len(v)-ke < 2 || v[ke] != 2<<3|byte(Bytes) || v[ke+1] >= 0x80 || len(v)-ke-2 != int(v[ke+1]) {
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
func (d *DecodeState) decodeEntry(c *codec, v []byte, vo int, kp, vp unsafe.Pointer, tag uint32, prevKey *[]byte) ([]byte, error) {
	d.base += vo
	keyBytes, err := d.decodeEntryFields(c, v, kp, vp, tag, prevKey)
	d.base -= vo
	return keyBytes, err
}

func (d *DecodeState) decodeEntryFields(c *codec, v []byte, kp, vp unsafe.Pointer, tag uint32, prevKey *[]byte) ([]byte, error) {
	var keyBytes []byte
	seen := 0
	off := 0
	for off < len(v) {
		start := off
		ft, wt, n := ConsumeTag(v[off:])
		if n < 0 {
			return nil, d.errAt(off, 0, CodeError(n))
		}
		if d.elements--; d.elements < 0 {
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
		if d.strict && fc != nil && ((int(ft) != seen+1 && !listMore) || n != SizeTag(ft)) {
			return nil, d.errAt(start, ft, ErrNonCanonical)
		}
		if fc == nil || fc.accept&(1<<wt) == 0 || (d.strict && fc.strictAccept&(1<<wt) == 0) {
			if d.strict {
				return nil, d.errAt(start, ft, ErrMalformed)
			}
			m := ConsumeValue(v[off:], wt)
			if m < 0 {
				return nil, d.errAt(start, ft, CodeError(m))
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
				return nil, err
			}
		} else if next, err = d.decodeValue(fc, wt, v, off, p, ft, fresh); err != nil {
			return nil, err
		}
		if ft == 1 {
			keyBytes = v[start:next]
		}
		off = next
	}
	if d.strict {
		// Key and value are always written; an empty list value has no field.
		if seen != 2 && (seen != 1 || c.elem.kind != kRepeated) {
			return nil, d.errAt(len(v), tag, ErrNonCanonical)
		}
		if *prevKey != nil && bytes.Compare(keyBytes, *prevKey) <= 0 {
			return nil, d.errAt(0, tag, ErrNonCanonical)
		}
		*prevKey = keyBytes
	}
	return keyBytes, nil
}
