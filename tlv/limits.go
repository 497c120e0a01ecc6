package tlv

import (
	"fmt"
	"unsafe"

	"github.com/bulwark-go/bulwark/tlv/internal/decstate"
	"github.com/bulwark-go/bulwark/tlv/tlvwire"
)

// Defaults of DecodeOptions. The memory budget defaults to
// DefaultMemoryFactor × len(input) + DefaultMemorySlack bytes.
const (
	DefaultMaxDepth     = 64
	DefaultMaxSize      = 64 << 20
	DefaultMaxElements  = 1 << 20
	DefaultMemoryFactor = 8
	DefaultMemorySlack  = 64 << 10
)

// The decode state applies the defaults (decstate.State.Init); these arrays of length
// zero fail to compile if the two sets of constants ever differ.
var (
	_ [DefaultMaxDepth - decstate.DefaultMaxDepth]struct{}
	_ [decstate.DefaultMaxDepth - DefaultMaxDepth]struct{}
	_ [DefaultMaxSize - decstate.DefaultMaxSize]struct{}
	_ [decstate.DefaultMaxSize - DefaultMaxSize]struct{}
	_ [DefaultMaxElements - decstate.DefaultMaxElements]struct{}
	_ [decstate.DefaultMaxElements - DefaultMaxElements]struct{}
	_ [DefaultMemoryFactor - decstate.DefaultMemoryFactor]struct{}
	_ [decstate.DefaultMemoryFactor - DefaultMemoryFactor]struct{}
	_ [DefaultMemorySlack - decstate.DefaultMemorySlack]struct{}
	_ [decstate.DefaultMemorySlack - DefaultMemorySlack]struct{}
)

// DecodeOptions bounds what one decode may cost. The zero value means the defaults; the
// package-level Unmarshal uses the zero value. A zero limit means its default; a negative
// one is an error (Unmarshal, Validate and a Decoder's first read return it). A DecodeOptions is a plain value, safe to
// share between goroutines.
type DecodeOptions struct {
	// MaxDepth limits message nesting (a struct inside a struct is depth 2). Default 64.
	MaxDepth int
	// MaxSize limits the input length, and a Decoder's frame length. Default 64 MiB.
	MaxSize int
	// MaxElements limits the number of fields, packed elements and map entries decoded.
	// Default 1<<20.
	MaxElements int
	// MaxMemory limits the bytes the decoder allocates. Default 8 × len(input) + 64 KiB.
	MaxMemory int
	// Strict rejects anything Marshal would not have produced byte for byte at the framing
	// level: non-minimal varints and lengths, fields out of ascending tag order, duplicate
	// singular fields, repeated scalars not packed, map keys not strictly ascending, known
	// tags with the wrong wire type (ErrWireType), and unknown tags when the struct has no
	// Unknown field (ErrUnknownField).
	Strict bool
}

// check names the first negative limit: a negative limit is a mistake (there is no
// "unlimited"), not a request for the default.
func (o DecodeOptions) check() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"MaxDepth", o.MaxDepth}, {"MaxSize", o.MaxSize}, {"MaxElements", o.MaxElements}, {"MaxMemory", o.MaxMemory}} {
		if f.v < 0 {
			return fmt.Errorf("tlv: DecodeOptions.%s is %d: want 0 (the default) or a positive limit", f.name, f.v)
		}
	}
	return nil
}

// decoder is the state of one decode as the reflection decoder sees it: the shared
// decstate.State (limits, counters, budget), with the reflection decoder's methods. It has
// the memory layout of tlvwire.DecodeState, which wraps the same State, so wire converts
// one into the other to hand it to generated code.
type decoder struct {
	decstate.State
}

// The conversion in wire relies on equal sizes (and a single field on both sides).
var (
	_ [unsafe.Sizeof(decoder{}) - unsafe.Sizeof(tlvwire.DecodeState{})]byte
	_ [unsafe.Sizeof(tlvwire.DecodeState{}) - unsafe.Sizeof(decoder{})]byte
)

// wire returns the state as generated code receives it.
func wire(s *decstate.State) *tlvwire.DecodeState {
	return (*tlvwire.DecodeState)(unsafe.Pointer(s))
}

func (o DecodeOptions) init(d *decoder, n int) error {
	if o.MaxDepth < 0 || o.MaxSize < 0 || o.MaxElements < 0 || o.MaxMemory < 0 {
		return o.check()
	}
	maxSize := o.MaxSize
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if n > maxSize {
		return &DecodeError{Offset: maxSize, Err: ErrTooLarge}
	}
	d.Init(o.MaxDepth, o.MaxElements, o.MaxMemory, n, o.Strict)
	return nil
}

// errAt builds a *DecodeError at offset off of the current message.
func (d *decoder) errAt(off int, tag uint32, err error) error {
	return &DecodeError{Offset: d.Base + off, Tag: tag, Err: err}
}
