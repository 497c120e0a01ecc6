package tlvgen

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustParse(t *testing.T, xml string) *Schema {
	t.Helper()
	s, err := Parse([]byte(xml))
	require.NoError(t, err)
	return s
}

func schemaOf(messages string) string {
	return `<protocol package="p"><message name="Inner"><field tag="1" name="ID" type="int64"/></message>` +
		`<message name="Other"><field tag="1" name="ID" type="int64"/></message>` + messages + `</protocol>`
}

func TestCheck(t *testing.T) {
	const base = `<message name="M">
		<field tag="1" name="A" type="int32"/>
		<field tag="2" name="B" type="Inner"/>
		<field tag="3" name="C" type="string" repeated="true"/>
		<field tag="4" name="D" type="map" key="int32" value="string"/>
		<field tag="5" name="E" type="float64"/>
		<reserved tag="9" name="Gone" type="bytes"/>
	</message>`
	tests := []struct {
		name     string
		old, new string
		kind     ChangeKind
		breaking bool
		tag      uint32
	}{
		{"tag reused with another type", base, strings.Replace(base, `name="A" type="int32"`, `name="A" type="string"`, 1), TypeChanged, true, 1},
		{"int64 to duration", strings.Replace(base, `type="int32"`, `type="int64"`, 1), strings.Replace(base, `name="A" type="int32"`, `name="A" type="duration"`, 1), Retyped, false, 1},
		{"float to time", base, strings.Replace(base, `name="E" type="float64"`, `name="E" type="time"`, 1), TypeChanged, true, 5},
		{"string to bytes", base, strings.Replace(base, `name="C" type="string"`, `name="C" type="bytes"`, 1), Retyped, false, 3},
		{"signed to unsigned", base, strings.Replace(base, `name="A" type="int32"`, `name="A" type="uint32"`, 1), TypeChanged, true, 1},
		{"narrowing float", base, strings.Replace(base, `name="E" type="float64"`, `name="E" type="float32"`, 1), Narrowed, true, 5},
		{"narrowing int", strings.Replace(base, `type="int32"`, `type="int64"`, 1), base, Narrowed, true, 1},
		{"widening int", base, strings.Replace(base, `name="A" type="int32"`, `name="A" type="int64"`, 1), Widened, false, 1},
		{"deleted tag reused", base, strings.Replace(base, `<reserved tag="9" name="Gone" type="bytes"/>`, `<field tag="9" name="Back" type="bytes"/>`, 1), ReservedReused, true, 9},
		{"message type swapped", base, strings.Replace(base, `name="B" type="Inner"`, `name="B" type="Other"`, 1), MessageSwapped, true, 2},
		{"message to bytes", base, strings.Replace(base, `name="B" type="Inner"`, `name="B" type="bytes"`, 1), TypeChanged, true, 2},
		{"repeated to singular", base, strings.Replace(base, `type="string" repeated="true"`, `type="string"`, 1), CardinalityFlip, true, 3},
		{"singular to repeated", base, strings.Replace(base, `name="A" type="int32"`, `name="A" type="int32" repeated="true"`, 1), CardinalityFlip, true, 1},
		{"map key changed", base, strings.Replace(base, `key="int32"`, `key="string"`, 1), MapKeyChanged, true, 4},
		{"map value changed", base, strings.Replace(base, `value="string"`, `value="Inner"`, 1), MapValueChanged, true, 4},
		{"map key widened", base, strings.Replace(base, `key="int32"`, `key="int64"`, 1), Widened, false, 4},
		{"map value to list", base, strings.Replace(base, `value="string"/>`, `value="string" list="true"/>`, 1), CardinalityFlip, true, 4},
		{"map list to value", strings.Replace(base, `value="string"/>`, `value="string" list="true"/>`, 1), base, CardinalityFlip, true, 4},
		{"map to repeated", base, strings.Replace(base, `type="map" key="int32" value="string"`, `type="string" repeated="true"`, 1), TypeChanged, true, 4},
		{"field added", base, strings.Replace(base, `</message>`, `<field tag="10" name="New" type="bool"/></message>`, 1), FieldAdded, false, 10},
		{"field deleted without marker", base, strings.Replace(base, `<field tag="5" name="E" type="float64"/>`, ``, 1), FieldDeleted, false, 5},
		{"field deleted with marker", base, strings.Replace(base, `<field tag="5" name="E" type="float64"/>`, `<reserved tag="5"/>`, 1), FieldDeleted, false, 5},
		{"renumbered", base, strings.Replace(base, `tag="5" name="E"`, `tag="15" name="E"`, 1), FieldMoved, true, 5},
		{"renumbered and reserved", base, strings.Replace(base, `<field tag="5" name="E" type="float64"/>`, `<reserved tag="5"/><field tag="15" name="E" type="float64"/>`, 1), FieldMoved, true, 5},
		{"widening float", strings.Replace(base, `name="E" type="float64"`, `name="E" type="float32"`, 1), base, Widened, false, 5},
		{"renamed", base, strings.Replace(base, `name="E"`, `name="Ratio"`, 1), FieldRenamed, false, 5},
		{"reserved dropped", base, strings.Replace(base, `<reserved tag="9" name="Gone" type="bytes"/>`, ``, 1), ReservedDropped, false, 9},
		{"message deleted", base, ``, MessageDeleted, false, 0},
		{"message added", ``, base, MessageIntroduce, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changes := Check(mustParse(t, schemaOf(tt.old)), mustParse(t, schemaOf(tt.new)))
			require.NotEmpty(t, changes)
			var found *Change
			for i := range changes {
				if changes[i].Kind == tt.kind {
					found = &changes[i]
				}
			}
			require.NotNil(t, found, "want a %s change, got %v", tt.kind, changes)
			assert.Equal(t, tt.breaking, found.Breaking, found.String())
			assert.Equal(t, tt.tag, found.Tag)
			assert.Equal(t, tt.breaking, Breaking(changes), "%v", changes)
			if tt.breaking {
				assert.True(t, changes[0].Breaking, "breaking changes are listed first")
				assert.Contains(t, changes[0].String(), "INCOMPATIBLE")
			}
		})
	}
}

