package tlvgen

import (
	"fmt"
	"strings"
)

// The decoder follows tlv/SPEC.md §6–§8 exactly as the reflection codec
// does: last singular field wins, repeated fields append, maps insert;
// widening (float32 ↔ float64 checked, packed ↔ unpacked in lenient mode);
// a known tag with a wire type its field cannot read is rejected in both
// modes (SPEC.md §6); every allocation is charged to the
// tlvwire.DecodeState before it is made and sized by bytes actually present.

// acceptedWireTypes lists the wire types a singular value of type t reads.
func acceptedWireTypes(t Type) []int {
	switch t.Kind {
	case KindFloat32:
		return []int{wtFixed32, wtFixed64}
	case KindFloat64:
		return []int{wtFixed64, wtFixed32}
	case KindTime:
		return []int{wtVarint, wtMessage}
	}
	return []int{wireType(t)}
}

// wtCond is the condition under which a value of type t is read from wire
// type wt: the other float width only in lenient mode (SPEC.md §7).
func wtCond(t Type, wt int) string {
	if (t.Kind == KindFloat32 && wt != wtFixed32) || (t.Kind == KindFloat64 && wt != wtFixed64) {
		return "(wt == " + wtNames[wt] + " && !strict)"
	}
	return "wt == " + wtNames[wt]
}

// reader emits code reading one value from buf[pos:] and advancing pos.
// base is added to pos in error offsets (the offset of buf within data).
// Errors follow the rule of tlvwire.DecodeError: an error reading the value
// points at its first byte, an error about the field as a whole (a limit, its
// form) at its key, and both carry the tag of the field the value belongs to.
type reader struct {
	g              *generator
	buf, pos, base string
	key            string // offset in data of the field's key
	tag            string // the field's tag
	cv, co         string // names of the content and its offset (content reads); default c, co
}

func (r reader) names() (string, string) {
	if r.cv == "" {
		return "c", "co"
	}
	return r.cv, r.co
}

func (r reader) at() string {
	if r.base == "" {
		return r.pos
	}
	return r.base + "+" + r.pos
}

func (r reader) src() string { return r.buf + "[" + r.pos + ":]" }

// plusBase returns the offset in data of the offset v within buf.
func (r reader) plusBase(v string) string {
	if r.base == "" {
		return v
	}
	return r.base + "+" + v
}

// fail emits the return of a *DecodeError at offset off with err.
func (r reader) fail(off, err string) string {
	return fmt.Sprintf("return d.Error(%s, %s, %s)", off, r.tag, err)
}

// varint reads a varint into u.
func (r reader) varint() {
	r.g.p("var u uint64")
	r.g.p("if %s < len(%s) && %s[%s] < 0x80 {", r.pos, r.buf, r.buf, r.pos)
	r.g.p("u = uint64(%s[%s])", r.buf, r.pos)
	r.g.p("%s++", r.pos)
	r.g.p("} else {")
	r.g.p("v, m := tlvwire.ConsumeVarint(%s)", r.src())
	r.g.p("if m < 0 { %s }", r.fail(r.at(), "tlvwire.CodeError(m)"))
	r.g.p("if strict && m != tlvwire.SizeVarint(v) { %s }", r.fail(r.at(), "tlvwire.ErrNonCanonical"))
	r.g.p("u = v")
	r.g.p("%s += m", r.pos)
	r.g.p("}")
}

// content reads a length-delimited value into c; co is its offset in data.
func (r reader) content(needCo bool) {
	c, co := r.names()
	// One-byte lengths (content under 128 bytes) skip the varint call.
	r.g.p("var %s []byte", c)
	r.g.p("m := 1")
	r.g.p("if %s < len(%s) && %s[%s] < 0x80 {", r.pos, r.buf, r.buf, r.pos)
	r.g.p("l := int(%s[%s])", r.buf, r.pos)
	r.g.p("if l > len(%s)-%s-1 { %s }", r.buf, r.pos, r.fail(r.at(), "tlvwire.ErrLength"))
	r.g.p("%s = %s[%s+1 : %s+1+l : %s+1+l]", c, r.buf, r.pos, r.pos, r.pos)
	r.g.p("m += l")
	r.g.p("} else {")
	// The length varint is checked (minimal in strict mode) before its use, as the
	// reflection decoder does.
	r.g.p("l, lm := tlvwire.ConsumeVarint(%s)", r.src())
	r.g.p("if lm < 0 { %s }", r.fail(r.at(), "tlvwire.CodeError(lm)"))
	r.g.p("if strict && lm != tlvwire.SizeVarint(l) { %s }", r.fail(r.at(), "tlvwire.ErrNonCanonical"))
	r.g.p("if l > uint64(len(%s)-%s-lm) { %s }", r.buf, r.pos, r.fail(r.at(), "tlvwire.ErrLength"))
	r.g.p("%s = %s[%s+lm : %s+lm+int(l) : %s+lm+int(l)]", c, r.buf, r.pos, r.pos, r.pos)
	r.g.p("m = lm + int(l)")
	r.g.p("}")
	if needCo {
		r.g.p("%s := %s + m - len(%s)", co, r.at(), c)
	}
	r.g.p("%s += m", r.pos)
}

