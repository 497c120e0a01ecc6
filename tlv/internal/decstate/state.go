// Package decstate holds the state of one decode that the reflection decoder (package tlv)
// and generated code (through tlvwire.DecodeState) share: the limits, the counters, the
// memory budget and what the Go runtime allocates for slices and maps. It is internal:
// tlvwire.DecodeState wraps a State and tlv converts a *State to a *tlvwire.DecodeState
// (the same memory layout, checked at compile time in tlv), so neither package exports
// the fields.
package decstate

// Defaults of the limits (tlv.DecodeOptions documents them). The memory budget defaults
// to DefaultMemoryFactor × len(input) + DefaultMemorySlack bytes.
const (
	DefaultMaxDepth     = 64
	DefaultMaxSize      = 64 << 20
	DefaultMaxElements  = 1 << 20
	DefaultMemoryFactor = 8
	DefaultMemorySlack  = 64 << 10
)

// State carries the limits and counters of one decode through nested messages.
type State struct {
	Depth    int32
	MaxDepth int32
	Elements int // remaining
	Memory   int // remaining bytes; negative once a charge was refused
	Base     int // offset of the current message in the top-level input
	Total    int // length of the top-level input
	// Arena is the unused tail of the current block that small decoded strings and
	// byte slices are copied into (tlv's copyOut).
	Arena []byte
	// Heap is, in a state on the heap, the state itself, passed on as it is; in a state
	// on the stack, the heap copy tlv hands to Unmarshalers (nil until the first). The
	// state stays at 80 bytes, one size class.
	Heap   *State
	Strict bool
}

// Init sets s up for an input of n bytes; a limit ≤ 0 means its default. The caller
// checks n against the size limit.
func (s *State) Init(maxDepth, maxElements, maxMemory, n int, strict bool) {
	*s = State{Strict: strict, Depth: 1, MaxDepth: int32(min(maxDepth, 1<<30)), Elements: maxElements, Memory: maxMemory, Total: n}
	if s.MaxDepth <= 0 {
		s.MaxDepth = DefaultMaxDepth
	}
	if s.Elements <= 0 {
		s.Elements = DefaultMaxElements
	}
	if s.Memory <= 0 {
		// Keep 1 KiB of the slack for the decoder's own bookkeeping (this state, error
		// values), which is not charged, so the total stays within the stated bound.
		s.Memory = DefaultMemoryFactor*n + DefaultMemorySlack - 1<<10
	}
}

// Count charges n decoded fields or elements against MaxElements.
func (d *State) Count(n int) error {
	d.Elements -= n
	if d.Elements < 0 {
		return ErrTooManyElements
	}
	return nil
}

// Alloc charges an allocation of n bytes against the memory budget. Call it before
// allocating, so a hostile length never reaches make. The charge is what the Go allocator
// takes for n bytes: its size class up to 32 KiB (at least 16 bytes, the tiny allocator's
// block; 8 more for the header of an object with pointers above 512 bytes), whole 8 KiB
// pages above.
func (d *State) Alloc(n int) error {
	// The usual small allocation (no malloc header below 512 bytes): one table load.
	if u := uint(n); u <= uint(MallocHeaderMin) {
		if c := int(smallSizes[(u+7)>>3]); c <= d.Memory {
			d.Memory -= c
			return nil
		}
	}
	return d.alloc(n, true)
}

// AllocData is Alloc for memory without pointers (byte blocks, packed numbers), which
// the allocator gives no header.
func (d *State) AllocData(n int) error { return d.alloc(n, false) }

func (d *State) alloc(n int, pointers bool) error {
	if n < 0 || n > d.Memory {
		d.Memory = -1
		return ErrMemoryLimit
	}
	n = AllocSize(n, pointers)
	if n > d.Memory {
		d.Memory = -1
		return ErrMemoryLimit
	}
	d.Memory -= n
	return nil
}

// Objects with pointers above MallocHeaderMin bytes carry a header of MallocHeader bytes
// (runtime: gc.MinSizeForMallocHeader, gc.MallocHeaderSize).
const (
	MallocHeaderMin = PtrSize * 8 * PtrSize
	MallocHeader    = 8
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

// AllocSize returns the bytes the allocator takes for an object of n bytes.
func AllocSize(n int, pointers bool) int {
	if n == 0 {
		return 0
	}
	if n > 32<<10-MallocHeader {
		return (n + 8<<10 - 1) &^ (8<<10 - 1)
	}
	if pointers && n > MallocHeaderMin {
		n += MallocHeader
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