func TestCheckIdenticalSchemasHaveNoChanges(t *testing.T) {
	s := mustParse(t, issueSchema)
	assert.Empty(t, Check(s, s))
}

func TestCheckMessageFieldsChangeDetail(t *testing.T) {
	old := mustParse(t, issueSchema)
	cur := mustParse(t, strings.Replace(issueSchema, `name="IDs" type="int64"`, `name="IDs" type="int32"`, 1))
	changes := Check(old, cur)
	require.Len(t, changes, 1)
	assert.Equal(t, "INCOMPATIBLE: message Msg, tag 4: field IDs: narrowed from int64 to int32: larger values written by the old version no longer fit (narrowed)", changes[0].String())
}

func TestCheckWarnsOnlyForUnreservedDeletes(t *testing.T) {
	old := mustParse(t, schemaOf(`<message name="M"><field tag="1" name="A" type="bool"/><field tag="2" name="B" type="bool"/><reserved tag="3"/></message>`))
	cur := mustParse(t, schemaOf(`<message name="M"><reserved tag="1"/></message>`))
	byTag := map[uint32]Change{}
	for _, c := range Check(old, cur) {
		byTag[c.Tag] = c
	}
	assert.False(t, byTag[1].Warning, "deleted and reserved: fine")
	assert.True(t, byTag[2].Warning, "deleted without a marker")
	assert.True(t, byTag[3].Warning, "marker dropped")
	assert.Contains(t, byTag[2].String(), "warning: ")
	assert.False(t, Breaking(Check(old, cur)))
}

// TestCheckFloatWideningWarnsAboutStrictReaders: float32 → float64 is read by
// lenient readers only; strict readers of either version reject the other's
// records (adversary review F3), so check warns and says so.
func TestCheckFloatWideningWarnsAboutStrictReaders(t *testing.T) {
	for _, f := range []string{`type="float32"`, `type="float32" repeated="true"`, `type="map" key="string" value="float32"`} {
		old := mustParse(t, schemaOf(`<message name="M"><field tag="1" name="A" `+f+`/></message>`))
		cur := mustParse(t, schemaOf(`<message name="M"><field tag="1" name="A" `+strings.Replace(f, "float32", "float64", 1)+`/></message>`))
		changes := Check(old, cur)
		require.Len(t, changes, 1, f)
		assert.True(t, changes[0].Warning, f)
		assert.False(t, Breaking(changes))
		assert.Contains(t, changes[0].String(), "strict readers of either version reject")
	}
}