// convertVarint emits the checks and the assignment of varint u as type t.
func (g *generator) convertVarint(t Type, assign func(string) string, rangeFail string) {
	switch t.Kind {
	case KindBool:
		g.p("if u > 1 { %s }", rangeFail)
		g.p("%s", assign("u == 1"))
	case KindInt64:
		g.p("%s", assign("tlvwire.Unzigzag(u)"))
	case KindInt32:
		g.useMath = true
		g.p("s := tlvwire.Unzigzag(u)")
		g.p("if s < math.MinInt32 || s > math.MaxInt32 { %s }", rangeFail)
		g.p("%s", assign("int32(s)"))
	case KindUint64:
		g.p("%s", assign("u"))
	case KindUint32:
		g.useMath = true
		g.p("if u > math.MaxUint32 { %s }", rangeFail)
		g.p("%s", assign("uint32(u)"))
	case KindDuration:
		g.p("%s", assign("time.Duration(tlvwire.Unzigzag(u))"))
	}
}

// convertFixed emits the assignment of fixed value w (of width wt) as float type t.
func (g *generator) convertFixed(t Type, wt int, assign func(string) string, rangeFail string) {
	g.useMath = true
	switch {
	case t.Kind == KindFloat32 && wt == wtFixed32:
		g.p("%s", assign("math.Float32frombits(w)"))
	case t.Kind == KindFloat64 && wt == wtFixed64:
		g.p("%s", assign("math.Float64frombits(w)"))
	case t.Kind == KindFloat64 && wt == wtFixed32:
		g.p("%s", assign("tlvwire.WidenFloat32(w)"))
	default: // float32 from fixed64: only exactly representable values (NaN payload included)
		g.p("f, ok := tlvwire.NarrowFloat64(w)")
		g.p("if !ok { %s }", rangeFail)
		g.p("%s", assign("f"))
	}
}

// value emits, for a value of type t arriving with wire type wt (one of
// acceptedWireTypes), the statements that read it and hand it to assign.
// For a message, assign receives the pointer of a decoded fresh value via
// target: the code decodes into target() (an addressable expression).
func (r reader) value(t Type, wt int, assign func(string) string) {
	g := r.g
	switch t.Kind {
	case KindBool, KindInt32, KindInt64, KindUint32, KindUint64, KindDuration:
		rangeFail := ""
		if t.Kind == KindBool || t.Kind == KindInt32 || t.Kind == KindUint32 {
			// A range error points at the value: remember where it starts.
			g.p("vs := %s", r.pos)
			rangeFail = r.fail(r.plusBase("vs"), "tlvwire.ErrRange")
		}
		r.varint()
		g.convertVarint(t, assign, rangeFail)
	case KindTime:
		g.p("tv, m, err := tlvwire.ConsumeTime(%s, %s, strict)", r.src(), wtNames[wt])
		g.p("if err != nil { %s }", r.fail(r.at(), "err"))
		g.p("%s += m", r.pos)
		g.p("%s", assign("tv"))
	case KindFloat32, KindFloat64:
		if wt == wtFixed32 {
			g.p("w, m := tlvwire.ConsumeFixed32(%s)", r.src())
		} else {
			g.p("w, m := tlvwire.ConsumeFixed64(%s)", r.src())
		}
		g.p("if m < 0 { %s }", r.fail(r.at(), "tlvwire.CodeError(m)"))
		g.p("%s += m", r.pos)
		g.convertFixed(t, wt, assign, r.fail(r.at()+"-m", "tlvwire.ErrRange"))
	case KindString:
		c, _ := r.names()
		r.content(false)
		g.p("if err := d.Alloc(len(%s)); err != nil { %s }", c, r.fail(r.key, "err"))
		g.p("%s", assign("string("+c+")"))
	case KindBytes:
		c, _ := r.names()
		r.content(false)
		g.p("if err := d.Alloc(len(%s)); err != nil { %s }", c, r.fail(r.key, "err"))
		g.p("var bs []byte")
		g.p("if len(%s) != 0 { bs = make([]byte, len(%s)); copy(bs, %s) }", c, c, c)
		g.p("%s", assign("bs"))
	}
}

