package tlv

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"
	"unsafe"

	"github.com/bulwark-go/bulwark/tlv/tlvwire"
)

// maxEncodeDepth stops Marshal on a pointer cycle before the Go stack overflows (which
// would be fatal, not a panic). Unmarshal's own default depth limit is far lower (64).
const maxEncodeDepth = 10000

var errEncodeDepth = errors.New("tlv: value nested too deep to encode (pointer cycle?)")

// presence says when a value may be left out.
type presence uint8

const (
	presForce presence = iota // a repeated element or map entry part: always written
	presField                 // a field without omitempty: nil pointers and empty lists omitted
	presOmit                  // a field with omitempty: zero values omitted too
)

// Marshal returns the canonical encoding of v, which must be a struct, a pointer to a
// struct, or implement tlvwire.Marshaler. Pass a pointer: a struct value is copied first.
func Marshal(v any) ([]byte, error) {
	if p, ptr, ok := cachedPointerPlan(v); ok {
		if ptr == nil {
			return nil, nil
		}
		return p.encode(make([]byte, 0, p.estimate(ptr, 0)), ptr, 0)
	}
	if m, ok := v.(tlvwire.Marshaler); ok {
		if isNilPointer(v) {
			return nil, nil
		}
		return m.AppendTLV(make([]byte, 0, max(0, min(m.SizeTLV(), 1<<30))))
	}
	ptr, t, err := structPointer(v)
	if err != nil || ptr == nil {
		return nil, err
	}
	p, err := planFor(t)
	if err != nil {
		return nil, err
	}
	rememberPointerPlan(v, p)
	// One allocation in the common case: size the buffer from a cheap estimate (lengths
	// of strings, slices and maps; fixed costs per field) instead of growing it.
	return p.encode(make([]byte, 0, p.estimate(ptr, 0)), ptr, 0)
}

// estimate returns an upper-leaning guess of the encoded size of the struct at ptr,
// looking at lengths only, never iterating maps, and at most a few levels deep.
func (p *structPlan) estimate(ptr unsafe.Pointer, depth int) int {
	n := p.fixedEst
	if p.hasUnknown {
		n += len(*(*Unknown)(unsafe.Add(ptr, p.unknownOff)))
	}
	for _, i := range p.dynFields {
		f := &p.fields[i]
		n += estimateValue(f.c, unsafe.Add(ptr, f.off), depth)
	}
	return n
}

// maxTimeValue is the largest encoded time value: the message form's length byte, then
// seconds (key and a 10-byte zigzag varint) and nanoseconds (key and 5 bytes). The
// estimate takes the maximum so that a time never makes Marshal grow its buffer.
const maxTimeValue = 1 + 1 + 10 + 1 + 5

// isFixedSize reports whether estimateValue of c ignores the value.
func isFixedSize(c *codec) bool {
	return c.kind <= kFloat64 || c.kind == kTime || c.kind == kCustom
}

// estimateValue guesses the encoded size of the value of codec c at p. A nil p asks for a
// guess without a value (fixed-size kinds, and nested values below the first level), so
// no case may dereference p without checking it.
func estimateValue(c *codec, p unsafe.Pointer, depth int) int {
	if p == nil {
		return staticEstimate(c)
	}
	switch c.kind {
	case kString:
		return len(*(*string)(p)) + 2
	case kBytes:
		return len(*(*[]byte)(p)) + 2
	case kFloat32:
		return 4
	case kFloat64:
		return 8
	case kTime:
		return maxTimeValue
	case kStruct:
		if depth > 0 {
			return 2 + c.st.staticEstimate()
		}
		return 2 + c.st.estimate(p, depth+1)
	case kPtr:
		pp := *(*unsafe.Pointer)(p)
		if pp == nil {
			return 0
		}
		return estimateValue(c.elem, pp, depth+1)
	case kPacked:
		return 2 + (*sliceHeader)(p).len*elemEstimate(c.elem.kind)
	case kRepeated:
		h := (*sliceHeader)(p)
		if h.len == 0 {
			return 0
		}
		if isFixedSize(c.elem) || depth > 0 {
			return h.len * (2 + estimateValue(c.elem, nil, 0))
		}
		// Look at the first and last elements (one level down, statically beyond).
		e := estimateValue(c.elem, h.data, depth+1)
		if h.len > 1 {
			e = max(e, estimateValue(c.elem, unsafe.Add(h.data, uintptr(h.len-1)*c.elem.size), depth+1))
		}
		return h.len * (2 + e)
	case kMap:
		if c.strMap {
			return len(*(*map[string]string)(p)) * 40
		}
		return reflect.NewAt(c.typ, p).Elem().Len() * 40
	case kCustom:
		return 64
	}
	return 5
}

