package tlv

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/bulwark-go/bulwark/tlv/internal/decstate"
	"github.com/bulwark-go/bulwark/tlv/tlvwire"
)

// plans caches one *structPlan per struct type (reflect.Type → *structPlan), and a
// ptrPlan per pointer type that Marshal or Unmarshal has seen (see rememberPointerPlan). It is the
// package's only mutable state: entries are built once, on first use of a type, and never
// change afterwards; two goroutines racing on a new type may both build it, and
// LoadOrStore keeps one. The cache grows with the number of distinct struct types a
// program marshals, which is bounded by the program's code.
var plans sync.Map

type kind uint8

const (
	kBool kind = iota
	kInt8
	kInt16
	kInt32
	kInt64
	kUint8
	kUint16
	kUint32
	kUint64
	kFloat32
	kFloat64
	kString
	kBytes
	kStruct
	kTime
	kCustom // pointer implements tlvwire.Marshaler and/or Unmarshaler
	kPtr
	kPacked   // []scalar, one packed field
	kRepeated // []T, one field per element
	kMap
)

// fkey is a precomputed field key.
type fkey struct {
	b   [5]byte
	n   uint8
	tag uint32 // for the rare value written with another wire type (time.Time far out)
}

func mkKey(tag uint32, wt tlvwire.WireType) fkey {
	k := fkey{tag: tag}
	k.n = uint8(len(tlvwire.AppendTag(k.b[:0], tag, wt)))
	return k
}

func (k *fkey) append(b []byte) []byte {
	if k.n == 1 {
		return append(b, k.b[0])
	}
	return append(b, k.b[:k.n]...)
}

// codec describes how to encode and decode one Go type.
type codec struct {
	kind   kind
	wt     tlvwire.WireType // wire type of one field holding this value
	accept uint8            // bit 1<<wt set for every wire type Unmarshal can read into this type
	// strictAccept is accept without the other float width (SPEC.md §7: strict mode takes
	// only the width the encoder writes).
	strictAccept uint8
	size         uintptr // Go size of the type
	typ          reflect.Type
	st           *structPlan // kStruct, and kCustom as fallback
	elem         *codec      // kPtr, kPacked, kRepeated, kMap value
	key          *codec      // kMap key
	// kCustom: which interfaces the pointer implements.
	marshal, unmarshal bool
	// kMap: keys of the entry fields, and a fast path for map[string]string.
	entryK, entryV fkey
	strMap         bool
	mapL           decstate.MapLayout // what the runtime allocates for the map (decstate/mapcost.go)
	// kPtr: a zero value of the element, never written, encoded for nil elements.
	zero unsafe.Pointer
}

type fieldPlan struct {
	tag       uint32
	key       fkey
	off       uintptr
	c         *codec
	kind      kind  // c.kind, kept here so the hot loops need not load c
	accept    uint8 // c.accept
	strictAcc uint8 // c.strictAccept
	omitempty bool
	// sub is the element's plan for a []struct or *struct field (nil otherwise), which
	// the encoder writes without going through encodeValue.
	sub  *structPlan
	name string
}

type structPlan struct {
	typ        reflect.Type
	fields     []fieldPlan // ascending tag
	hasUnknown bool
	unknownOff uintptr
	byTag      []uint16 // tag → index+1, for tags < len(byTag)
	err        error
	// Marshal's size estimate: the fixed part, and the fields whose size varies.
	fixedEst  int
	dynFields []int
}

func (p *structPlan) lookup(tag uint32) *fieldPlan {
	if tag < uint32(len(p.byTag)) {
		if i := p.byTag[tag]; i != 0 {
			return &p.fields[i-1]
		}
		return nil
	}
	// Sparse tags: binary search.
	i, ok := slices.BinarySearchFunc(p.fields, tag, func(f fieldPlan, t uint32) int {
		return int(int64(f.tag) - int64(t))
	})
	if ok {
		return &p.fields[i]
	}
	return nil
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	unknownType     = reflect.TypeFor[Unknown]()
	marshalerType   = reflect.TypeFor[tlvwire.Marshaler]()
	unmarshalerType = reflect.TypeFor[tlvwire.Unmarshaler]()
)

