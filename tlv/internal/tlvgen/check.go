package tlvgen

import (
	"fmt"
	"sort"
)

// ChangeKind names one kind of schema change found by Check.
type ChangeKind string

// The kinds of change Check reports. The first group breaks compatibility:
// an old binary and a new one would misread each other's messages.
const (
	TypeChanged      ChangeKind = "type-changed"      // a tag now carries a different, unrelated type
	Narrowed         ChangeKind = "narrowed"          // int64→int32, float64→float32, …: values would be cut
	MessageSwapped   ChangeKind = "message-swapped"   // a message field now holds another message type
	CardinalityFlip  ChangeKind = "cardinality"       // repeated ↔ singular
	MapKeyChanged    ChangeKind = "map-key-changed"   // a map's key type changed
	MapValueChanged  ChangeKind = "map-value-changed" // a map's value type changed
	ReservedReused   ChangeKind = "reserved-reused"   // a tag marked deleted (<reserved>) is used again
	FieldMoved       ChangeKind = "moved"             // a field's name reappears under a new tag: each version loses the other's value
	Widened          ChangeKind = "widened"           // int32→int64 etc.: compatible by the spec's widening rules
	Retyped          ChangeKind = "retyped"           // string ↔ bytes: the same bytes on the wire
	FieldRenamed     ChangeKind = "renamed"           // same tag and type, new Go name: compatible on the wire
	FieldAdded       ChangeKind = "added"             // compatible: old binaries keep it as an unknown field
	FieldDeleted     ChangeKind = "deleted"           // compatible, but without <reserved> the tag can be reused later
	ReservedDropped  ChangeKind = "reserved-dropped"  // a <reserved> marker vanished: later reuse would go unnoticed
	MessageDeleted   ChangeKind = "message-deleted"   // a whole message is gone
	MessageIntroduce ChangeKind = "message-added"     // a new message
	MessageRenamed   ChangeKind = "message-renamed"   // a message deleted and one with the same fields added: names are not on the wire
)

// Change is one difference between two versions of a schema.
type Change struct {
	Kind     ChangeKind
	Breaking bool
	Warning  bool // compatible now, but risky later (a deleted tag left unreserved)
	Message  string
	Tag      uint32 // 0 for message-level changes
	Detail   string
}

func (c Change) String() string {
	level := "ok"
	if c.Breaking {
		level = "INCOMPATIBLE"
	} else if c.Warning {
		level = "warning"
	}
	if c.Tag == 0 {
		return fmt.Sprintf("%s: message %s: %s (%s)", level, c.Message, c.Detail, c.Kind)
	}
	return fmt.Sprintf("%s: message %s, tag %d: %s (%s)", level, c.Message, c.Tag, c.Detail, c.Kind)
}

// Check compares an old and a new version of a schema and lists every
// difference, breaking ones first. A change is breaking when a message written
// by one version would be misread, rejected or silently cut by the other.
//
// Both schemas must come from Parse (or satisfy its invariants); a nil or
// broken schema yields a single breaking change that says so.
func Check(old, cur *Schema) []Change {
	for _, s := range []*Schema{old, cur} {
		if err := s.verify(); err != nil {
			return []Change{{Kind: TypeChanged, Breaking: true, Detail: "cannot compare: " + err.Error()}}
		}
	}
	var out []Change
	add := func(c Change) { out = append(out, c) }
	ren := renamedMessages(old, cur)
	renamedTo := map[string]bool{}
	for o, n := range ren {
		renamedTo[n] = true
		add(Change{Kind: MessageRenamed, Message: n, Detail: fmt.Sprintf("message %s renamed to %s (the same fields; names are not on the wire)", o, n)})
	}
	for _, om := range old.Messages {
		nm := cur.Message(om.Name)
		if nm == nil {
			if ren[om.Name] == "" {
				add(Change{Kind: MessageDeleted, Message: om.Name, Detail: "message deleted"})
			}
			continue
		}
		checkMessage(om, nm, add, ren)
	}
	for _, nm := range cur.Messages {
		if old.Message(nm.Name) == nil && !renamedTo[nm.Name] {
			add(Change{Kind: MessageIntroduce, Message: nm.Name, Detail: "message added"})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Breaking != out[j].Breaking {
			return out[i].Breaking
		}
		if out[i].Message != out[j].Message {
			return out[i].Message < out[j].Message
		}
		return out[i].Tag < out[j].Tag
	})
	return out
}