// staticEstimate guesses the encoded size of a value of codec c without looking at one.
func staticEstimate(c *codec) int {
	switch c.kind {
	case kFloat32:
		return 4
	case kFloat64:
		return 8
	case kTime:
		return maxTimeValue
	case kStruct:
		return 2 + c.st.staticEstimate()
	case kCustom:
		return 64
	case kString, kBytes, kPacked, kRepeated, kMap, kPtr:
		return 16
	}
	return 5
}

// staticEstimate guesses the size of a nested struct without looking at it: its fixed
// part plus 16 bytes per variable-size field.
func (p *structPlan) staticEstimate() int {
	return p.fixedEst + 16*len(p.dynFields)
}

func elemEstimate(k kind) int {
	switch k {
	case kBool, kInt8, kUint8:
		return 1
	case kFloat32:
		return 4
	case kFloat64:
		return 8
	}
	return 5
}

// MarshalAppend appends the canonical encoding of v to dst. With a dst of sufficient
// capacity it does not allocate, except to sort the keys of maps other than small
// map[string]string values.
func MarshalAppend(dst []byte, v any) ([]byte, error) {
	if p, ptr, ok := cachedPointerPlan(v); ok {
		if ptr == nil {
			return dst, nil
		}
		return p.encode(dst, ptr, 0)
	}
	if m, ok := v.(tlvwire.Marshaler); ok {
		if isNilPointer(v) {
			return dst, nil // like a nil *struct: an empty message
		}
		return m.AppendTLV(dst)
	}
	ptr, t, err := structPointer(v)
	if err != nil || ptr == nil {
		return dst, err
	}
	p, err := planFor(t)
	if err != nil {
		return dst, err
	}
	rememberPointerPlan(v, p)
	return p.encode(dst, ptr, 0)
}

// ptrPlan is a plans entry keyed by a pointer type *T whose plan is T's: recorded once a
// *T has gone through Marshal, MarshalAppend or Unmarshal (and only when *T implements
// neither tlvwire.Marshaler nor Unmarshaler), so that later calls find the plan with one lookup
// and no reflection.
type ptrPlan struct{ p *structPlan }

// cachedPointerPlan returns the plan of the struct v points to and the pointer (nil for a
// nil pointer) when v's pointer type has been recorded by rememberPointerPlan.
func cachedPointerPlan(v any) (*structPlan, unsafe.Pointer, bool) {
	e, ok := plans.Load(reflect.TypeOf(v))
	if !ok {
		return nil, nil, false
	}
	pp, ok := e.(ptrPlan)
	if !ok {
		return nil, nil, false
	}
	// The data word of an interface holding a pointer is the pointer itself.
	return pp.p, (*[2]unsafe.Pointer)(unsafe.Pointer(&v))[1], true
}

// rememberPointerPlan records p, a complete plan without error, under v's type when v is a
// pointer to a struct implementing neither tlvwire.Marshaler nor Unmarshaler.
func rememberPointerPlan(v any, p *structPlan) {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer || p.err != nil || t.Elem() != p.typ {
		return
	}
	if _, ok := v.(tlvwire.Marshaler); ok {
		return
	}
	if _, ok := v.(tlvwire.Unmarshaler); ok {
		return
	}
	plans.LoadOrStore(t, ptrPlan{p})
}

func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// structPointer returns a pointer to the struct in v (nil for a nil pointer).
func structPointer(v any) (unsafe.Pointer, reflect.Type, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer:
		t := rv.Type().Elem()
		if t.Kind() != reflect.Struct {
			break
		}
		return rv.UnsafePointer(), t, nil
	case reflect.Struct:
		t := rv.Type()
		nv := reflect.New(t)
		nv.Elem().Set(rv)
		return nv.UnsafePointer(), t, nil
	}
	return nil, nil, fmt.Errorf("tlv: cannot encode %T (want a struct or pointer to struct): %w", v, ErrUnsupportedType)
}