// planFor returns the cached plan of struct type t, building it on first use.
func planFor(t reflect.Type) (*structPlan, error) {
	if p, ok := plans.Load(t); ok {
		sp := p.(*structPlan)
		return sp, sp.err
	}
	b := &builder{building: map[reflect.Type]*structPlan{}}
	sp := b.structPlan(t)
	if sp.err == nil {
		// A plan is only complete once every plan it references is; publish them together.
		for _, p := range b.building {
			if p.err != nil {
				sp.err = p.err
			}
		}
		if sp.err == nil && b.cachedErr != nil {
			sp.err = b.cachedErr
		}
	}
	if sp.err != nil {
		// Failed plans are cached too, so a bad type costs one build.
		failed := &structPlan{typ: t, err: sp.err}
		actual, _ := plans.LoadOrStore(t, failed)
		p := actual.(*structPlan)
		return p, p.err
	}
	for typ, p := range b.building {
		plans.LoadOrStore(typ, p)
	}
	actual, _ := plans.LoadOrStore(t, sp)
	p := actual.(*structPlan)
	return p, p.err
}

type builder struct {
	building  map[reflect.Type]*structPlan
	cachedErr error
}

func (b *builder) structPlan(t reflect.Type) *structPlan {
	if p, ok := plans.Load(t); ok {
		sp := p.(*structPlan)
		if sp.err != nil && b.cachedErr == nil {
			b.cachedErr = sp.err // a nested type known to be unsupported
		}
		return sp
	}
	if p, ok := b.building[t]; ok {
		return p
	}
	p := &structPlan{typ: t}
	b.building[t] = p
	seen := map[uint32]string{}
	maxTag := uint32(0)
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if err := checkKeepsData(t, sf); err != nil {
			p.err = err
			return p
		}
		if sf.Type == unknownType {
			if p.hasUnknown {
				p.err = fmt.Errorf("tlv: %v has two Unknown fields: %w", t, ErrUnsupportedType)
				return p
			}
			if !sf.IsExported() {
				p.err = fmt.Errorf("tlv: %v.%s: Unknown field must be exported: %w", t, sf.Name, ErrUnsupportedType)
				return p
			}
			p.hasUnknown, p.unknownOff = true, sf.Offset
			continue
		}
		tagStr, ok := sf.Tag.Lookup("tlv")
		if !ok || tagStr == "-" {
			continue
		}
		if !sf.IsExported() {
			p.err = fmt.Errorf("tlv: %v.%s: tagged field must be exported: %w", t, sf.Name, ErrUnsupportedType)
			return p
		}
		num, opts, _ := strings.Cut(tagStr, ",")
		tag, err := strconv.ParseUint(num, 10, 32)
		if err != nil || tag == 0 || tag > tlvwire.MaxTag {
			p.err = fmt.Errorf("tlv: %v.%s: bad tag %q (want 1..%d): %w", t, sf.Name, tagStr, tlvwire.MaxTag, ErrUnsupportedType)
			return p
		}
		if prev, dup := seen[uint32(tag)]; dup {
			p.err = fmt.Errorf("tlv: %v: tag %d used by %s and %s: %w", t, tag, prev, sf.Name, ErrUnsupportedType)
			return p
		}
		seen[uint32(tag)] = sf.Name
		omit := false
		for _, o := range strings.Split(opts, ",") {
			switch o {
			case "":
			case "omitempty":
				omit = true
			default:
				p.err = fmt.Errorf("tlv: %v.%s: unknown tag option %q: %w", t, sf.Name, o, ErrUnsupportedType)
				return p
			}
		}
		c, err := b.codec(sf.Type, 0)
		if err != nil {
			p.err = fmt.Errorf("tlv: %v.%s: %w", t, sf.Name, err)
			return p
		}
		fp := fieldPlan{
			tag: uint32(tag), key: mkKey(uint32(tag), c.wt), off: sf.Offset, omitempty: omit, c: c, name: sf.Name,
			kind: c.kind, accept: c.accept, strictAcc: c.strictAccept,
		}
		if (c.kind == kRepeated || c.kind == kPtr) && c.elem.kind == kStruct {
			fp.sub = c.elem.st
		}
		p.fields = append(p.fields, fp)
		maxTag = max(maxTag, uint32(tag))
	}
	slices.SortFunc(p.fields, func(a, b fieldPlan) int { return int(int64(a.tag) - int64(b.tag)) })
	for i := range p.fields {
		f := &p.fields[i]
		p.fixedEst += int(f.key.n)
		if isFixedSize(f.c) {
			p.fixedEst += estimateValue(f.c, nil, 0)
		} else {
			p.dynFields = append(p.dynFields, i)
		}
	}
	if maxTag < 1024 {
		p.byTag = make([]uint16, maxTag+1)
		for i, f := range p.fields {
			p.byTag[f.tag] = uint16(i + 1)
		}
	}
	return p
}

