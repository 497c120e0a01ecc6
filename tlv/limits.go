package tlv

// Defaults of DecodeOptions. The memory budget defaults to
// DefaultMemoryFactor × len(input) + DefaultMemorySlack bytes.
const (
	DefaultMaxDepth     = 64
	DefaultMaxSize      = 64 << 20
	DefaultMaxElements  = 1 << 20
	DefaultMemoryFactor = 8
	DefaultMemorySlack  = 64 << 10
)

// DecodeOptions bounds what one decode may cost. The zero value means the defaults; the
// package-level Unmarshal uses the zero value. A DecodeOptions is a plain value, safe to
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

// DecodeState carries the limits and counters of one decode through nested messages.
// Generated Unmarshalers receive it; users normally never create one.
type DecodeState struct {
	depth    int32
	maxDepth int32
	elements int // remaining
	memory   int // remaining bytes
	base     int // offset of the current message in the top-level input
	total    int // length of the top-level input
	// arena is the unused tail of the current block that small decoded strings and
	// byte slices are copied into (see copyOut).
	arena []byte
	// heap is, in a state on the heap, the state itself, passed on as it is; in a state
	// on the stack, the heap copy callUnmarshaler hands to Unmarshalers (nil until the
	// first). The state stays at 80 bytes, one size class.
	heap   *DecodeState
	strict bool
}

// NewDecodeState returns the state for decoding an input of n bytes under o. It returns
// ErrTooLarge if n exceeds MaxSize.
func (o DecodeOptions) NewDecodeState(n int) (*DecodeState, error) {
	d := new(DecodeState)
	if err := o.init(d, n); err != nil {
		return nil, err
	}
	d.heap = d
	return d, nil
}

func (o DecodeOptions) init(d *DecodeState, n int) error {
	maxSize := o.MaxSize
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if n > maxSize {
		return &DecodeError{Offset: maxSize, Err: ErrTooLarge}
	}
	*d = DecodeState{strict: o.Strict, depth: 1, maxDepth: int32(min(o.MaxDepth, 1<<30)), elements: o.MaxElements, memory: o.MaxMemory, total: n}
	if d.maxDepth <= 0 {
		d.maxDepth = DefaultMaxDepth
	}
	if d.elements <= 0 {
		d.elements = DefaultMaxElements
	}
	if d.memory <= 0 {
		// Keep 1 KiB of the slack for the decoder's own bookkeeping (this state, error
		// values), which is not charged, so the total stays within the stated bound.
		d.memory = DefaultMemoryFactor*n + DefaultMemorySlack - 1<<10
	}
	return nil
}

// Strict reports whether strict checks are on.
func (d *DecodeState) Strict() bool { return d.strict }

// Count charges n decoded fields or elements against MaxElements.
func (d *DecodeState) Count(n int) error {
	d.elements -= n
	if d.elements < 0 {
		return ErrTooManyElements
	}
	return nil
}

// Alloc charges an allocation of n bytes against the memory budget. Call it before
// allocating, so a hostile length never reaches make. The charge is what the Go allocator
// takes for n bytes: its size class up to 32 KiB (at least 16 bytes, the tiny allocator's
// block; 8 more for the header of an object with pointers above 512 bytes), whole 8 KiB
// pages above.
func (d *DecodeState) Alloc(n int) error {
	// The usual small allocation (no malloc header below 512 bytes): one table load.
	if u := uint(n); u <= uint(mallocHeaderMin) {
		if c := int(smallSizes[(u+7)>>3]); c <= d.memory {
			d.memory -= c
			return nil
		}
	}
	return d.alloc(n, true)
}

// allocData is Alloc for memory without pointers (byte blocks, packed numbers), which
// the allocator gives no header.
func (d *DecodeState) allocData(n int) error { return d.alloc(n, false) }

func (d *DecodeState) alloc(n int, pointers bool) error {
	if n < 0 || n > d.memory {
		d.memory = -1
		return ErrMemoryLimit
	}
	n = allocSize(n, pointers)
	if n > d.memory {
		d.memory = -1
		return ErrMemoryLimit
	}
	d.memory -= n
	return nil
}

// Objects with pointers above mallocHeaderMin bytes carry a header of mallocHeader bytes
// (runtime: gc.MinSizeForMallocHeader, gc.MallocHeaderSize).
const (
	mallocHeaderMin = ptrSize * 8 * ptrSize
	mallocHeader    = 8
)

// sizeClasses are the Go allocator's object sizes up to 32 KiB
// (internal/runtime/gc.SizeClassToSize, unchanged since Go 1.12).
var sizeClasses = [...]uint16{16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
	288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048,
	2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880,
	12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

// smallSizes[(n+7)/8] is the allocation size of n ≤ 1024 bytes (16 at least: the tiny
// allocator's block), a table as the runtime's own, so Alloc stays cheap on the hot path.
var smallSizes = [129]uint16{
	0, 16, 16, 24, 32, 48, 48, 64, 64, 80, 80, 96, 96, 112, 112, 128,
	128, 144, 144, 160, 160, 176, 176, 192, 192, 208, 208, 224, 224, 240, 240, 256,
	256, 288, 288, 288, 288, 320, 320, 320, 320, 352, 352, 352, 352, 384, 384, 384,
	384, 416, 416, 416, 416, 448, 448, 448, 448, 480, 480, 480, 480, 512, 512, 512,
	512, 576, 576, 576, 576, 576, 576, 576, 576, 640, 640, 640, 640, 640, 640, 640,
	640, 704, 704, 704, 704, 704, 704, 704, 704, 768, 768, 768, 768, 768, 768, 768,
	768, 896, 896, 896, 896, 896, 896, 896, 896, 896, 896, 896, 896, 896, 896, 896,
	896, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024,
	1024,
}

// allocSize returns the bytes the allocator takes for an object of n bytes.
func allocSize(n int, pointers bool) int {
	if n == 0 {
		return 0
	}
	if n > 32<<10-mallocHeader {
		return (n + 8<<10 - 1) &^ (8<<10 - 1)
	}
	if pointers && n > mallocHeaderMin {
		n += mallocHeader
	}
	if n <= 1024 {
		return int(smallSizes[(n+7)>>3])
	}
	lo, hi := 0, len(sizeClasses)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if int(sizeClasses[mid]) < n {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return int(sizeClasses[lo])
}

// Message decodes the nested message content data, found at offset off of the current
// message's data, into m, with depth checked and error offsets made absolute.
func (d *DecodeState) Message(data []byte, off int, m Unmarshaler) error {
	if d.depth >= d.maxDepth {
		return d.Error(off, 0, ErrDepth)
	}
	d.depth++
	d.base += off
	err := m.UnmarshalTLV(data, d)
	d.base -= off
	d.depth--
	return err
}

// Error wraps err in a *DecodeError whose offset is off within the current message, made
// absolute. An error that already is a *DecodeError is returned unchanged.
func (d *DecodeState) Error(off int, tag uint32, err error) error {
	return decodeErr(d.base+off, tag, err)
}