func (p *structPlan) encode(b []byte, ptr unsafe.Pointer, depth int) ([]byte, error) {
	if depth > maxEncodeDepth {
		return b, errEncodeDepth
	}
	if p.hasUnknown {
		if unk := *(*Unknown)(unsafe.Add(ptr, p.unknownOff)); len(unk) > 0 {
			return p.encodeWithUnknown(b, ptr, depth, unk)
		}
	}
	return p.encodeFields(b, ptr, depth, p.fields)
}

// encodeWithUnknown interleaves the unknown fields with the known ones in tag order.
func (p *structPlan) encodeWithUnknown(b []byte, ptr unsafe.Pointer, depth int, unk Unknown) ([]byte, error) {
	unk, err := unk.canonical()
	if err != nil {
		return b, err
	}
	for r := []byte(unk); len(r) > 0; {
		tag, _, n := tlvwire.ConsumeField(r) // well-formed: canonical checked
		if f := p.lookup(tag); f != nil {
			return b, fmt.Errorf("tlv: %s's Unknown holds tag %d, which field %s declares: %w", p.typ, tag, f.name, ErrDeclaredTag)
		}
		r = r[n:]
	}
	for i := range p.fields {
		if len(unk) > 0 {
			b, unk = unk.AppendBefore(b, p.fields[i].tag)
		}
		if b, err = p.encodeFields(b, ptr, depth, p.fields[i:i+1]); err != nil {
			return b, err
		}
	}
	return append(b, unk...), nil
}

// encodeFields appends the given fields of the struct at ptr. It is the hot loop, kept
// free of the unknown-field bookkeeping so that its state stays in registers.
func (p *structPlan) encodeFields(b []byte, ptr unsafe.Pointer, depth int, fields []fieldPlan) ([]byte, error) {
	var err error
	for i := range fields {
		f := &fields[i]
		fp := unsafe.Add(ptr, f.off)
		// The commonest kinds inline, saving a call per field.
		switch f.kind {
		case kInt64:
			if v := *(*int64)(fp); v != 0 || !f.omitempty {
				b = tlvwire.AppendVarint(f.key.append(b), tlvwire.Zigzag(v))
			}
			continue
		case kUint64:
			if v := *(*uint64)(fp); v != 0 || !f.omitempty {
				b = tlvwire.AppendVarint(f.key.append(b), v)
			}
			continue
		case kString:
			if s := *(*string)(fp); len(s) != 0 || !f.omitempty {
				b = tlvwire.AppendString(f.key.append(b), s)
			}
			continue
		case kBytes:
			if s := *(*[]byte)(fp); len(s) != 0 || !f.omitempty {
				b = tlvwire.AppendBytes(f.key.append(b), s)
			}
			continue
		case kRepeated, kPtr:
			if f.sub != nil {
				if b, err = encodeSubMessages(b, f, fp, depth); err != nil {
					return b, err
				}
				continue
			}
		}
		pres := presField
		if f.omitempty {
			pres = presOmit
		}
		if b, err = encodeValue(b, &f.key, f.c, fp, pres, depth); err != nil {
			return b, err
		}
	}
	return b, nil
}

// encodeSubMessages writes a []struct field (one nested message per element) or a
// *struct field (nil is left out; omitempty does not look inside a non-nil pointer)
// straight from the element plan, without a call per element through encodeValue.
func encodeSubMessages(b []byte, f *fieldPlan, fp unsafe.Pointer, depth int) ([]byte, error) {
	data, n, size := fp, 1, uintptr(0)
	if f.kind == kPtr {
		if data = *(*unsafe.Pointer)(fp); data == nil {
			return b, nil
		}
	} else {
		h := (*sliceHeader)(fp)
		data, n, size = h.data, h.len, f.c.elem.size
	}
	var err error
	for i := 0; i < n; i++ {
		var mark int
		b, mark = tlvwire.BeginLen(f.key.append(b))
		if b, err = f.sub.encode(b, unsafe.Add(data, uintptr(i)*size), depth+1); err != nil {
			return b, err
		}
		if l := len(b) - mark - 1; l < 0x80 { // tlvwire.EndLen's fast path, written out (EndLen does not inline)
			b[mark] = byte(l)
		} else {
			b = tlvwire.EndLen(b, mark)
		}
	}
	return b, nil
}