// TestCheckMovedFieldsGenerative renumbers a seeded random subset of the
// fields of random messages (same name and type, fresh tag, the old tag
// sometimes reserved): check is breaking exactly when a field moved, with one
// moved change per moved field naming both tags.
func TestCheckMovedFieldsGenerative(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 11))
	types := []string{"bool", "int32", "int64", "uint64", "float64", "string", "bytes", "time", "Inner"}
	for range 300 {
		n := 1 + r.IntN(8)
		var oldF, newF []string
		moved := map[string]bool{}
		tag := 0
		for i := range n {
			tag += 1 + r.IntN(5)
			typ := types[r.IntN(len(types))]
			oldF = append(oldF, fmt.Sprintf(`<field tag="%d" name="F%d" type="%s"/>`, tag, i, typ))
			if r.IntN(3) == 0 {
				moved[fmt.Sprintf("F%d", i)] = true
				if r.IntN(2) == 0 {
					newF = append(newF, fmt.Sprintf(`<reserved tag="%d"/>`, tag))
				}
				newF = append(newF, fmt.Sprintf(`<field tag="%d" name="F%d" type="%s"/>`, 1000+tag, i, typ))
			} else {
				newF = append(newF, oldF[len(oldF)-1])
			}
		}
		oldS := schemaOf(`<message name="M">` + strings.Join(oldF, "") + `</message>`)
		newS := schemaOf(`<message name="M">` + strings.Join(newF, "") + `</message>`)
		changes := Check(mustParse(t, oldS), mustParse(t, newS))
		got := 0
		for _, c := range changes {
			if c.Kind == FieldMoved {
				got++
				assert.True(t, c.Breaking)
				assert.Contains(t, c.Detail, fmt.Sprintf("to tag %d", 1000+c.Tag), c.String())
			}
		}
		assert.Equal(t, len(moved), got, "%s\n%s\n%v", oldS, newS, changes)
		assert.Equal(t, len(moved) > 0, Breaking(changes), "%v", changes)
	}
}

// TestCheckMessageRenames renames seeded random subsets of the messages of
// random schemas, updating every use: check reports each rename once and
// nothing breaking (adversary review F9: a pure rename was INCOMPATIBLE).
// Renaming and also changing a field's type stays breaking.
func TestCheckMessageRenames(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 13))
	types := []string{"bool", "int64", "string", "bytes", "time"}
	for range 200 {
		n := 1 + r.IntN(4)
		var msgs [][]string // per message: its fields, with %s for message references
		for i := range n {
			fields := []string{fmt.Sprintf(`<field tag="%d" name="Own" type="int64"/>`, 100+i)} // unique shape
			for j := range r.IntN(4) {
				if r.IntN(3) == 0 {
					fields = append(fields, fmt.Sprintf(`<field tag="%d" name="R%d" type="{M%d}" repeated="%v"/>`, j+1, j, r.IntN(n), r.IntN(2) == 0))
				} else {
					fields = append(fields, fmt.Sprintf(`<field tag="%d" name="F%d" type="%s"/>`, j+1, j, types[r.IntN(len(types))]))
				}
			}
			msgs = append(msgs, fields)
		}
		names := make([]string, n)
		renamed := make([]string, n)
		count := 0
		for i := range n {
			names[i] = fmt.Sprintf("M%d", i)
			renamed[i] = names[i]
			if r.IntN(2) == 0 {
				renamed[i] = fmt.Sprintf("N%d", i)
				count++
			}
		}
		build := func(nm []string, breakOne bool) string {
			var b strings.Builder
			b.WriteString(`<protocol package="p">`)
			for i, fields := range msgs {
				fmt.Fprintf(&b, `<message name="%s">`, nm[i])
				for k, f := range fields {
					for j := range n {
						f = strings.ReplaceAll(f, fmt.Sprintf("{M%d}", j), nm[j])
					}
					if breakOne && k == 0 {
						f = strings.Replace(f, `type="int64"`, `type="uint64"`, 1)
					}
					b.WriteString(f)
				}
				b.WriteString(`</message>`)
			}
			b.WriteString(`</protocol>`)
			return b.String()
		}
		oldS, newS := build(names, false), build(renamed, false)
		changes := Check(mustParse(t, oldS), mustParse(t, newS))
		got := 0
		for _, c := range changes {
			if c.Kind == MessageRenamed {
				got++
			}
		}
		assert.Equal(t, count, got, "%s\n%s\n%v", oldS, newS, changes)
		assert.False(t, Breaking(changes), "%s\n%s\n%v", oldS, newS, changes)
		// Renamed and changed: never reported as a (compatible) rename.
		for _, c := range Check(mustParse(t, oldS), mustParse(t, build(renamed, true))) {
			assert.NotEqual(t, MessageRenamed, c.Kind, "a type change hides behind a rename: %v", c)
		}
	}
}