// Breaking reports whether any change breaks compatibility.
func Breaking(changes []Change) bool {
	for _, c := range changes {
		if c.Breaking {
			return true
		}
	}
	return false
}

// renamedMessages pairs each message that vanished with the one added message whose
// fields are the same (tags, names aside, shapes and types; a reference to itself counts
// as the same), when exactly one matches each way.
func renamedMessages(old, cur *Schema) map[string]string {
	var gone, added []*Message
	for _, m := range old.Messages {
		if cur.Message(m.Name) == nil {
			gone = append(gone, m)
		}
	}
	for _, m := range cur.Messages {
		if old.Message(m.Name) == nil {
			added = append(added, m)
		}
	}
	// The largest consistent pairing: start from every (gone, added) pair and drop the
	// pairs whose fields differ, where a reference to a paired message counts as the
	// same, until nothing changes (so messages that refer to each other, or to
	// themselves, are renamed together).
	cand := map[[2]string]bool{}
	for _, om := range gone {
		for _, nm := range added {
			cand[[2]string{om.Name, nm.Name}] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, om := range gone {
			for _, nm := range added {
				if k := [2]string{om.Name, nm.Name}; cand[k] && !sameFields(om, nm, cand) {
					delete(cand, k)
					changed = true
				}
			}
		}
	}
	// Keep the pairs that are unique both ways.
	from, to := map[string]int{}, map[string]int{}
	for k := range cand {
		from[k[0]]++
		to[k[1]]++
	}
	ren := map[string]string{}
	for k := range cand {
		if from[k[0]] == 1 && to[k[1]] == 1 {
			ren[k[0]] = k[1]
		}
	}
	return ren
}

func sameFields(om, nm *Message, cand map[[2]string]bool) bool {
	if len(om.Fields) != len(nm.Fields) {
		return false
	}
	same := func(a, b Type) bool {
		return a == b || (a.Kind == KindMessage && b.Kind == KindMessage && cand[[2]string{a.Message, b.Message}])
	}
	for i, of := range om.Fields {
		nf := nm.Fields[i]
		if of.Tag != nf.Tag || of.Repeated != nf.Repeated || of.IsMap() != nf.IsMap() || of.ListValue != nf.ListValue ||
			!same(of.Type, nf.Type) || !same(of.Key, nf.Key) || !same(of.Value, nf.Value) {
			return false
		}
	}
	return true
}

func checkMessage(om, nm *Message, add func(Change), ren map[string]string) {
	oldFields := map[uint32]*Field{}
	for _, f := range om.Fields {
		oldFields[f.Tag] = f
	}
	oldReserved := map[uint32]*Reserved{}
	for _, r := range om.Reserved {
		oldReserved[r.Tag] = r
	}
	newFields := map[uint32]*Field{}
	for _, f := range nm.Fields {
		newFields[f.Tag] = f
	}
	newReserved := map[uint32]*Reserved{}
	for _, r := range nm.Reserved {
		newReserved[r.Tag] = r
	}
	for _, nf := range nm.Fields {
		if r := oldReserved[nf.Tag]; r != nil {
			what := ""
			if r.Name != "" || r.Type != "" {
				what = fmt.Sprintf(" (it carried %s %s)", r.Name, r.Type)
			}
			add(Change{Kind: ReservedReused, Breaking: true, Message: nm.Name, Tag: nf.Tag,
				Detail: fmt.Sprintf("field %s reuses a deleted tag%s; old records still hold the old values", nf.Name, what)})
			continue
		}
		of := oldFields[nf.Tag]
		if of == nil {
			add(Change{Kind: FieldAdded, Message: nm.Name, Tag: nf.Tag, Detail: fmt.Sprintf("field %s %s added", nf.Name, describe(nf))})
			continue
		}
		checkField(nm.Name, of, nf, add, ren)
	}
	added := map[string]*Field{} // new fields at tags the old version did not use, by name
	for _, nf := range nm.Fields {
		if oldFields[nf.Tag] == nil && oldReserved[nf.Tag] == nil {
			added[nf.Name] = nf
		}
	}
	for _, of := range om.Fields {
		if newFields[of.Tag] != nil {
			continue
		}
		if nf := added[of.Name]; nf != nil {
			add(Change{Kind: FieldMoved, Breaking: true, Message: nm.Name, Tag: of.Tag,
				Detail: fmt.Sprintf("field %s moved from tag %d to tag %d: old records carry it at %d, new ones at %d, "+
					"so readers of either version lose the other's value; keep tag %d (a tag, not a name, identifies a field)",
					of.Name, of.Tag, nf.Tag, of.Tag, nf.Tag, of.Tag)})
			continue
		}
		if newReserved[of.Tag] != nil {
			add(Change{Kind: FieldDeleted, Message: nm.Name, Tag: of.Tag, Detail: fmt.Sprintf("field %s deleted and its tag reserved", of.Name)})
			continue
		}
		c := Change{Kind: FieldDeleted, Warning: true, Message: nm.Name, Tag: of.Tag,
			Detail: fmt.Sprintf("field %s deleted without a <reserved tag=\"%d\"/> marker; a later version could reuse the tag", of.Name, of.Tag)}
		add(c)
	}
	for _, r := range om.Reserved {
		if newReserved[r.Tag] == nil && newFields[r.Tag] == nil {
			add(Change{Kind: ReservedDropped, Warning: true, Message: nm.Name, Tag: r.Tag, Detail: "the <reserved> marker was removed; keep it so the tag is never reused"})
		}
	}
}

func describe(f *Field) string {
	switch {
	case f.IsMap() && f.ListValue:
		return fmt.Sprintf("map<%s,list<%s>>", f.Key, f.Value)
	case f.IsMap():
		return fmt.Sprintf("map<%s,%s>", f.Key, f.Value)
	case f.Repeated:
		return "repeated " + f.Type.String()
	default:
		return f.Type.String()
	}
}

func checkField(msg string, of, nf *Field, add func(Change), ren map[string]string) {
	if of.Name != nf.Name {
		add(Change{Kind: FieldRenamed, Message: msg, Tag: nf.Tag, Detail: fmt.Sprintf("field %s renamed to %s", of.Name, nf.Name)})
	}
	if of.IsMap() != nf.IsMap() {
		add(Change{Kind: TypeChanged, Breaking: true, Message: msg, Tag: nf.Tag,
			Detail: fmt.Sprintf("field %s changed from %s to %s", nf.Name, describe(of), describe(nf))})
		return
	}
	if of.IsMap() {
		if of.ListValue != nf.ListValue {
			why := "new readers would see only the last element of each list"
			if !of.ListValue {
				why = "new readers accept old records, but old readers keep only the last element of each list"
				if packed(nf.Value) {
					why = "new readers accept old records, but old readers cannot read the packed lists at all"
				}
			}
			add(Change{Kind: CardinalityFlip, Breaking: true, Message: msg, Tag: nf.Tag,
				Detail: fmt.Sprintf("field %s changed from %s to %s: %s", nf.Name, describe(of), describe(nf), why)})
		}
		if kind, detail, breaking := compareTypes(of.Key, nf.Key, ren); kind != "" {
			k := Widened
			if breaking {
				k = MapKeyChanged
			}
			add(Change{Kind: k, Breaking: breaking, Message: msg, Tag: nf.Tag, Detail: fmt.Sprintf("map %s key: %s", nf.Name, detail)})
		}
		if kind, detail, breaking := compareTypes(of.Value, nf.Value, ren); kind != "" {
			k := Widened
			if breaking {
				k = MapValueChanged
			}
			add(Change{Kind: k, Breaking: breaking, Warning: strictOnlyBreak(of.Value, nf.Value), Message: msg, Tag: nf.Tag, Detail: fmt.Sprintf("map %s value: %s", nf.Name, detail)})
		}
		return
	}
	if of.Repeated != nf.Repeated {
		why := "new readers would see only the last element"
		if !of.Repeated {
			why = "new readers accept old records, but old readers keep only the last element"
			if packed(nf.Type) {
				why = "new readers accept old records, but old readers cannot read the packed list at all"
			}
		}
		add(Change{Kind: CardinalityFlip, Breaking: true, Message: msg, Tag: nf.Tag,
			Detail: fmt.Sprintf("field %s changed from %s to %s: %s", nf.Name, describe(of), describe(nf), why)})
		return
	}
	if kind, detail, breaking := compareTypes(of.Type, nf.Type, ren); kind != "" {
		add(Change{Kind: kind, Breaking: breaking, Warning: strictOnlyBreak(of.Type, nf.Type), Message: msg, Tag: nf.Tag, Detail: fmt.Sprintf("field %s: %s", nf.Name, detail)})
	}
}

// strictOnlyBreak reports a change that lenient readers take and strict ones
// refuse: float32 → float64, whose two widths are different wire types.
func strictOnlyBreak(a, b Type) bool { return a.Kind == KindFloat32 && b.Kind == KindFloat64 }

// widening lists the type changes the wire format reads compatibly in both
// directions of deployment: a new reader decodes the old, narrower encoding
// because the spec widens it; an old reader given a value that does not fit
// its narrower type reports an error rather than cutting it, so only the
// widening direction is allowed.
var widening = map[[2]Kind]bool{
	{KindInt32, KindInt64}:     true,
	{KindUint32, KindUint64}:   true,
	{KindFloat32, KindFloat64}: true,
}

// compareTypes returns "" when a and b are the same type.
func compareTypes(a, b Type, ren map[string]string) (ChangeKind, string, bool) {
	if a == b {
		return "", "", false
	}
	if a.Kind == KindMessage && b.Kind == KindMessage && ren[a.Message] == b.Message {
		return "", "", false // reported once, as the message's rename
	}
	if a.Kind == KindMessage && b.Kind == KindMessage {
		return MessageSwapped, fmt.Sprintf("message type swapped from %s to %s", a.Message, b.Message), true
	}
	if (a.Kind == KindInt64 || a.Kind == KindDuration) && (b.Kind == KindInt64 || b.Kind == KindDuration) {
		return Retyped, fmt.Sprintf("%s to %s: the same zigzag varint on the wire", a, b), false
	}
	if (a.Kind == KindString || a.Kind == KindBytes) && (b.Kind == KindString || b.Kind == KindBytes) {
		return Retyped, fmt.Sprintf("%s to %s: the same bytes on the wire (strings are not checked for UTF-8)", a, b), false
	}
	if a.Kind == KindFloat32 && b.Kind == KindFloat64 {
		return Widened, "widened from float32 to float64: lenient readers read records of either version " +
			"(an old one rejects the whole message, range error, once a value does not fit float32); " +
			"strict readers of either version reject every record of the other (the float width is part of the canonical form)", false
	}
	if widening[[2]Kind{a.Kind, b.Kind}] {
		return Widened, fmt.Sprintf("widened from %s to %s: new readers read old records; "+
			"an old reader rejects the whole message (range error) once a new writer sends a value that does not fit %s", a, b, a), false
	}
	if widening[[2]Kind{b.Kind, a.Kind}] {
		return Narrowed, fmt.Sprintf("narrowed from %s to %s: larger values written by the old version no longer fit", a, b), true
	}
	return TypeChanged, fmt.Sprintf("type changed from %s to %s", a, b), true
}
