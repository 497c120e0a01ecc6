package tlvgen

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// issueSchema is the XML example of issue 3, verbatim.
const issueSchema = `<protocol package="chat">
  <message name="Inner">
    <field tag="1" name="ID" type="int64"/>
    <field tag="2" name="Name" type="string"/>
  </message>
  <message name="Msg">
    <field tag="1" name="UID" type="uint64"/>
    <field tag="2" name="Text" type="string"/>
    <field tag="3" name="Payload" type="bytes"/>
    <field tag="4" name="IDs" type="int64" repeated="true"/>
    <field tag="5" name="Inner" type="Inner"/>
    <field tag="6" name="Items" type="Inner" repeated="true"/>
    <field tag="7" name="Attrs" type="map" key="string" value="string"/>
  </message>
</protocol>`

func TestParseIssueSchema(t *testing.T) {
	s, err := Parse([]byte(issueSchema))
	require.NoError(t, err)
	assert.Equal(t, "chat", s.Package)
	require.Len(t, s.Messages, 2)
	msg := s.Message("Msg")
	require.NotNil(t, msg)
	require.Len(t, msg.Fields, 7)
	want := []struct {
		tag  uint32
		name string
		typ  string
		rep  bool
	}{
		{1, "UID", "uint64", false}, {2, "Text", "string", false}, {3, "Payload", "bytes", false},
		{4, "IDs", "int64", true}, {5, "Inner", "Inner", false}, {6, "Items", "Inner", true}, {7, "Attrs", "map", false},
	}
	for i, w := range want {
		f := msg.Fields[i]
		assert.Equal(t, w.tag, f.Tag)
		assert.Equal(t, w.name, f.Name)
		assert.Equal(t, w.typ, f.Type.String())
		assert.Equal(t, w.rep, f.Repeated)
	}
	attrs := msg.Fields[6]
	assert.Equal(t, Type{Kind: KindString}, attrs.Key)
	assert.Equal(t, Type{Kind: KindString}, attrs.Value)
	assert.Equal(t, Type{Kind: KindMessage, Message: "Inner"}, msg.Fields[4].Type)
}

func TestParseExtensions(t *testing.T) {
	s, err := Parse([]byte(`<?xml version="1.0"?>
<!-- comment -->
<protocol package="store">
  <message name="Rec">
    <doc>Rec is a stored record.</doc>
    <field tag="3" name="B" type="float32" doc="third"/>
    <field tag="1" name="A" type="map" key="int32" value="Rec"/>
    <reserved tag="2" name="Old" type="string"/>
    <field tag="536870911" name="Max" type="bool"/>
  </message>
</protocol>`))
	require.NoError(t, err)
	m := s.Message("Rec")
	require.NotNil(t, m)
	assert.Equal(t, "Rec is a stored record.", m.Doc)
	require.Len(t, m.Fields, 3)
	assert.Equal(t, []uint32{1, 3, MaxTag}, []uint32{m.Fields[0].Tag, m.Fields[1].Tag, m.Fields[2].Tag}, "fields sorted by tag")
	assert.Equal(t, "third", m.Fields[1].Doc)
	assert.Equal(t, Type{Kind: KindMessage, Message: "Rec"}, m.Fields[0].Value)
	require.Len(t, m.Reserved, 1)
	assert.Equal(t, &Reserved{Tag: 2, Name: "Old", Type: "string", Line: 8}, m.Reserved[0])
}

