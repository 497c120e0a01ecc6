// Package tlvgen is the logic of the tlvgen command: it reads an XML
// protocol description, generates Go types with reflection-free tlv
// marshal and unmarshal methods, and checks that a new version of a schema
// stays compatible with an old one. Users read the schema format in the command's
// documentation (go doc github.com/bulwark-go/bulwark/tlv/cmd/tlvgen); this package
// documents how the code works.
//
// # Problem
//
// A protocol shared by many binaries must evolve without a flag day: an old
// binary has to read a newer message and pass on the fields it does not
// know, and nobody may reuse a tag with a new meaning. Reflection is fast
// enough for most uses, but hot paths want code with no reflection and no
// interface calls. The schema is the single source of truth for both.
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
//	    <reserved tag="3" name="Payload" type="bytes"/>
//	  </message>
//	</protocol>
//
// Types: bool, int32, int64, uint32, uint64, float32, float64, string,
// bytes, time (time.Time), duration (time.Duration), map (key string or an
// integer type; value any non-map type; list="true" makes each value a list,
// map[K][]V, as in url.Values) or the name of a message of the same protocol
// (recursion is allowed). Tags are
// 1…2^29−1 and unique within a message, reserved tags included; names are
// exported Go identifiers. <reserved> marks the tag of a deleted field so
// that Check catches its reuse; <doc> and doc="…" become Go comments.
// Parse reports every problem at once, with line numbers; it refuses
// documents over 8 MiB, 4096 messages, 4096 fields a message or 8 levels of
// elements, and never panics (FuzzParse).
//
// # Generated code
//
// For each message: a struct with `tlv:"N"` tags (",omitempty" on scalars,
// durations, times, strings and bytes, so zero values are not sent), singular messages as
// pointers, repeated messages as []T, maps as map[K]V, and an
// UnknownFields tlv.Unknown field; then SizeTLV, AppendTLV and UnmarshalTLV,
// which implement tlvwire.Marshaler and tlvwire.Unmarshaler, so tlv.Marshal
// and tlv.Unmarshal use them directly. Generated files import tlv (for
// Unknown) and the wire layer, tlv/tlvwire. The encoding is byte-identical to the
// reflection codec's encoding of the same struct (tested over random values
// and fuzzed inputs in tlv/internal/gentest). Keys are precomputed byte
// constants; nested lengths are backfilled (tlvwire.BeginLen/EndLen); map
// entries are sorted in a stack array of 16 (one heap slice beyond); the
// decoder sizes repeated fields and maps from the fields actually present,
// charges every allocation to the tlvwire.DecodeState before making it, and
// honours strict mode, widening and the depth limit like the reflection
// decoder. With Options.Plain only the types are emitted: a method-less
// twin for differential tests.
//
// # Compatibility check
//
// Check compares two versions message by message and tag by tag. Breaking:
// a type changed (signed ↔ unsigned, string ↔ message, bool ↔ int …), a
// narrowing (int64 → int32, uint64 → uint32, float64 → float32), a message
// type swapped for another, repeated ↔ singular (and a map value ↔ list), a map's key or value type
// changed, map ↔ non-map, a <reserved> tag used again, a field moved to a
// new tag (same name). Compatible: fields added, widening (int32 → int64,
// uint32 → uint64), string ↔ bytes and int64 ↔ duration (the same wire
// bytes), field renames, message renames (same fields). Warned: float32 → float64 (strict readers reject
// the other width), a field deleted without a <reserved> marker, a
// <reserved> marker dropped. The command exits 1 on a breaking change.
//
// # What it does not do
//
// No enums, oneofs, defaults or options; no time or duration map keys;
// messages are matched by name, or as a rename when a message vanished
// and exactly one added message has the same fields; a renamed message that
// also changed reads as a deletion plus an addition. Map entries do not count as a nesting level, in
// generated code as in the reflection decoder (tlv/SPEC.md §8); the two
// decoders agree on every input (fuzzed). Time values use
// tlvwire's AppendTimeField, SizeTimeField and ConsumeTime.
package tlvgen