// countRun emits code counting the fields with the current tag that follow
// one another from start: the exact capacity of a repeated field or map.
func (g *generator) countRun() {
	g.p("cnt := 0")
	g.countRunInto()
}

// countRunInto is countRun adding to an existing, zero cnt.
func (g *generator) countRunInto() {
	g.p("for p := start; p < len(data); {")
	g.p("t, _, m := tlvwire.ConsumeField(data[p:])")
	g.p("if m < 0 || t != tag { break }")
	g.p("cnt++")
	g.p("p += m")
	g.p("}")
}

func (g *generator) unmarshal(m *Message) {
	g.p("// UnmarshalTLV resets x and decodes the message fields in data, within the")
	g.p("// limits of d (the defaults if d is nil). Fields x does not declare are kept")
	g.p("// in x.UnknownFields.")
	g.p("func (x *%s) UnmarshalTLV(data []byte, d *tlvwire.DecodeState) error {", m.Name)
	g.useFmt = true
	g.p("if x == nil { return fmt.Errorf(\"tlv: cannot decode into a nil *%s: %%w\", tlvwire.ErrUnsupportedType) }", m.Name)
	g.p("if d == nil {")
	g.p("var err error")
	g.p("if d, err = tlvwire.NewDecodeState(len(data)); err != nil { return err }")
	g.p("}")
	g.p("*x = %s{}", m.Name)
	if len(m.Fields) == 0 {
		g.p("return x.decodeUnknown(data, d)")
		g.p("}")
		g.p("")
		g.decodeUnknownOnly(m)
		return
	}
	g.p("strict := d.Strict()")
	g.p("var last uint32")
	var singular []string
	for i, f := range m.Fields {
		if f.IsMap() {
			g.p("var prev%d %s", i, goType(f.Key))
			g.p("havePrev%d := false", i)
			g.p("charged%d := 0 // entries of x.%s whose memory is charged", i, f.Name)
			if f.Value.Kind == KindMessage && !f.ListValue {
				g.p("var mv%d *%s // decodes each message value, reused", i, f.Value.Message)
			}
		}
		if !f.IsMap() && (!f.Repeated || packed(f.Type)) {
			singular = append(singular, fmt.Sprint(f.Tag))
		}
	}
	g.p("for off := 0; off < len(data); {")
	g.p("start := off")
	g.keyFastPath()
	g.p("if err := d.Count(1); err != nil { return d.Error(off, tag, err) }")
	g.p("if strict {")
	g.p("if n != tlvwire.SizeTag(tag) || tag < last { return d.Error(off, tag, tlvwire.ErrNonCanonical) }")
	if len(singular) > 0 {
		g.p("if tag == last {")
		g.p("switch tag {")
		g.p("case %s:", strings.Join(singular, ", "))
		g.p("return d.Error(off, tag, tlvwire.ErrNonCanonical)")
		g.p("}")
		g.p("}")
	}
	g.p("last = tag")
	g.p("}")
	g.p("off += n")
	g.p("switch tag {")
	for i, f := range m.Fields {
		g.p("case %d: // %s", f.Tag, f.Name)
		g.decodeField(i, f)
	}
	g.p("}")
	var known []string
	for _, f := range m.Fields {
		known = append(known, fmt.Sprint(f.Tag))
	}
	g.p("switch tag { // a known tag with a wire type it cannot read, in both modes")
	g.p("case %s:", strings.Join(known, ", "))
	g.p("return d.Error(start, tag, tlvwire.ErrWireType)")
	g.p("}")
	g.keepUnknown()
	g.p("}")
	g.sortUnknown()
	g.p("return nil")
	g.p("}")
	g.p("")
}