func TestParseErrors(t *testing.T) {
	wrap := func(fields string) string {
		return `<protocol package="p"><message name="M">` + fields + `</message></protocol>`
	}
	tests := []struct {
		name, xml, want string
	}{
		{"empty", ``, "no <protocol> element"},
		{"malformed", `<protocol package="p"><message`, "malformed XML"},
		{"unclosed", `<protocol package="p">`, "malformed XML"},
		{"wrong root", `<schema/>`, "root element is <schema>"},
		{"two roots", `<protocol package="p"/><protocol package="q"/>`, "more than one <protocol>"},
		{"no package", `<protocol/>`, "needs a package attribute"},
		{"bad package", `<protocol package="Chat"/>`, "not a lower-case Go identifier"},
		{"keyword package", `<protocol package="func"/>`, "not a lower-case Go identifier"},
		{"unknown protocol attr", `<protocol package="p" version="2"/>`, `unknown attribute "version" on <protocol>`},
		{"lower message", `<protocol package="p"><message name="m"/></protocol>`, `message name "m" must be an exported`},
		{"dup message", `<protocol package="p"><message name="M"/><message name="M"/></protocol>`, "message M is defined twice"},
		{"dup tag", wrap(`<field tag="1" name="A" type="bool"/><field tag="1" name="B" type="bool"/>`), "tag 1 is used twice"},
		{"dup tag reserved", wrap(`<field tag="1" name="A" type="bool"/><reserved tag="1"/>`), "tag 1 is used twice"},
		{"dup name", wrap(`<field tag="1" name="A" type="bool"/><field tag="2" name="A" type="bool"/>`), "field name A is used twice"},
		{"zero tag", wrap(`<field tag="0" name="A" type="bool"/>`), "must be an integer from 1"},
		{"big tag", wrap(`<field tag="536870912" name="A" type="bool"/>`), "must be an integer from 1"},
		{"neg tag", wrap(`<field tag="-1" name="A" type="bool"/>`), "must be an integer from 1"},
		{"text tag", wrap(`<field tag="one" name="A" type="bool"/>`), "must be an integer from 1"},
		{"unknown type", wrap(`<field tag="1" name="A" type="int8"/>`), `unknown type "int8"`},
		{"bad name", wrap(`<field tag="1" name="a-b" type="bool"/>`), `field name "a-b" must be an exported`},
		{"unexported name", wrap(`<field tag="1" name="a" type="bool"/>`), `field name "a" must be an exported`},
		{"taken name", wrap(`<field tag="1" name="UnknownFields" type="bool"/>`), "taken by the generated code"},
		{"bad repeated", wrap(`<field tag="1" name="A" type="bool" repeated="yes"/>`), `repeated="yes"`},
		{"repeated map", wrap(`<field tag="1" name="A" type="map" key="string" value="string" repeated="true"/>`), "a map cannot be repeated"},
		{"map key float", wrap(`<field tag="1" name="A" type="map" key="float64" value="string"/>`), "map key type float64 is not allowed"},
		{"map key missing", wrap(`<field tag="1" name="A" type="map" value="string"/>`), `unknown map key type ""`},
		{"map value map", wrap(`<field tag="1" name="A" type="map" key="string" value="map"/>`), "a map value cannot be a map"},
		{"map value unknown", wrap(`<field tag="1" name="A" type="map" key="string" value="Nope"/>`), `unknown map value type "Nope"`},
		{"key on scalar", wrap(`<field tag="1" name="A" type="string" key="string"/>`), "only allowed on a map"},
		{"list on scalar", wrap(`<field tag="1" name="A" type="string" list="true"/>`), "only allowed on a map"},
		{"bad list", wrap(`<field tag="1" name="A" type="map" key="string" value="string" list="yes"/>`), `list="yes"`},
		{"unknown field attr", wrap(`<field tag="1" name="A" type="bool" default="1"/>`), `unknown attribute "default"`},
		{"unknown element", wrap(`<enum/>`), "unexpected element <enum>"},
		{"stray text", wrap(`hello`), `unexpected text "hello"`},
		{"reserved bad tag", wrap(`<reserved tag="x"/>`), "<reserved> tag"},
		{"dup attr", `<protocol package="p" package="q"/>`, `<protocol> has attribute "package" twice`},
		{"deep", `<protocol package="p">` + strings.Repeat("<a>", 20) + strings.Repeat("</a>", 20) + `</protocol>`, "nested deeper than 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse([]byte(tt.xml))
			require.Error(t, err)
			assert.Nil(t, s)
			assert.True(t, errors.Is(err, ErrInvalid), "errors.Is(err, ErrInvalid): %v", err)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "tlvgen: "), "got %q", err.Error())
		})
	}
}