// codec builds the codec of t. nest > 0 means t is an element of a slice or a map value,
// where some shapes cannot be represented.
func (b *builder) codec(t reflect.Type, nest int) (*codec, error) {
	c, err := b.codec0(t, nest)
	if err != nil {
		return nil, err
	}
	switch c.kind {
	case kFloat32, kFloat64:
		c.accept = 1<<tlvwire.Fixed32 | 1<<tlvwire.Fixed64
	case kString, kBytes:
		c.accept = 1 << tlvwire.Bytes
	case kTime:
		c.accept = 1<<tlvwire.Varint | 1<<tlvwire.Message
	case kStruct, kCustom, kMap:
		c.accept = 1 << tlvwire.Message
	case kPtr, kRepeated:
		c.accept = c.elem.accept
	case kPacked:
		c.accept = c.elem.accept | 1<<c.wt
		if c.wt != tlvwire.PackedVarint {
			c.accept |= 1<<tlvwire.PackedFixed32 | 1<<tlvwire.PackedFixed64
		}
	default:
		c.accept = 1 << tlvwire.Varint
	}
	c.strictAccept = c.accept
	switch c.kind {
	case kFloat32, kFloat64:
		c.strictAccept = 1 << c.wt
	case kPtr, kRepeated:
		c.strictAccept = c.elem.strictAccept
	case kPacked:
		c.strictAccept = c.elem.strictAccept | 1<<c.wt
	}
	return c, nil
}

func (b *builder) codec0(t reflect.Type, nest int) (*codec, error) {
	c := &codec{typ: t, size: t.Size()}
	if t == timeType {
		c.kind, c.wt = kTime, tlvwire.Varint // Message for times outside the int64 nanosecond range
		return c, nil
	}
	pt := reflect.PointerTo(t)
	if t.Kind() != reflect.Pointer && (pt.Implements(marshalerType) || pt.Implements(unmarshalerType)) {
		c.kind, c.wt = kCustom, tlvwire.Message
		c.marshal, c.unmarshal = pt.Implements(marshalerType), pt.Implements(unmarshalerType)
		if t.Kind() == reflect.Struct && !(c.marshal && c.unmarshal) {
			c.st = b.structPlan(t)
		} else if !(c.marshal && c.unmarshal) {
			return nil, fmt.Errorf("%v implements only one of Marshaler, Unmarshaler: %w", t, ErrUnsupportedType)
		}
		return c, nil
	}
	switch t.Kind() {
	case reflect.Bool:
		c.kind, c.wt = kBool, tlvwire.Varint
	case reflect.Int8:
		c.kind, c.wt = kInt8, tlvwire.Varint
	case reflect.Int16:
		c.kind, c.wt = kInt16, tlvwire.Varint
	case reflect.Int32:
		c.kind, c.wt = kInt32, tlvwire.Varint
	case reflect.Int64, reflect.Int:
		// int is 4 bytes on 32-bit platforms: size it by the type, not as int64.
		c.kind, c.wt = kInt64, tlvwire.Varint
		if t.Size() == 4 {
			c.kind = kInt32
		}
	case reflect.Uint8:
		c.kind, c.wt = kUint8, tlvwire.Varint
	case reflect.Uint16:
		c.kind, c.wt = kUint16, tlvwire.Varint
	case reflect.Uint32:
		c.kind, c.wt = kUint32, tlvwire.Varint
	case reflect.Uint64, reflect.Uint, reflect.Uintptr:
		c.kind, c.wt = kUint64, tlvwire.Varint
		if t.Size() == 4 {
			c.kind = kUint32
		}
	case reflect.Float32:
		c.kind, c.wt = kFloat32, tlvwire.Fixed32
	case reflect.Float64:
		c.kind, c.wt = kFloat64, tlvwire.Fixed64
	case reflect.String:
		c.kind, c.wt = kString, tlvwire.Bytes
	case reflect.Struct:
		c.kind, c.wt = kStruct, tlvwire.Message
		c.st = b.structPlan(t)
	case reflect.Pointer:
		e := t.Elem()
		switch e.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map:
			if e.Kind() != reflect.Slice || e.Elem().Kind() != reflect.Uint8 {
				return nil, fmt.Errorf("pointer to %v: %w", e, ErrUnsupportedType)
			}
		}
		ec, err := b.codec(e, nest)
		if err != nil {
			return nil, err
		}
		c.kind, c.wt, c.elem = kPtr, ec.wt, ec
		c.zero = reflect.New(e).UnsafePointer()
	case reflect.Slice:
		e := t.Elem()
		if e.Kind() == reflect.Uint8 && !reflect.PointerTo(e).Implements(marshalerType) {
			c.kind, c.wt = kBytes, tlvwire.Bytes
			return c, nil
		}
		ec, err := b.codec(e, nest+1)
		if err != nil {
			return nil, err
		}
		c.elem = ec
		if isPackable(e) && ec.kind <= kFloat64 {
			c.kind = kPacked
			switch ec.kind {
			case kFloat32:
				c.wt = tlvwire.PackedFixed32
			case kFloat64:
				c.wt = tlvwire.PackedFixed64
			default:
				c.wt = tlvwire.PackedVarint
			}
			return c, nil
		}
		if nest > 0 {
			return nil, fmt.Errorf("%v: a repeated field cannot hold repeated elements: %w", t, ErrUnsupportedType)
		}
		if ec.kind == kRepeated || ec.kind == kMap {
			return nil, fmt.Errorf("%v: a repeated field cannot hold repeated elements: %w", t, ErrUnsupportedType)
		}
		c.kind, c.wt = kRepeated, ec.wt
	case reflect.Map:
		kt := t.Key()
		switch kt.Kind() {
		case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		default:
			return nil, fmt.Errorf("map key %v (want string, bool or integer): %w", kt, ErrUnsupportedType)
		}
		if nest > 0 {
			return nil, fmt.Errorf("%v: a map cannot be a repeated element or map value: %w", t, ErrUnsupportedType)
		}
		kc, err := b.codec(kt, 1)
		if err != nil {
			return nil, err
		}
		if kc.kind > kString {
			return nil, fmt.Errorf("map key %v: %w", kt, ErrUnsupportedType)
		}
		// A list value is built as a field's list would be (its elements may not be
		// lists themselves, except packable ones); a map value may not be a map.
		vnest := 1
		if ve := t.Elem(); ve.Kind() == reflect.Slice && ve.Elem().Kind() != reflect.Uint8 {
			vnest = 0
		}
		vc, err := b.codec(t.Elem(), vnest)
		if err != nil {
			return nil, err
		}
		if vc.kind == kMap {
			return nil, fmt.Errorf("%v: map values cannot be maps: %w", t, ErrUnsupportedType)
		}
		c.kind, c.wt, c.key, c.elem = kMap, tlvwire.Message, kc, vc
		c.entryK, c.entryV = mkKey(1, kc.wt), mkKey(2, vc.wt)
		c.strMap = kt.Kind() == reflect.String && t.Elem().Kind() == reflect.String
		c.mapL = decstate.LayoutOfTypes(kt, t.Elem())
	default:
		return nil, fmt.Errorf("%v: %w", t, ErrUnsupportedType)
	}
	return c, nil
}