// keepUnknown emits the code that skips the current field's value, checking
// it is minimal in strict mode, and keeps the whole field in UnknownFields.
func (g *generator) keepUnknown() {
	g.p("if strict && wt != tlvwire.Fixed32 && wt != tlvwire.Fixed64 {")
	g.p("if v, m := tlvwire.ConsumeVarint(data[off:]); m > 0 && m != tlvwire.SizeVarint(v) { return d.Error(off, tag, tlvwire.ErrNonCanonical) }")
	g.p("}")
	g.p("m := tlvwire.ConsumeValue(data[off:], wt)")
	g.p("if m < 0 { return d.Error(off, tag, tlvwire.CodeError(m)) }")
	g.p("off += m")
	g.p("// Charged before allocating; capacity doubles.")
	g.p("if u := x.UnknownFields; len(u)+off-start > cap(u) {")
	g.p("nc := max(2*cap(u), len(u)+off-start)")
	g.p("if err := d.Alloc(nc); err != nil { return d.Error(start, tag, err) }")
	g.p("nu := make(tlv.Unknown, len(u), nc)")
	g.p("copy(nu, u)")
	g.p("x.UnknownFields = nu")
	g.p("}")
	g.p("x.UnknownFields = append(x.UnknownFields, data[start:off]...)")
}

// sortUnknown emits the sorting of the kept unknown fields, charged to d.
func (g *generator) sortUnknown() {
	g.p("if len(x.UnknownFields) != 0 {")
	g.p("u, err := d.SortUnknown(x.UnknownFields)")
	g.p("if err != nil { return d.Error(len(data), 0, err) }")
	g.p("x.UnknownFields = u")
	g.p("}")
}

// decodeUnknownOnly emits the decoder of a message without fields: every
// field is unknown.
func (g *generator) decodeUnknownOnly(m *Message) {
	g.p("func (x *%s) decodeUnknown(data []byte, d *tlvwire.DecodeState) error {", m.Name)
	g.p("strict := d.Strict()")
	g.p("var last uint32")
	g.p("for off := 0; off < len(data); {")
	g.p("start := off")
	g.keyFastPath()
	g.p("if err := d.Count(1); err != nil { return d.Error(off, tag, err) }")
	g.p("if strict && (n != tlvwire.SizeTag(tag) || tag < last) { return d.Error(off, tag, tlvwire.ErrNonCanonical) }")
	g.p("last = tag")
	g.p("off += n")
	g.keepUnknown()
	g.p("}")
	g.sortUnknown()
	g.p("return nil")
	g.p("}")
	g.p("")
}

func (g *generator) decodeField(i int, f *Field) {
	top := reader{g: g, buf: "data", pos: "off", key: "start", tag: "tag"}
	v := "x." + f.Name
	switch {
	case f.IsMap():
		g.decodeMap(i, f)
	case f.Repeated && packed(f.Type):
		g.decodePacked(f)
	case f.Repeated:
		var cond []string
		for _, wt := range acceptedWireTypes(f.Type) {
			cond = append(cond, wtCond(f.Type, wt))
		}
		g.p("if %s {", strings.Join(cond, " || "))
		if f.Type.Kind == KindMessage {
			top.content(true)
		}
		// A new slice is sized by the run of fields present; a later run (lenient,
		// interleaved) grows it as append does, charged by tlvwire.Grow.
		g.p("if len(%s) == cap(%s) {", v, v)
		g.p("cnt := 1")
		g.p("if %s == nil {", v)
		g.p("cnt = 0")
		g.countRunInto()
		g.p("}")
		g.p("s, err := tlvwire.Grow(d, %s, cnt)", v)
		g.p("if err != nil { return d.Error(start, tag, err) }")
		g.p("%s = s", v)
		g.p("}")
		if f.Type.Kind == KindMessage {
			g.p("%s = append(%s, %s{})", v, v, f.Type.Message)
			g.p("if err := d.Message(c, co, tag, &%s[len(%s)-1]); err != nil { return err }", v, v)
			g.p("continue")
		} else {
			for _, wt := range acceptedWireTypes(f.Type) {
				g.p("if %s {", wtCond(f.Type, wt))
				top.value(f.Type, wt, func(e string) string { return fmt.Sprintf("%s = append(%s, %s)", v, v, e) })
				g.p("continue")
				g.p("}")
			}
		}
		g.p("}")
	case f.Type.Kind == KindMessage:
		g.useUnsafe = true
		g.p("if wt == tlvwire.Message {")
		top.content(true)
		g.p("if err := d.Alloc(int(unsafe.Sizeof(*%s))); err != nil { return d.Error(start, tag, err) }", v)
		g.p("p := new(%s)", f.Type.Message)
		g.p("if err := d.Message(c, co, tag, p); err != nil { return err }")
		g.p("%s = p", v)
		g.p("continue")
		g.p("}")
	default:
		for _, wt := range acceptedWireTypes(f.Type) {
			g.p("if %s {", wtCond(f.Type, wt))
			top.value(f.Type, wt, func(e string) string { return v + " = " + e })
			g.p("continue")
			g.p("}")
		}
	}
}

