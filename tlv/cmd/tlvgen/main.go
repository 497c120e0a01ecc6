// Command tlvgen turns an XML protocol description into Go types with reflection-free tlv
// marshal and unmarshal methods, and checks that a new version of a schema stays
// compatible with an old one.
//
// # Usage
//
//	go run github.com/bulwark-go/bulwark/tlv/cmd/tlvgen [-o out.go] [-pkg name] [-plain] schema.xml
//	go run github.com/bulwark-go/bulwark/tlv/cmd/tlvgen check old.xml new.xml
//
// Generation writes the file named by -o (standard output without it), creating its
// directory if needed; -pkg overrides the
// package name of the schema; -plain emits the types only, without methods (a twin that
// the reflection codec encodes to the same bytes, for differential tests). check prints
// every difference and exits 1 when one breaks compatibility, 0 when the new schema is
// compatible, and 2 on a usage or schema error.
//
// # Schema
//
//	<protocol package="chat">
//	  <message name="Inner">
//	    <field tag="1" name="ID" type="int64"/>
//	    <field tag="2" name="Name" type="string"/>
//	  </message>
//	  <message name="Msg">
//	    <doc>Msg is one chat message.</doc>
//	    <field tag="1" name="UID" type="uint64" doc="sender"/>
//	    <field tag="4" name="IDs" type="int64" repeated="true"/>
//	    <field tag="5" name="Inner" type="Inner"/>
//	    <field tag="7" name="Attrs" type="map" key="string" value="string"/>
//	    <field tag="8" name="Headers" type="map" key="string" value="string" list="true"/>
//	    <reserved tag="3" name="Payload" type="bytes"/>
//	  </message>
//	</protocol>
//
// <protocol package="…"> holds <message name="…"> elements (exported Go names; a message
// may use itself and any other message of the protocol). A <message> holds an optional
// <doc>, then <field> and <reserved> elements (in any order; the generated struct lists
// fields by tag, and ascending order reads best). Attributes of <field>:
//
//   - tag: 1…2^29−1, unique in the message, reserved tags included; never reuse one.
//   - name: an exported Go identifier, other than the names the generated code takes:
//     UnknownFields, SizeTLV, AppendTLV, MarshalTLV, UnmarshalTLV, Reset and String.
//   - type: bool, int32, int64, uint32, uint64, float32, float64, string, bytes, time
//     (time.Time), duration (time.Duration), map, or a message name.
//   - repeated="true": a list ([]T); lists of scalars are packed into one field.
//   - key, value (maps only): key string or an integer type; value any type but map.
//   - list="true" (maps only): each value is a list of value (map[K][]V, as url.Values).
//   - doc: a comment for the generated field.
//
// <reserved tag="N" name="…" type="…"/> marks the tag of a deleted field, so that check
// catches its reuse. Unknown elements and attributes are errors; every problem of a
// schema is reported at once, with line numbers.
//
// # Generated code
//
// Each message becomes a struct with `tlv:"N"` tags: singular scalars, durations, times,
// strings and bytes have implicit presence (",omitempty": zero values are not sent), singular messages are
// pointers, repeated fields slices, maps map[K]V or map[K][]V, and an UnknownFields
// tlv.Unknown field keeps fields the schema does not know. Its SizeTLV, AppendTLV and
// UnmarshalTLV methods implement tlvwire.Marshaler and tlvwire.Unmarshaler, which
// tlv.Marshal and tlv.Unmarshal call directly; a generated file imports tlv (for Unknown)
// and the wire layer tlv/tlvwire. They follow tlv/SPEC.md as the reflection codec does: the
// same bytes for the same value, the same error sentinel for the same input (errors.Is
// tells them apart the same way), in lenient and strict mode, within the same limits
// (tested over random values, mutated and fuzzed inputs and the conformance suite in
// tlv/testdata/conformance), and at the same place: a *tlv.DecodeError's Offset and Tag
// follow the rule tlvwire.DecodeError states (the key for an error about the field as a
// whole, the value's first byte for an error reading it, the element inside packed
// content; the tag of the innermost field there), with the default limits; under a tight
// element or memory limit the two may stop at different fields, as their accounting
// differs slightly.
//
// # Compatibility check
//
// Breaking: a type changed (signed ↔ unsigned, string ↔ message, bool ↔ int …), a
// narrowing (int64 → int32, uint64 → uint32, float64 → float32), a message type swapped
// for another, repeated ↔ singular, a map value ↔ list, a map's key or value type changed, map ↔
// non-map, a <reserved> tag used again, a field moved to a new tag (its name reappears at
// a tag the old version did not use: each version loses the other's value). Compatible:
// fields added, widening (int32 → int64, uint32 → uint64; an old reader still rejects a
// value that does not fit, which check says), string ↔ bytes, int64 ↔ duration, field
// renames (same tag), message renames (a message gone and one added with the same fields,
// every use renamed with it; a rename with any other change reads as a deletion plus an
// addition, and its uses as message swaps). Warned: float32 → float64 (lenient readers take either width,
// strict readers of either version reject the other's records), a field deleted without a
// <reserved> marker, a <reserved> marker dropped.
package main

import (
	"os"

	"github.com/bulwark-go/bulwark/tlv/internal/tlvgen"
)

func main() {
	os.Exit(tlvgen.Main(os.Args[1:], os.Stdout, os.Stderr))
}