func TestParseReportsEveryProblemWithLines(t *testing.T) {
	_, err := Parse([]byte(`<protocol package="p">
<message name="M">
  <field tag="1" name="A" type="nope"/>
  <field tag="2" name="b" type="bool"/>
</message>
</protocol>`))
	var es Errors
	require.ErrorAs(t, err, &es)
	require.Len(t, es, 2)
	assert.Equal(t, 3, es[0].Line)
	assert.Equal(t, 4, es[1].Line)
}

// TestParseUnknownElementsHideNothing: seeded random schemas mixing bad
// fields (unknown type, lower-case name) with unexpected elements report
// every problem, each on its line. An unexpected element used to hide all
// the field errors.
func TestParseUnknownElementsHideNothing(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for range 200 {
		lines := []string{`<protocol package="p">`, `<message name="M">`}
		var want []int
		for i := range 1 + r.IntN(10) {
			switch r.IntN(4) {
			case 0:
				lines = append(lines, fmt.Sprintf(`<field tag="%d" name="F%d" type="nope"/>`, i+1, i))
				want = append(want, len(lines))
			case 1:
				lines = append(lines, fmt.Sprintf(`<field tag="%d" name="f%d" type="bool"/>`, i+1, i))
				want = append(want, len(lines))
			case 2:
				lines = append(lines, `<bogus/>`)
				want = append(want, len(lines))
			default:
				lines = append(lines, fmt.Sprintf(`<field tag="%d" name="F%d" type="int64"/>`, i+1, i))
			}
		}
		lines = append(lines, `</message>`, `</protocol>`)
		doc := strings.Join(lines, "\n")
		_, err := Parse([]byte(doc))
		if len(want) == 0 {
			require.NoError(t, err, doc)
			continue
		}
		var es Errors
		require.ErrorAs(t, err, &es, doc)
		var got []int
		for _, e := range es {
			got = append(got, e.Line)
		}
		require.Equal(t, want, got, "%s\n%v", doc, err)
	}
}

func TestParseLimits(t *testing.T) {
	_, err := Parse(make([]byte, MaxSchemaBytes+1))
	require.ErrorContains(t, err, "more than the limit")

	var b strings.Builder
	b.WriteString(`<protocol package="p">`)
	for range MaxMessages + 1 {
		b.WriteString(`<message name="M"/>`)
	}
	b.WriteString(`</protocol>`)
	_, err = Parse([]byte(b.String()))
	require.ErrorContains(t, err, "more than 4096 messages")

	_, err = Parse([]byte(strings.Repeat("<protocol>", 20)))
	require.ErrorContains(t, err, "nested deeper")
}

// TestCommandDocSchemaParses holds the schema example of `go doc ./tlv/cmd/tlvgen` to the
// parser, so the documentation cannot drift from the format.
func TestCommandDocSchemaParses(t *testing.T) {
	src, err := os.ReadFile("../../cmd/tlvgen/main.go")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(src), "// # Schema\n//\n")
	require.True(t, ok, "no # Schema section")
	var xml strings.Builder
	for _, line := range strings.Split(rest, "\n") {
		body, ok := strings.CutPrefix(line, "//\t")
		if !ok {
			break
		}
		xml.WriteString(body + "\n")
	}
	s, err := Parse([]byte(xml.String()))
	require.NoError(t, err, xml.String())
	require.Len(t, s.Messages, 2)
	code, err := Generate(s, Options{Source: "doc.xml"})
	require.NoError(t, err)
	require.Contains(t, string(code), "Headers map[string][]string")
}