// decodePacked reads a repeated scalar: its packed form, and in lenient mode
// single unpacked elements too (a field grown from singular to repeated).
func (g *generator) decodePacked(f *Field) {
	top := reader{g: g, buf: "data", pos: "off", key: "start", tag: "tag"}
	g.decodePackedList(f.Type, "x."+f.Name, top, "", "wt", "p", false)
}

// decodePackedList reads into the list dst of scalar type t a packed value
// (and, in lenient mode, the other float width and single unpacked elements)
// with reader rd, when prefix holds and the wire type in wtVar matches; loop
// names the position variable inside the content. A zero-length packed value
// is canonical only where emptyOK (a map value, SPEC.md §5).
func (g *generator) decodePackedList(t Type, dst string, rd reader, prefix, wtVar, loop string, emptyOK bool) {
	v := dst
	appendTo := func(e string) string { return fmt.Sprintf("%s = append(%s, %s)", v, v, e) }
	cv, co := rd.names()
	packedTypes := []int{packedWireType(t)}
	switch t.Kind {
	case KindFloat32:
		packedTypes = append(packedTypes, wtPackedFixed64)
	case KindFloat64:
		packedTypes = append(packedTypes, wtPackedFixed32)
	}
	for i, pwt := range packedTypes {
		if i == 0 {
			g.p("if %s%s == %s {", prefix, wtVar, wtNames[pwt])
		} else {
			g.p("if %s%s == %s && !strict { // the other float width: lenient only", prefix, wtVar, wtNames[pwt])
		}
		g.p("vs := %s", rd.pos)
		// The content's offset is used by errors about one element: any varint, a
		// float64 element narrowed to float32.
		rd.content(pwt == wtPackedVarint || (t.Kind == KindFloat32 && pwt == wtPackedFixed64))
		malformed := rd.fail(rd.plusBase("vs"), "tlvwire.ErrMalformed")
		switch pwt {
		case wtPackedVarint:
			g.p("cnt := 0")
			g.p("for _, ch := range %s { if ch < 0x80 { cnt++ } }", cv)
			g.p("if len(%s) != 0 && %s[len(%s)-1] >= 0x80 { %s }", cv, cv, cv, malformed)
		case wtPackedFixed32:
			g.p("if len(%s)%%4 != 0 { %s }", cv, malformed)
			g.p("cnt := len(%s) / 4", cv)
		case wtPackedFixed64:
			g.p("if len(%s)%%8 != 0 { %s }", cv, malformed)
			g.p("cnt := len(%s) / 8", cv)
		}
		if !emptyOK {
			g.p("if cnt == 0 && strict { %s }", rd.fail(rd.key, "tlvwire.ErrNonCanonical"))
		}
		g.p("if err := d.Count(cnt); err != nil { %s }", rd.fail(rd.key, "err"))
		g.p("if cap(%s)-len(%s) < cnt {", v, v)
		g.p("s, err := tlvwire.Grow(d, %s, cnt)", v)
		g.p("if err != nil { %s }", rd.fail(rd.key, "err"))
		g.p("%s = s", v)
		g.p("}")
		g.p("for %s := 0; %s < len(%s); {", loop, loop, cv)
		switch pwt {
		case wtPackedVarint:
			g.p("u, m := tlvwire.ConsumeVarint(%s[%s:])", cv, loop)
			g.p("if m < 0 { %s } // overflow: the content was checked not to end inside a varint", rd.fail(co+"+"+loop, "tlvwire.CodeError(m)"))
			g.p("if strict && m != tlvwire.SizeVarint(u) { %s }", rd.fail(co+"+"+loop, "tlvwire.ErrNonCanonical"))
			g.p("%s += m", loop)
			// An element out of range: the error points at the element.
			g.convertVarint(t, appendTo, rd.fail(co+"+"+loop+"-m", "tlvwire.ErrRange"))
		case wtPackedFixed32:
			g.p("w, _ := tlvwire.ConsumeFixed32(%s[%s:])", cv, loop)
			g.p("%s += 4", loop)
			g.convertFixed(t, wtFixed32, appendTo, rd.fail(co+"+"+loop+"-4", "tlvwire.ErrRange"))
		case wtPackedFixed64:
			g.p("w, _ := tlvwire.ConsumeFixed64(%s[%s:])", cv, loop)
			g.p("%s += 8", loop)
			g.convertFixed(t, wtFixed64, appendTo, rd.fail(co+"+"+loop+"-8", "tlvwire.ErrRange"))
		}
		g.p("}")
		g.p("continue")
		g.p("}")
	}
	// Unpacked single elements: lenient only (strict: non-canonical).
	// The other float width is lenient only: strict mode meets it as a wire type error.
	for _, wt := range acceptedWireTypes(t) {
		g.p("if %s%s {", prefix, strings.Replace(wtCond(t, wt), "wt ==", wtVar+" ==", 1))
		g.p("if strict { %s }", rd.fail(rd.key, "tlvwire.ErrNonCanonical"))
		g.p("if len(%s) == cap(%s) {", v, v)
		g.p("s, err := tlvwire.Grow(d, %s, 1)", v)
		g.p("if err != nil { %s }", rd.fail(rd.key, "err"))
		g.p("%s = s", v)
		g.p("}")
		rd.value(t, wt, appendTo)
		g.p("continue")
		g.p("}")
	}
}