func isPackable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// sliceHeader mirrors the runtime layout of a slice.
type sliceHeader struct {
	data unsafe.Pointer
	len  int
	cap  int
}

// checkKeepsData refuses the field declarations that look as if they keep data but
// would silently drop it: a *Unknown (only an Unknown value collects unknown fields), an
// Unknown with a tlv tag (it is not a field; the tag would be ignored), and an untagged
// embedded struct that declares tlv fields or an Unknown (embedded fields are not
// promoted, so those fields would never be encoded or decoded).
func checkKeepsData(t reflect.Type, sf reflect.StructField) error {
	tag, tagged := sf.Tag.Lookup("tlv")
	if tag == "-" {
		return nil // explicitly left out
	}
	switch {
	case sf.Type == reflect.PointerTo(unknownType):
		return fmt.Errorf("tlv: %v.%s: *tlv.Unknown keeps nothing; declare a tlv.Unknown (not a pointer): %w", t, sf.Name, ErrUnsupportedType)
	case sf.Type == unknownType && tagged:
		return fmt.Errorf("tlv: %v.%s: a tlv.Unknown field takes no tlv tag (it collects every undeclared tag): %w", t, sf.Name, ErrUnsupportedType)
	case sf.Anonymous && !tagged:
		e := sf.Type
		if e.Kind() == reflect.Pointer {
			e = e.Elem()
		}
		if e.Kind() != reflect.Struct {
			return nil
		}
		for i := 0; i < e.NumField(); i++ {
			f := e.Field(i)
			if _, ok := f.Tag.Lookup("tlv"); ok || f.Type == unknownType {
				return fmt.Errorf("tlv: %v.%s: embedded %v has tlv fields, but embedded structs are not promoted; "+
					"give the embedded field a tag of its own or name it: %w", t, sf.Name, sf.Type, ErrUnsupportedType)
			}
		}
	}
	return nil
}