// canonical checks u is well-formed and returns it in tag order.
func (u Unknown) canonical() (Unknown, error) {
	var prev uint32
	for b := []byte(u); len(b) > 0; {
		tag, _, n := tlvwire.ConsumeField(b)
		if n < 0 {
			return nil, fmt.Errorf("tlv: Unknown holds a malformed field: %w", ErrMalformed)
		}
		if tag < prev {
			return u.Sorted(), nil
		}
		prev = tag
		b = b[n:]
	}
	return u, nil
}

func appendZigzagKey(b []byte, key *fkey, v int64, pres presence) []byte {
	if v == 0 && pres == presOmit {
		return b
	}
	return tlvwire.AppendVarint(key.append(b), tlvwire.Zigzag(v))
}

func appendUintKey(b []byte, key *fkey, v uint64, pres presence) []byte {
	if v == 0 && pres == presOmit {
		return b
	}
	return tlvwire.AppendVarint(key.append(b), v)
}

// encodeValue appends the field(s) for the value of codec c at p under key.
func encodeValue(b []byte, key *fkey, c *codec, p unsafe.Pointer, pres presence, depth int) ([]byte, error) {
	switch c.kind {
	case kBool:
		v := *(*bool)(p)
		if !v && pres == presOmit {
			return b, nil
		}
		x := byte(0)
		if v {
			x = 1
		}
		return append(key.append(b), x), nil
	case kInt8:
		return appendZigzagKey(b, key, int64(*(*int8)(p)), pres), nil
	case kInt16:
		return appendZigzagKey(b, key, int64(*(*int16)(p)), pres), nil
	case kInt32:
		return appendZigzagKey(b, key, int64(*(*int32)(p)), pres), nil
	case kInt64:
		return appendZigzagKey(b, key, *(*int64)(p), pres), nil
	case kUint8:
		return appendUintKey(b, key, uint64(*(*uint8)(p)), pres), nil
	case kUint16:
		return appendUintKey(b, key, uint64(*(*uint16)(p)), pres), nil
	case kUint32:
		return appendUintKey(b, key, uint64(*(*uint32)(p)), pres), nil
	case kUint64:
		return appendUintKey(b, key, *(*uint64)(p), pres), nil
	case kFloat32:
		v := *(*uint32)(p)
		if v == 0 && pres == presOmit {
			return b, nil
		}
		return tlvwire.AppendFixed32(key.append(b), v), nil
	case kFloat64:
		v := *(*uint64)(p)
		if v == 0 && pres == presOmit {
			return b, nil
		}
		return tlvwire.AppendFixed64(key.append(b), v), nil
	case kString:
		s := *(*string)(p)
		if len(s) == 0 && pres == presOmit {
			return b, nil
		}
		return tlvwire.AppendString(key.append(b), s), nil
	case kBytes:
		s := *(*[]byte)(p)
		if len(s) == 0 && pres == presOmit {
			return b, nil
		}
		return tlvwire.AppendBytes(key.append(b), s), nil
	case kTime:
		t := (*time.Time)(p)
		if pres == presOmit && t.IsZero() {
			return b, nil
		}
		if err := tlvwire.CheckTime(*t); err != nil {
			return b, err
		}
		return tlvwire.AppendTimeField(b, key.tag, *t), nil
	case kStruct, kCustom:
		if pres == presOmit && isEmpty(c, p) {
			return b, nil
		}
		b = key.append(b)
		b, mark := tlvwire.BeginLen(b)
		var err error
		if c.kind == kCustom && c.marshal {
			m := reflect.NewAt(c.typ, p).Interface().(tlvwire.Marshaler)
			b, err = m.AppendTLV(b)
		} else {
			b, err = c.st.encode(b, p, depth+1)
		}
		if err != nil {
			return b, err
		}
		if n := len(b) - mark - 1; n < 0x80 { // tlvwire.EndLen's fast path, written out (EndLen does not inline)
			b[mark] = byte(n)
			return b, nil
		}
		return tlvwire.EndLen(b, mark), nil
	case kPtr:
		pp := *(*unsafe.Pointer)(p)
		if pp == nil {
			if pres != presForce {
				return b, nil
			}
			// A nil element of a list or map is written as the zero value it decodes to.
			pp = c.zero
		}
		return encodeValue(b, key, c.elem, pp, presForce, depth)
	case kPacked:
		h := (*sliceHeader)(p)
		if h.len == 0 && pres != presForce {
			return b, nil
		}
		return appendPacked(key.append(b), c.elem.kind, h.data, h.len), nil
	case kRepeated:
		h := (*sliceHeader)(p)
		e := c.elem
		var err error
		for i := 0; i < h.len; i++ {
			if b, err = encodeValue(b, key, e, unsafe.Add(h.data, uintptr(i)*e.size), presForce, depth); err != nil {
				return b, err
			}
		}
		return b, nil
	case kMap:
		return encodeMap(b, key, c, p, depth)
	}
	return b, fmt.Errorf("tlv: internal: no encoder for %v: %w", c.typ, ErrUnsupportedType)
}