// decodeMap reads one map entry: key at tag 1, value at tag 2, either may be
// missing (zero). Strict mode wants keys in ascending canonical order.
func (g *generator) decodeMap(i int, f *Field) {
	v := "x." + f.Name
	top := reader{g: g, buf: "data", pos: "off", key: "start", tag: "tag"}
	g.p("if wt == tlvwire.Message {")
	top.content(true)
	// The runtime's allocations for the map (header, tables, growth) are charged
	// before the entries that cause them: for the run of entries from this one, when
	// the map reaches the length charged so far (interleaved entries, lenient mode).
	g.p("if len(%s) >= charged%d {", v, i)
	g.countRun()
	g.p("if %s == nil {", v)
	vt := goType(f.Value)
	if f.ListValue {
		vt = "[]" + vt
	}
	g.p("m, err := tlvwire.MakeMap[%s, %s](d, cnt)", goType(f.Key), vt)
	g.p("if err != nil { return d.Error(start, tag, err) }")
	g.p("%s = m", v)
	g.p("} else if err := tlvwire.GrowMap(d, %s, cnt); err != nil {", v)
	g.p("return d.Error(start, tag, err)")
	g.p("}")
	g.p("charged%d = len(%s) + cnt", i, v)
	g.p("}")
	g.p("var k %s", goType(f.Key))
	g.p("var val %s", vt)
	g.p("var el uint32")
	g.p("for p := 0; p < len(c); {")
	g.p("et, ew, m := tlvwire.ConsumeTag(c[p:])")
	// The entry is a message of fields 1 and 2: errors inside it carry their tag.
	g.p("if m < 0 { return d.Error(co+p, 0, tlvwire.CodeError(m)) }")
	g.p("if strict && et != 1 && et != 2 { return d.Error(co+p, et, tlvwire.ErrMalformed) } // SPEC.md §6: an entry holds tags 1 and 2 only")
	// Key, then value, once each; a list value of non-packable elements is one
	// field per element.
	elementList := f.ListValue && !packed(f.Value)
	if elementList {
		g.p("if strict && (m != tlvwire.SizeTag(et) || et != el+1 && (et != 2 || el != 2)) { return d.Error(co+p, et, tlvwire.ErrNonCanonical) }")
	} else {
		g.p("if strict && (m != tlvwire.SizeTag(et) || et != el+1) { return d.Error(co+p, et, tlvwire.ErrNonCanonical) }")
	}
	g.p("el = et")
	g.p("ek := co + p // the entry field's key")
	g.p("p += m")
	entry := reader{g: g, buf: "c", pos: "p", base: "co", key: "ek", tag: "et", cv: "ec", co: "eco"}
	for _, side := range []struct {
		tag uint32
		t   Type
		dst string
	}{{1, f.Key, "k"}, {2, f.Value, "val"}} {
		if side.tag == 2 && f.ListValue {
			g.decodeListValue(f.Value, entry)
			continue
		}
		if side.t.Kind == KindMessage {
			g.p("if et == %d && ew == tlvwire.Message {", side.tag)
			entry.content(true)
			g.p("if mv%d == nil {", i)
			g.useUnsafe = true
			g.p("if err := d.Alloc(int(unsafe.Sizeof(%s{}))); err != nil { return d.Error(start, tag, err) }", side.t.Message)
			g.p("mv%d = new(%s)", i, side.t.Message)
			g.p("}")
			g.p("if err := d.Message(ec, eco, et, mv%d); err != nil { return err }", i)
			g.p("%s = *mv%d", side.dst, i)
			g.p("continue")
			g.p("}")
			continue
		}
		for _, wt := range acceptedWireTypes(side.t) {
			g.p("if et == %d && %s {", side.tag, strings.Replace(wtCond(side.t, wt), "wt ==", "ew ==", 1))
			dst := side.dst
			entry.value(side.t, wt, func(e string) string { return dst + " = " + e })
			g.p("continue")
			g.p("}")
		}
	}
	g.p("if strict { return d.Error(ek, et, tlvwire.ErrMalformed) }")
	g.p("sk := tlvwire.ConsumeValue(c[p:], ew)")
	g.p("if sk < 0 { return d.Error(co+p, et, tlvwire.CodeError(sk)) }")
	g.p("p += sk")
	g.p("}")
	// The key and value are always written; an empty list of non-packable
	// elements writes no value field.
	complete := "el != 2"
	if elementList {
		complete = "el == 0"
	}
	g.p("if strict && (%s || havePrev%d && %s >= 0) { return d.Error(start, tag, tlvwire.ErrNonCanonical) }", complete, i, strings.NewReplacer("a.k", fmt.Sprintf("prev%d", i), "b.k", "k").Replace(keyCompare(f.Key)))
	g.p("prev%d, havePrev%d = k, true", i, i)
	g.p("%s[k] = val", v)
	g.p("continue")
	g.p("}")
}

