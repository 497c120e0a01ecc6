package tlvgen

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Limits on a schema document. They keep a hostile or broken file from
// making the generator allocate without bound; real protocols are far smaller.
const (
	MaxSchemaBytes = 8 << 20 // size of the XML document
	MaxMessages    = 4096    // messages in one protocol
	MaxFields      = 4096    // fields (and reserved entries) in one message
	MaxDepth       = 8       // element nesting in the XML document
	MaxTag         = 1<<29 - 1
)

// Kind is the schema type of a value.
type Kind int

// The kinds a field, a map key or a map value can have.
const (
	KindInvalid Kind = iota
	KindBool
	KindInt32
	KindInt64
	KindUint32
	KindUint64
	KindFloat32
	KindFloat64
	KindString
	KindBytes
	KindMessage
	KindMap
	KindTime     // time.Time: a message of zigzag seconds (tag 1) and nanoseconds (tag 2)
	KindDuration // time.Duration: a zigzag varint of nanoseconds, like int64
)

var kindNames = map[string]Kind{
	"bool": KindBool, "int32": KindInt32, "int64": KindInt64,
	"uint32": KindUint32, "uint64": KindUint64, "float32": KindFloat32,
	"float64": KindFloat64, "string": KindString, "bytes": KindBytes,
	"map": KindMap, "time": KindTime, "duration": KindDuration,
}

func (k Kind) String() string {
	for name, v := range kindNames {
		if v == k {
			return name
		}
	}
	if k == KindMessage {
		return "message"
	}
	return "invalid"
}

// IsScalar reports whether k is a number or bool.
func (k Kind) IsScalar() bool { return k >= KindBool && k <= KindFloat64 || k == KindDuration }

// Type is the type of a field, or of a map key or value.
type Type struct {
	Kind    Kind
	Message string // message name when Kind is KindMessage
}

func (t Type) String() string {
	if t.Kind == KindMessage {
		return t.Message
	}
	return t.Kind.String()
}

// Schema is a parsed and validated protocol description.
type Schema struct {
	Package  string
	Messages []*Message // in document order
	byName   map[string]*Message
}

// Message returns the message called name, or nil.
func (s *Schema) Message(name string) *Message {
	if s == nil {
		return nil
	}
	if s.byName != nil {
		return s.byName[name]
	}
	for _, m := range s.Messages { // a Schema built by hand, not by Parse
		if m != nil && m.Name == name {
			return m
		}
	}
	return nil
}

// verify checks the invariants Parse establishes, for a Schema that may
// have been built or edited by hand: Generate and Check refuse a broken one
// instead of panicking or emitting code that does not compile.
func (s *Schema) verify() error {
	if s == nil {
		return Errors{{Msg: "nil schema"}}
	}
	var problems Errors
	fail := func(format string, args ...any) {
		problems = append(problems, &Error{Msg: fmt.Sprintf(format, args...)})
	}
	if !isIdent(s.Package) || goKeywords[s.Package] {
		fail("package %q is not a Go identifier", s.Package)
	}
	names := map[string]bool{}
	validType := func(t Type, allowMap bool) bool {
		switch {
		case t.Kind == KindMessage:
			return s.Message(t.Message) != nil
		case t.Kind == KindMap:
			return allowMap
		default:
			return t.Kind >= KindBool && t.Kind <= KindBytes || t.Kind == KindTime || t.Kind == KindDuration
		}
	}
	for _, m := range s.Messages {
		if m == nil || !isExported(m.Name) || names[m.Name] {
			fail("invalid or duplicate message")
			continue
		}
		names[m.Name] = true
		tags := map[uint32]bool{}
		fields := map[string]bool{}
		for _, f := range m.Fields {
			switch {
			case f == nil:
				fail("message %s: nil field", m.Name)
			case f.Tag == 0 || f.Tag > MaxTag || tags[f.Tag]:
				fail("message %s: bad or duplicate tag %d", m.Name, f.Tag)
			case !isExported(f.Name) || reservedFieldNames[f.Name] || fields[f.Name]:
				fail("message %s: bad or duplicate field name %q", m.Name, f.Name)
			case !validType(f.Type, true):
				fail("message %s: field %s: invalid type", m.Name, f.Name)
			case f.ListValue && !f.IsMap():
				fail("message %s: field %s: list is only allowed on a map", m.Name, f.Name)
			case f.IsMap() && (f.Repeated || !validType(f.Value, false) ||
				(f.Key.Kind != KindString && f.Key.Kind != KindInt32 && f.Key.Kind != KindInt64 && f.Key.Kind != KindUint32 && f.Key.Kind != KindUint64)):
				fail("message %s: field %s: invalid map", m.Name, f.Name)
			default:
				tags[f.Tag] = true
				fields[f.Name] = true
			}
		}
		for i := 1; i < len(m.Fields); i++ {
			if m.Fields[i-1] != nil && m.Fields[i] != nil && m.Fields[i-1].Tag > m.Fields[i].Tag {
				fail("message %s: fields not sorted by tag", m.Name)
				break
			}
		}
		for _, r := range m.Reserved {
			if r == nil || r.Tag == 0 || r.Tag > MaxTag || tags[r.Tag] {
				fail("message %s: bad or duplicate reserved tag", m.Name)
			}
		}
	}
	if len(problems) > 0 {
		return problems
	}
	return nil
}