func appendPacked(b []byte, k kind, data unsafe.Pointer, n int) []byte {
	switch k {
	case kFloat32:
		b = tlvwire.AppendVarint(b, uint64(n)*4)
		for _, v := range unsafe.Slice((*uint32)(data), n) {
			b = tlvwire.AppendFixed32(b, v)
		}
		return b
	case kFloat64:
		b = tlvwire.AppendVarint(b, uint64(n)*8)
		for _, v := range unsafe.Slice((*uint64)(data), n) {
			b = tlvwire.AppendFixed64(b, v)
		}
		return b
	}
	b, mark := tlvwire.BeginLen(b)
	switch k {
	case kBool:
		for _, v := range unsafe.Slice((*bool)(data), n) {
			x := byte(0)
			if v {
				x = 1
			}
			b = append(b, x)
		}
	case kInt8:
		for _, v := range unsafe.Slice((*int8)(data), n) {
			b = tlvwire.AppendVarint(b, tlvwire.Zigzag(int64(v)))
		}
	case kInt16:
		for _, v := range unsafe.Slice((*int16)(data), n) {
			b = tlvwire.AppendVarint(b, tlvwire.Zigzag(int64(v)))
		}
	case kInt32:
		for _, v := range unsafe.Slice((*int32)(data), n) {
			b = tlvwire.AppendVarint(b, tlvwire.Zigzag(int64(v)))
		}
	case kInt64:
		for _, v := range unsafe.Slice((*int64)(data), n) {
			b = tlvwire.AppendVarint(b, tlvwire.Zigzag(v))
		}
	case kUint8:
		for _, v := range unsafe.Slice((*uint8)(data), n) {
			b = tlvwire.AppendVarint(b, uint64(v))
		}
	case kUint16:
		for _, v := range unsafe.Slice((*uint16)(data), n) {
			b = tlvwire.AppendVarint(b, uint64(v))
		}
	case kUint32:
		for _, v := range unsafe.Slice((*uint32)(data), n) {
			b = tlvwire.AppendVarint(b, uint64(v))
		}
	case kUint64:
		for _, v := range unsafe.Slice((*uint64)(data), n) {
			b = tlvwire.AppendVarint(b, v)
		}
	}
	if n := len(b) - mark - 1; n < 0x80 { // tlvwire.EndLen's fast path, written out (EndLen does not inline)
		b[mark] = byte(n)
		return b
	}
	return tlvwire.EndLen(b, mark)
}

// stringKeyAfter reports whether key a sorts after key b (tlvwire.CompareKeyString(a, b) > 0),
// comparing short keys' lengths without a call.
func stringKeyAfter(a, b string) bool {
	if len(a) != len(b) {
		if len(a)|len(b) < 0x80 {
			return len(a) > len(b)
		}
		return tlvwire.CompareKeyString(a, b) > 0
	}
	return a > b
}

