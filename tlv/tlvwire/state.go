package tlvwire

import (
	"unsafe"

	"github.com/bulwark-go/bulwark/tlv/internal/decstate"
)

// Marshaler is implemented by generated code (tlvgen) and by types that encode
// themselves. tlv.Marshal and the reflection codec call it directly for any value whose
// pointer implements it.
type Marshaler interface {
	// AppendTLV appends the message's fields (no key or length of its own) in canonical
	// form to dst.
	AppendTLV(dst []byte) ([]byte, error)
	// SizeTLV returns the number of bytes AppendTLV appends.
	SizeTLV() int
}

// Unmarshaler is implemented by generated code and by types that decode themselves.
// UnmarshalTLV resets the receiver, then decodes the message fields in data within the
// limits and counters of d. tlv.Unmarshal calls it directly for any value whose pointer
// implements it.
type Unmarshaler interface {
	UnmarshalTLV(data []byte, d *DecodeState) error
}

// DecodeState carries the limits and counters of one decode through nested messages: the
// depth, the elements and memory left, the offset of the current message for errors, and
// whether strict checks are on. Generated Unmarshalers receive it; tlv.Unmarshal and
// tlv.DecodeOptions create it, and NewDecodeState makes one with the default limits for
// calling an UnmarshalTLV method directly.
type DecodeState struct {
	// s is the whole state. Package tlv converts between *decstate.State and
	// *DecodeState, so DecodeState must hold nothing else.
	s decstate.State
}

// NewDecodeState returns a state with the default limits (those of tlv.DecodeOptions{})
// for decoding an input of n bytes. It returns a *DecodeError wrapping ErrTooLarge if n
// exceeds the default size limit (64 MiB). For other limits or strict mode, decode with
// tlv.DecodeOptions.Unmarshal, which calls UnmarshalTLV with its own state.
func NewDecodeState(n int) (*DecodeState, error) {
	if n > decstate.DefaultMaxSize {
		return nil, &DecodeError{Offset: decstate.DefaultMaxSize, Err: ErrTooLarge}
	}
	d := new(DecodeState)
	d.s.Init(0, 0, 0, n, false)
	d.s.Heap = &d.s
	return d, nil
}

// Strict reports whether strict checks are on.
func (d *DecodeState) Strict() bool { return d.s.Strict }

// Count charges n decoded fields or elements against the element limit; it returns
// ErrTooManyElements once they are used up.
func (d *DecodeState) Count(n int) error { return d.s.Count(n) }

// Alloc charges an allocation of n bytes against the memory budget; it returns
// ErrMemoryLimit when the budget cannot pay for it. Call it before allocating, so a
// hostile length never reaches make. The charge is what the Go allocator takes for n
// bytes: its size class up to 32 KiB (at least 16 bytes, the tiny allocator's block; 8
// more for the header of an object with pointers above 512 bytes), whole 8 KiB pages
// above.
func (d *DecodeState) Alloc(n int) error { return d.s.Alloc(n) }

// Message decodes the nested message content data, found at offset off of the current
// message's data, into m, with depth checked and error offsets made absolute. tag is the
// tag of the field holding the message: a depth error is reported at off with that tag.
func (d *DecodeState) Message(data []byte, off int, tag uint32, m Unmarshaler) error {
	if d.s.Depth >= d.s.MaxDepth {
		return d.Error(off, tag, ErrDepth)
	}
	d.s.Depth++
	d.s.Base += off
	err := m.UnmarshalTLV(data, d)
	d.s.Base -= off
	d.s.Depth--
	return err
}

// Error wraps err in a *DecodeError whose offset is off within the current message, made
// absolute. An error that already is a *DecodeError is returned unchanged.
func (d *DecodeState) Error(off int, tag uint32, err error) error {
	return decodeErr(d.s.Base+off, tag, err)
}

// SortUnknown returns u with its fields in ascending tag order (SortFields), after
// charging what sorting allocates when u is not sorted yet: a copy of the fields and an
// index of 4 bytes per field. Generated code calls it after decoding a message that kept
// unknown fields.
func (d *DecodeState) SortUnknown(u []byte) ([]byte, error) {
	n, sorted := fieldOrder(u)
	if sorted {
		return u, nil
	}
	if err := d.s.AllocData(4 * n); err != nil {
		return u, err
	}
	if err := d.s.AllocData(len(u)); err != nil {
		return u, err
	}
	return SortFields(u), nil
}

// Grow returns s with room for n more elements, after charging to d what the Go runtime
// allocates for it: exactly what append would allocate (its growth rule and size class).
// Generated code calls it before appending decoded elements.
func Grow[S ~[]E, E any](d *DecodeState, s S, n int) (S, error) {
	if cap(s)-len(s) >= n {
		return s, nil
	}
	var e E
	newCap := decstate.AppendCap(cap(s), len(s)+n)
	if err := d.s.Alloc(newCap * int(unsafe.Sizeof(e))); err != nil {
		return s, err
	}
	// make and copy rather than slices.Grow, whose append of a make allocates that make
	// too when the race detector instruments the code.
	ns := make(S, len(s), newCap)
	copy(ns, s)
	return ns, nil
}

// MakeMap returns a map for n entries decoded into a field of generated code, after
// charging to d what the Go runtime will allocate for it as the entries are inserted
// (header, table, out-of-line values). Generated code calls MakeMap for a map field's
// first entry and GrowMap before inserting more entries than it has charged for.
func MakeMap[K comparable, V any](d *DecodeState, n int) (map[K]V, error) {
	if err := d.s.ChargeMap(layoutOf[K, V](), true, 0, n); err != nil {
		return nil, err
	}
	return make(map[K]V, n), nil
}

// GrowMap charges to d the memory the Go runtime may allocate when n more entries are
// inserted into m (see MakeMap).
func GrowMap[K comparable, V any](d *DecodeState, m map[K]V, n int) error {
	return d.s.ChargeMap(layoutOf[K, V](), false, len(m), n)
}

func layoutOf[K comparable, V any]() decstate.MapLayout {
	var k K
	var v V
	return decstate.LayoutOf(int(unsafe.Sizeof(k)), int(unsafe.Alignof(k)), int(unsafe.Sizeof(v)), int(unsafe.Alignof(v)))
}