// decodeListValue emits the reading of one tag-2 field of a map entry whose
// value is a list of t, appended to val: a packed list for scalars, one
// element per field otherwise.
func (g *generator) decodeListValue(t Type, entry reader) {
	if packed(t) {
		g.decodePackedList(t, "val", entry, "et == 2 && ", "ew", "q", true)
		return
	}
	grow := func() {
		g.p("if len(val) == cap(val) {")
		g.p("s, err := tlvwire.Grow(d, val, 1)")
		g.p("if err != nil { %s }", entry.fail(entry.key, "err"))
		g.p("val = s")
		g.p("}")
	}
	if t.Kind == KindMessage {
		g.p("if et == 2 && ew == tlvwire.Message {")
		entry.content(true)
		grow()
		g.p("val = append(val, %s{})", t.Message)
		g.p("if err := d.Message(ec, eco, et, &val[len(val)-1]); err != nil { return err }")
		g.p("continue")
		g.p("}")
		return
	}
	for _, wt := range acceptedWireTypes(t) {
		g.p("if et == 2 && %s {", strings.Replace(wtCond(t, wt), "wt ==", "ew ==", 1))
		grow()
		entry.value(t, wt, func(e string) string { return "val = append(val, " + e + ")" })
		g.p("continue")
		g.p("}")
	}
}

// keyFastPath emits the reading of a field key into tag, wt and n: one-byte
// keys (tags 1–15) are decoded inline.
func (g *generator) keyFastPath() {
	g.p("var tag uint32")
	g.p("var wt tlvwire.WireType")
	g.p("n := 1")
	g.p("if k := data[off]; k < 0x80 {")
	g.p("tag, wt = uint32(k>>3), tlvwire.WireType(k&7)")
	g.p("if tag == 0 { return d.Error(off, 0, tlvwire.ErrTag) }")
	g.p("} else {")
	g.p("tag, wt, n = tlvwire.ConsumeTag(data[off:])")
	g.p("if n < 0 { return d.Error(off, 0, tlvwire.CodeError(n)) }")
	g.p("}")
}