func encodeMap(b []byte, key *fkey, c *codec, p unsafe.Pointer, depth int) ([]byte, error) {
	if c.strMap {
		m := *(*map[string]string)(p)
		if len(m) == 0 {
			return b, nil
		}
		var arr [8][2]string
		var kvs [][2]string
		if len(m) <= len(arr) {
			// Small maps: fill and insertion-sort a stack array.
			n := 0
			for k, v := range m {
				j := n
				for j > 0 && stringKeyAfter(arr[j-1][0], k) {
					arr[j] = arr[j-1]
					j--
				}
				arr[j] = [2]string{k, v}
				n++
			}
			kvs = arr[:n]
		} else {
			kvs = make([][2]string, 0, len(m))
			for k, v := range m {
				kvs = append(kvs, [2]string{k, v})
			}
			slices.SortFunc(kvs, func(x, y [2]string) int { return tlvwire.CompareKeyString(x[0], y[0]) })
		}
		for i := range kvs {
			k, v := kvs[i][0], kvs[i][1]
			n := int(c.entryK.n) + tlvwire.SizeVarint(uint64(len(k))) + len(k) +
				int(c.entryV.n) + tlvwire.SizeVarint(uint64(len(v))) + len(v)
			b = tlvwire.AppendVarint(key.append(b), uint64(n))
			b = tlvwire.AppendString(c.entryK.append(b), k)
			b = tlvwire.AppendString(c.entryV.append(b), v)
		}
		return b, nil
	}
	rv := reflect.NewAt(c.typ, p).Elem()
	n := rv.Len()
	if n == 0 {
		return b, nil
	}
	// Encode every entry into scratch, then copy them out in key order.
	type span struct{ start, keyEnd, end int }
	spans := make([]span, 0, n)
	var scratch []byte
	kv := reflect.New(c.key.typ)
	vv := reflect.New(c.elem.typ)
	kp, vp := kv.UnsafePointer(), vv.UnsafePointer()
	it := rv.MapRange()
	var err error
	for it.Next() {
		kv.Elem().SetIterKey(it)
		vv.Elem().SetIterValue(it)
		s := span{start: len(scratch)}
		if scratch, err = encodeValue(scratch, &c.entryK, c.key, kp, presForce, depth); err != nil {
			return b, err
		}
		s.keyEnd = len(scratch)
		if scratch, err = encodeValue(scratch, &c.entryV, c.elem, vp, presForce, depth); err != nil {
			return b, err
		}
		s.end = len(scratch)
		spans = append(spans, s)
	}
	slices.SortFunc(spans, func(x, y span) int {
		if r := bytes.Compare(scratch[x.start:x.keyEnd], scratch[y.start:y.keyEnd]); r != 0 {
			return r
		}
		return cmp.Compare(x.start, y.start)
	})
	for _, s := range spans {
		b = key.append(b)
		b = tlvwire.AppendBytes(b, scratch[s.start:s.end])
	}
	return b, nil
}

// isEmpty reports whether omitempty leaves out the value of codec c at p (SPEC.md §5): a
// value is empty when it decodes from nothing, so that leaving it out gives the same
// bytes for a value and for its decoding. Floats compare by bits (−0.0 is not empty),
// lists and maps are empty without elements (nil or not), a struct is empty when every
// tagged field and its Unknown are (untagged fields are not encoded and do not count), and
// a type with its own tlvwire.Marshaler when it encodes to nothing.
func isEmpty(c *codec, p unsafe.Pointer) bool {
	switch c.kind {
	case kBool, kInt8, kUint8:
		return *(*uint8)(p) == 0
	case kInt16, kUint16:
		return *(*uint16)(p) == 0
	case kInt32, kUint32, kFloat32:
		return *(*uint32)(p) == 0
	case kInt64, kUint64, kFloat64:
		return *(*uint64)(p) == 0
	case kString:
		return len(*(*string)(p)) == 0
	case kBytes, kPacked, kRepeated:
		return (*sliceHeader)(p).len == 0
	case kTime:
		return (*time.Time)(p).IsZero()
	case kPtr:
		return *(*unsafe.Pointer)(p) == nil
	case kMap:
		return reflect.NewAt(c.typ, p).Elem().Len() == 0
	case kCustom:
		if c.marshal {
			return reflect.NewAt(c.typ, p).Interface().(tlvwire.Marshaler).SizeTLV() == 0
		}
		return c.st.isEmpty(p)
	case kStruct:
		return c.st.isEmpty(p)
	}
	return false
}

func (st *structPlan) isEmpty(p unsafe.Pointer) bool {
	if st.hasUnknown && len(*(*Unknown)(unsafe.Add(p, st.unknownOff))) != 0 {
		return false
	}
	for i := range st.fields {
		if !isEmpty(st.fields[i].c, unsafe.Add(p, st.fields[i].off)) {
			return false
		}
	}
	return true
}
