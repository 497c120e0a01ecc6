// Package tlv is a forward-compatible Tag-Length-Value codec for Go structs that keeps
// the fields it does not know and is safe to point at hostile input.
//
// # Quick start
//
// Give each field to encode a tag number, `tlv:"N"` (N in 1…2^29−1, never reused for
// another meaning), then Marshal and Unmarshal:
//
//	type Inner struct {
//		ID   int64  `tlv:"1"`
//		Name string `tlv:"2"`
//	}
//
//	type Msg struct {
//		UID   uint64            `tlv:"1"`
//		Text  string            `tlv:"2"`
//		IDs   []int64           `tlv:"4"`
//		Inner *Inner            `tlv:"5"`
//		Attrs map[string]string `tlv:"7,omitempty"`
//	}
//
//	b, err := tlv.Marshal(&Msg{UID: 42, Text: "hi", IDs: []int64{1, -1}, Inner: &Inner{ID: 7, Name: "x"}})
//	...
//	var m Msg
//	err = tlv.Unmarshal(b, &m)
//
// Untagged fields are not encoded, and Unmarshal zeroes them with the rest of v (it
// resets v first). `tlv:"N,omitempty"` leaves out a field whose value is empty (see
// Presence, under Model).
//
// # Keeping unknown fields
//
// A field of type Unknown (any name, no tag) collects every field the struct does not
// declare; Marshal writes them back, byte for byte, at their tag's position. A binary
// built against an old version of a message can therefore relay a newer one without
// losing what it cannot read:
//
//	type MsgV1 struct {
//		UID  uint64 `tlv:"1"`
//		Text string `tlv:"2"`
//		Rest tlv.Unknown
//	}
//
//	var old MsgV1
//	_ = tlv.Unmarshal(v2, &old) // v2 also holds tag 3, Region
//	old.Text = "edited by v1"
//	relayed, _ := tlv.Marshal(&old) // tag 3 is still there
//
// Each struct keeps its own unknown fields: every struct a newer message may extend — a
// nested struct, a list element, a map value — needs its own Unknown field, or the new
// fields inside it are dropped when an old binary relays the message. Declarations that
// look as if they keep data but would not are refused with ErrUnsupportedType: a
// *tlv.Unknown, a tlv.Unknown with a tlv tag, and an untagged embedded struct that has tlv
// fields (embedded fields are not promoted; tag it or name it). An Unknown never holds a
// tag its struct declares: a declared tag with a wire type its field cannot read is
// ErrWireType (an incompatible type change; see Evolution), and Marshal refuses an Unknown
// filled by hand with such a field (ErrDeclaredTag). So strict decoding of a type accepts
// what Marshal writes for it, with one exception: unknown fields that arrived
// non-canonical (a lenient decode of an overlong varint, say) are written back as they
// came, and strict mode rejects them there too.
//
// # Limits and hostile input
//
// Unmarshal bounds every decode by its input. DecodeOptions sets the limits (its zero
// value, which the package-level Unmarshal uses, means the defaults below) and Strict,
// which rejects anything Marshal would not have written:
//
//	err := tlv.DecodeOptions{MaxDepth: 16, MaxSize: 1 << 20}.Unmarshal(hostile, &m)
//	var de *tlv.DecodeError
//	errors.Is(err, tlv.ErrLength) // and de.Offset, de.Tag via errors.As
//
//	err = tlv.DecodeOptions{Strict: true}.Unmarshal(outOfOrder, &m)
//
// A zero limit means its default and a negative one is an error. In an if statement, keep
// the options in a variable (or parenthesise the literal): Go does not parse a composite
// literal there.
//
// # Records without a schema
//
// Valid, Walk, Dump, Get and Set work on any record, because a nested message has its own
// wire type. Get and Set take the path the same way, a []uint32 of tags from the top
// (the path Walk passes to its callback); Set keeps every other byte, unknown fields
// included, and takes a complete field built with the tlvwire.Append*Field functions:
//
//	f, _ := tlv.Get(rec, []uint32{5, 2}) // field 2 of the message in field 5
//	rec, _ = tlv.Set(rec, []uint32{5, 2}, tlvwire.AppendStringField(nil, 2, "new"))
//
// A whole nested message is the field tlvwire.AppendBytes(tlvwire.AppendTag(nil, 5,
// tlvwire.Message), inner); Set checks the field's content as Valid does.
//
// # Streams
//
// Encoder and Decoder write and read a stream of messages as varint length-delimited
// frames; a Decoder applies its DecodeOptions to every frame, and MaxSize to the frame
// length before reading it. A framing error (a frame too large, a bad length, a stream cut
// inside a frame) is sticky: the Decoder returns it from then on, since it no longer knows
// where frames start. A frame whose message fails to decode is not: Decode may go on.
//
// # Generating code
//
// For hot paths, the tlvgen command turns an XML schema into Go types with
// reflection-free methods (tlvwire.Marshaler and tlvwire.Unmarshaler), which Marshal and
// Unmarshal call directly. The bytes are the ones the reflection codec writes for a
// struct with the same tags (tlvgen -plain emits that struct, without methods):
//
//	go run github.com/bulwark-go/bulwark/tlv/cmd/tlvgen -o msg_tlv.go msg.xml
//	go run github.com/bulwark-go/bulwark/tlv/cmd/tlvgen check old.xml new.xml
//
// `go doc github.com/bulwark-go/bulwark/tlv/cmd/tlvgen` describes the schema format and
// the compatibility check. A schema's singular scalars, durations, times, strings and
// bytes have implicit presence: generated structs tag them `,omitempty`, and a hand-written struct meant to
// produce the same bytes must do the same.
//
// # The wire layer: tlvwire
//
// Package tlv/tlvwire holds what the codec is built on and what generated code is written
// against: Append*, Consume* and Size* functions, the wire types, Iter and Field (which
// Walk and Get return), CompareKey* for map order, Marshaler, Unmarshaler and
// DecodeState. Use it to write a codec by hand or to read generated code; the sentinel
// errors and DecodeError are the same values in both packages.
//
// # Model
//
// A message is a sequence of fields; a field is a key (varint of tag<<3 | wire type) and a
// value. There are eight wire types: Varint, Fixed32, Fixed64, Bytes (opaque), Message
// (nested fields), and three packed array types. SPEC.md is the normative description,
// with test vectors, and testdata/conformance holds a language-neutral conformance suite.
// Because a nested message has its own wire type, the tools Valid, Walk, Dump, Get and
// Set work on any record without its schema (see Records without a schema).
//
// Types: bool, all ints and uints, float32/64, string, []byte, structs and pointers to
// them, pointers to scalars, slices (of scalars: packed into one field), maps with string,
// bool or integer keys whose values may be lists (map[string][]string, url.Values),
// time.Time (one varint of Unix nanoseconds for years 1678–2262, seconds and nanoseconds
// beyond, up to ±2^62 seconds; decoded in UTC) and time.Duration. Signed integers are
// zigzag-encoded. int, uint and uintptr have the platform's width.
//
// Presence: without omitempty, scalars, strings and structs are always written; nil
// pointers and empty slices and maps never are. With omitempty a value is left out when it
// is empty: floats by their bits (−0.0 is written), lists and maps without elements,
// structs when every tagged field is empty. Empty and nil slices, maps and []byte decode as
// nil, so a value and its decoding always encode to the same bytes.
//
// Canonical form: Marshal writes fields in tag order, minimal varints, map entries sorted
// by encoded key, unknown fields at their tag's position; equal values give equal bytes.
// Unmarshal accepts fields in any order (last wins for singular fields, lists append, maps
// insert). Strict mode rejects non-canonical framing, the other float width, unknown fields
// when the struct cannot keep them, and known tags with the wrong wire type. Fields of a
// map entry other than its key and value are skipped (lenient) or rejected (strict): a
// map that must evolve takes a struct value, which keeps its own unknown fields.
//
// Evolution (SPEC.md §6): int32→int64, uint32→uint64 and T→*T are free, and the reverse
// is checked value by value: a value that does not fit fails with ErrRange instead of
// being truncated. float32→float64 is read by lenient decoders both ways (a float64 that
// is not exactly a float32 fails with ErrRange); strict mode takes only the encoded width.
// A singular message, string or bytes field → a list is free (each old value becomes one
// element); a singular scalar → a list is read by lenient decoders only (an unpacked
// element). The reverse, a list read into a singular field: a packed list into a scalar
// fails with ErrWireType; a message, string or bytes list of several elements is read in
// lenient mode as repeated occurrences of the field, last wins (strict mode rejects it,
// ErrNonCanonical). A wire-type change (string ↔ int, int ↔ float …) fails with
// ErrWireType in both modes. tlvgen check reports all list ↔ singular changes as
// incompatible.
//
// # Limits
//
// The defaults:
//
//	MaxDepth     64        nested messages (the top level is 1; map entries do not count)
//	MaxSize      64 MiB    input length, and Decoder frame length
//	MaxElements  2^20      fields + packed elements + map entries
//	MaxMemory    8 × len(input) + 64 KiB  bytes allocated
//
// No allocation is sized from a declared length or count: lengths are checked against the
// remaining input, slices and maps are sized from the elements actually present, and
// every allocation is charged to the memory budget before it is made, at what the Go
// allocator takes for it (size classes, slice growth, a map's tables and their growth). So
// the heap a decode allocates is at most 8 × len(input) + 64 KiB whatever the input;
// TestMemoryBoundSearch searches for the worst input per type shape, for reflection and
// generated code, and checks the allocator's own count against that bound. The factor 8 is
// the cost of the densest legitimate input (a packed []int64 of one-byte varints). Types
// whose decoded form is much larger than their minimal encoding (1 KiB structs sent as
// 2-byte empty messages, maps of tiny entries) reach the budget on degenerate inputs and
// fail with ErrMemoryLimit; raise MaxMemory for them. Errors about the input are
// *DecodeError values carrying the offset and tag and wrapping a sentinel for errors.Is.
// No input makes any function of the package panic.
//
// # Performance
//
// The reflection codec compiles a plan per struct type (field offsets, precomputed keys,
// a kind per field) on first use and caches it; encoding then walks memory through unsafe
// offsets without reflection calls except for maps other than map[string]string. Marshal
// makes one allocation, sized from a cheap length estimate (exact lengths of strings and
// slices at the top level, the largest encoding of a time, 5 bytes an integer, 40 bytes a
// map entry); a value with many larger integers or long map entries outgrows it and costs
// a second one. MarshalAppend into a buffer
// with room makes none, except that sorting the keys of a map other than a
// map[string]string of at most 8 entries takes scratch space. Nested message lengths
// reserve one byte and shift only when the content exceeds 127 bytes. Decoding copies
// strings and byte slices (nothing aliases the input); those of at most 128 bytes are
// copied into blocks of at most 1 KiB shared within one Unmarshal call, and slices and
// maps are presized from the contiguous run of their fields. Generated code is faster
// again. Benchmarks against msgpack, cbor, protobuf and a hand-written protowire codec
// are in benchmarks/tlv.
//
// # State and concurrency
//
// All functions are safe for concurrent use. The only package-level mutable state is the
// plan cache (a sync.Map from reflect.Type to an immutable plan): entries are added once
// per struct type, and once per pointer type passed to Marshal, MarshalAppend or
// Unmarshal, and never changed or removed, so it grows with the number of types a program
// encodes, which its code bounds. Encoder and Decoder are not safe for concurrent use.
// Nothing runs at import time and no goroutine is started.
//
// # What it does not do
//
//   - No schema language of its own beyond struct tags; tlvgen reads XML schemas.
//   - No zero-copy decoding: strings and []byte are copied, so decoded values never alias
//     the input buffer. Short ones share blocks of up to 1 KiB: keeping one of them
//     reachable keeps its block (never more than the input's size) alive. A short decoded
//     []byte has len == cap, so appending to it copies and never touches its neighbours.
//   - No interface{}, arrays, channels or funcs; lists of lists only when the inner list is
//     packed or []byte; no maps of maps. Those types fail with ErrUnsupportedType at the
//     first Marshal or Unmarshal, never with a panic.
//   - A value that does not fit a 32-bit int fails with ErrRange when decoded into an int
//     on a 32-bit platform.
//   - Location of a time.Time is not encoded; monotonic clock readings are dropped.
//   - Unknown fields are checked for framing only; their nested content is opaque.
//   - Fields inside a map entry other than key and value are not kept (see Canonical form).
//   - Marshal refuses values nested deeper than 10000 levels (a pointer cycle) with an
//     error; it does not detect shared pointers (a DAG is written as a tree).
package tlv