// Message is one message of a schema.
type Message struct {
	Name     string
	Doc      string
	Fields   []*Field // sorted by tag
	Reserved []*Reserved
	Line     int
}

// Field is one field of a message.
type Field struct {
	Tag      uint32
	Name     string
	Doc      string
	Type     Type // for a map: Kind == KindMap, Key and Value set
	Repeated bool
	Key      Type // map key: string or an integer kind
	Value    Type // map value: any non-map type
	// ListValue makes each map value a list of Value (map[K][]V), as list="true" says.
	ListValue bool
	Line      int
}

// IsMap reports whether f is a map field.
func (f *Field) IsMap() bool { return f.Type.Kind == KindMap }

// Reserved marks a tag that a deleted field used. Its name and type, when
// given, let `tlvgen check` explain what the tag carried.
type Reserved struct {
	Tag  uint32
	Name string
	Type string
	Line int
}

// Error is a schema error with its position in the XML document.
type Error struct {
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// ErrInvalid is matched (errors.Is) by every schema validation error.
var ErrInvalid = errors.New("tlvgen: invalid schema")

// Errors lists every problem found in a schema; it matches ErrInvalid.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	b.WriteString("tlvgen: invalid schema:")
	for _, e := range es {
		b.WriteString("\n\t")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Is lets errors.Is(err, ErrInvalid) match.
func (es Errors) Is(target error) bool { return target == ErrInvalid }

// raw element shapes, as read from the document before validation.
type rawField struct {
	attrs map[string]string
	line  int
	elem  string // "field" or "reserved"
}

type rawMessage struct {
	attrs  map[string]string
	fields []rawField
	line   int
}

// Parse reads and validates a schema document. It never panics; every
// problem it can find is reported in one Errors value.
func Parse(data []byte) (*Schema, error) {
	if len(data) > MaxSchemaBytes {
		return nil, Errors{{Msg: fmt.Sprintf("document is %d bytes, more than the limit of %d", len(data), MaxSchemaBytes)}}
	}
	proto, msgs, err := readDocument(data)
	if err != nil && proto == nil {
		return nil, err
	}
	s, verr := validate(proto, msgs)
	if err == nil {
		return s, verr
	}
	// Structural problems (an unexpected element or text) do not hide the others:
	// the elements that were understood are validated too, and all are reported.
	problems := err.(Errors)
	if verr != nil {
		problems = append(problems, verr.(Errors)...)
	}
	sort.SliceStable(problems, func(a, b int) bool { return problems[a].Line < problems[b].Line })
	return nil, problems
}

// readDocument walks the XML tokens and collects the elements it knows.
func readDocument(data []byte) (map[string]string, []*rawMessage, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	var (
		proto    map[string]string
		msgs     []*rawMessage
		cur      *rawMessage
		stack    []string
		problems Errors
		sawRoot  bool
	)
	line := func() int { l, _ := dec.InputPos(); return l }
	fail := func(format string, args ...any) {
		problems = append(problems, &Error{Line: line(), Msg: fmt.Sprintf(format, args...)})
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, nil, Errors{{Line: se.Line, Msg: "malformed XML: " + se.Msg}}
			}
			return nil, nil, Errors{{Line: line(), Msg: "malformed XML: " + err.Error()}}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) >= MaxDepth {
				return nil, nil, Errors{{Line: line(), Msg: fmt.Sprintf("elements nested deeper than %d", MaxDepth)}}
			}
			name := t.Name.Local
			parent := ""
			if len(stack) > 0 {
				parent = stack[len(stack)-1]
			}
			path := strings.Join(stack, "/")
			stack = append(stack, name)
			attrs := make(map[string]string, len(t.Attr))
			for _, a := range t.Attr {
				if _, dup := attrs[a.Name.Local]; dup {
					fail("<%s> has attribute %q twice", name, a.Name.Local)
				}
				attrs[a.Name.Local] = a.Value
			}
			switch {
			case path == "" && name == "protocol":
				if sawRoot {
					fail("more than one <protocol> element")
				}
				sawRoot = true
				proto = attrs
			case path == "":
				fail("root element is <%s>, want <protocol>", name)
			case path == "protocol" && name == "message":
				if len(msgs) >= MaxMessages {
					return nil, nil, Errors{{Line: line(), Msg: fmt.Sprintf("more than %d messages", MaxMessages)}}
				}
				cur = &rawMessage{attrs: attrs, line: line()}
				msgs = append(msgs, cur)
			case path == "protocol/message" && (name == "field" || name == "reserved"):
				if len(cur.fields) >= MaxFields {
					return nil, nil, Errors{{Line: line(), Msg: fmt.Sprintf("message has more than %d fields", MaxFields)}}
				}
				cur.fields = append(cur.fields, rawField{attrs: attrs, line: line(), elem: name})
			case name == "doc" && (path == "protocol/message" || path == "protocol"):
				// Documentation; its text is read below.
			default:
				if parent == "" {
					parent = "document"
				}
				fail("unexpected element <%s> inside <%s>", name, parent)
			}
		case xml.EndElement:
			if len(stack) > 0 {
				if stack[len(stack)-1] == "message" {
					cur = nil
				}
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			if strings.Join(stack, "/") == "protocol/message/doc" && cur != nil {
				cur.attrs["\x00doc"] += string(t)
			} else if len(stack) > 0 && stack[len(stack)-1] != "doc" && strings.TrimSpace(string(t)) != "" {
				fail("unexpected text %q inside <%s>", clip(strings.TrimSpace(string(t))), stack[len(stack)-1])
			}
		}
	}
	if !sawRoot {
		problems = append(problems, &Error{Msg: "no <protocol> element"})
	}
	if len(problems) > 0 {
		if !sawRoot {
			return nil, nil, problems
		}
		return proto, msgs, problems // proto non-nil: Parse validates the rest too
	}
	return proto, msgs, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// goKeywords may not be used as names: they would not compile.
var goKeywords = map[string]bool{
	"break": true, "case": true, "chan": true, "const": true, "continue": true, "default": true,
	"defer": true, "else": true, "fallthrough": true, "for": true, "func": true, "go": true, "goto": true,
	"if": true, "import": true, "interface": true, "map": true, "package": true, "range": true,
	"return": true, "select": true, "struct": true, "switch": true, "type": true, "var": true,
}

// reservedFieldNames are taken by the generated code on every message type.
var reservedFieldNames = map[string]bool{
	"UnknownFields": true, "MarshalTLV": true, "AppendTLV": true, "UnmarshalTLV": true,
	"SizeTLV": true, "Reset": true, "String": true,
}

// isIdent reports whether s is an ASCII Go identifier.
func isIdent(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func isExported(s string) bool { return isIdent(s) && s[0] >= 'A' && s[0] <= 'Z' }

func validate(proto map[string]string, raws []*rawMessage) (*Schema, error) {
	var problems Errors
	fail := func(line int, format string, args ...any) {
		problems = append(problems, &Error{Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	s := &Schema{Package: proto["package"], byName: make(map[string]*Message, len(raws))}
	for k := range proto {
		if k != "package" {
			fail(1, "unknown attribute %q on <protocol>", k)
		}
	}
	if s.Package == "" {
		fail(1, "<protocol> needs a package attribute")
	} else if !isIdent(s.Package) || strings.ToLower(s.Package) != s.Package || goKeywords[s.Package] {
		fail(1, "package %q is not a lower-case Go identifier", s.Package)
	}
	for _, rm := range raws {
		m := &Message{Name: rm.attrs["name"], Doc: strings.TrimSpace(rm.attrs["\x00doc"]), Line: rm.line}
		for k := range rm.attrs {
			if k != "name" && k != "\x00doc" {
				fail(rm.line, "unknown attribute %q on <message>", k)
			}
		}
		if !isExported(m.Name) {
			fail(rm.line, "message name %q must be an exported Go identifier (A-Z first, then letters, digits, _)", m.Name)
		} else if s.byName[m.Name] != nil {
			fail(rm.line, "message %s is defined twice (first on line %d)", m.Name, s.byName[m.Name].Line)
		} else {
			s.byName[m.Name] = m
		}
		s.Messages = append(s.Messages, m)
	}
	for i, rm := range raws {
		m := s.Messages[i]
		tags := map[uint32]int{}
		names := map[string]int{}
		for _, rf := range rm.fields {
			if rf.elem == "reserved" {
				r, ok := parseReserved(rf, fail)
				if !ok {
					continue
				}
				if prev, dup := tags[r.Tag]; dup {
					fail(rf.line, "message %s: tag %d is used twice (first on line %d)", m.Name, r.Tag, prev)
					continue
				}
				tags[r.Tag] = rf.line
				m.Reserved = append(m.Reserved, r)
				continue
			}
			f, ok := parseField(s, m, rf, fail)
			if f.Tag != 0 {
				if prev, dup := tags[f.Tag]; dup {
					fail(rf.line, "message %s: tag %d is used twice (first on line %d)", m.Name, f.Tag, prev)
					ok = false
				} else {
					tags[f.Tag] = rf.line
				}
			}
			if f.Name != "" {
				if prev, dup := names[f.Name]; dup {
					fail(rf.line, "message %s: field name %s is used twice (first on line %d)", m.Name, f.Name, prev)
					ok = false
				} else {
					names[f.Name] = rf.line
				}
			}
			if ok {
				m.Fields = append(m.Fields, f)
			}
		}
		sort.Slice(m.Fields, func(a, b int) bool { return m.Fields[a].Tag < m.Fields[b].Tag })
		sort.Slice(m.Reserved, func(a, b int) bool { return m.Reserved[a].Tag < m.Reserved[b].Tag })
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return s, nil
}

func parseTag(v string) (uint32, bool) {
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n == 0 || n > MaxTag {
		return 0, false
	}
	return uint32(n), true
}

func parseReserved(rf rawField, fail func(int, string, ...any)) (*Reserved, bool) {
	for k := range rf.attrs {
		if k != "tag" && k != "name" && k != "type" {
			fail(rf.line, "unknown attribute %q on <reserved>", k)
		}
	}
	tag, ok := parseTag(rf.attrs["tag"])
	if !ok {
		fail(rf.line, "<reserved> tag %q must be an integer from 1 to %d", rf.attrs["tag"], MaxTag)
		return nil, false
	}
	return &Reserved{Tag: tag, Name: rf.attrs["name"], Type: rf.attrs["type"], Line: rf.line}, true
}

var fieldAttrs = map[string]bool{"tag": true, "name": true, "type": true, "repeated": true, "key": true, "value": true, "list": true, "doc": true}

func parseField(s *Schema, m *Message, rf rawField, fail func(int, string, ...any)) (*Field, bool) {
	ok := true
	for k := range rf.attrs {
		if !fieldAttrs[k] {
			fail(rf.line, "message %s: unknown attribute %q on <field>", m.Name, k)
			ok = false
		}
	}
	f := &Field{Name: rf.attrs["name"], Doc: rf.attrs["doc"], Line: rf.line}
	tag, tagOK := parseTag(rf.attrs["tag"])
	if !tagOK {
		fail(rf.line, "message %s: field %q: tag %q must be an integer from 1 to %d", m.Name, f.Name, rf.attrs["tag"], MaxTag)
		ok = false
	}
	f.Tag = tag
	if !isExported(f.Name) {
		fail(rf.line, "message %s: field name %q must be an exported Go identifier (A-Z first, then letters, digits, _)", m.Name, f.Name)
		ok = false
	} else if reservedFieldNames[f.Name] {
		fail(rf.line, "message %s: field name %s is taken by the generated code", m.Name, f.Name)
		ok = false
	}
	switch rep := rf.attrs["repeated"]; rep {
	case "", "false":
	case "true":
		f.Repeated = true
	default:
		fail(rf.line, "message %s: field %s: repeated=%q, want \"true\" or \"false\"", m.Name, f.Name, rep)
		ok = false
	}
	typ, typOK := resolveType(s, rf.attrs["type"])
	if !typOK {
		fail(rf.line, "message %s: field %s: unknown type %q (want bool, int32, int64, uint32, uint64, float32, float64, string, bytes, time, duration, map or a message name)", m.Name, f.Name, rf.attrs["type"])
		return f, false
	}
	f.Type = typ
	_, hasKey := rf.attrs["key"]
	_, hasValue := rf.attrs["value"]
	list, hasList := rf.attrs["list"]
	if typ.Kind != KindMap {
		if hasKey || hasValue || hasList {
			fail(rf.line, "message %s: field %s: key, value and list are only allowed on a map", m.Name, f.Name)
			ok = false
		}
		return f, ok
	}
	switch list {
	case "", "false":
	case "true":
		f.ListValue = true
	default:
		fail(rf.line, "message %s: field %s: list=%q, want \"true\" or \"false\"", m.Name, f.Name, list)
		ok = false
	}
	if f.Repeated {
		fail(rf.line, "message %s: field %s: a map cannot be repeated", m.Name, f.Name)
		ok = false
	}
	key, keyOK := resolveType(s, rf.attrs["key"])
	switch {
	case !keyOK:
		fail(rf.line, "message %s: field %s: unknown map key type %q", m.Name, f.Name, rf.attrs["key"])
		ok = false
	case key.Kind != KindString && key.Kind != KindInt32 && key.Kind != KindInt64 && key.Kind != KindUint32 && key.Kind != KindUint64:
		fail(rf.line, "message %s: field %s: map key type %s is not allowed (want string or an integer type)", m.Name, f.Name, key)
		ok = false
	}
	value, valueOK := resolveType(s, rf.attrs["value"])
	switch {
	case !valueOK:
		fail(rf.line, "message %s: field %s: unknown map value type %q", m.Name, f.Name, rf.attrs["value"])
		ok = false
	case value.Kind == KindMap:
		fail(rf.line, "message %s: field %s: a map value cannot be a map", m.Name, f.Name)
		ok = false
	}
	f.Key, f.Value = key, value
	return f, ok
}

func resolveType(s *Schema, name string) (Type, bool) {
	if k, ok := kindNames[name]; ok {
		return Type{Kind: k}, true
	}
	if s.byName[name] != nil {
		return Type{Kind: KindMessage, Message: name}, true
	}
	return Type{}, false
}
