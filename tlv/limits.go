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
	strict   bool
	depth    int
	maxDepth int
	elements int // remaining
	memory   int // remaining bytes
	base     int // offset of the current message in the top-level input
	total    int // length of the top-level input
	// arena is the unused tail of the current block that small decoded strings and
	// byte slices are copied into (see copyOut).
	arena []byte
}

// NewDecodeState returns the state for decoding an input of n bytes under o. It returns
// ErrTooLarge if n exceeds MaxSize.
func (o DecodeOptions) NewDecodeState(n int) (*DecodeState, error) {
	d := new(DecodeState)
	if err := o.init(d, n); err != nil {
		return nil, err
	}
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
	*d = DecodeState{strict: o.Strict, depth: 1, maxDepth: o.MaxDepth, elements: o.MaxElements, memory: o.MaxMemory, total: n}
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
// allocating, so a hostile length never reaches make. The charge includes the Go
// allocator's rounding: to a size class (at most 1/8 above n) up to 32 KiB, to whole
// 8 KiB pages above.
func (d *DecodeState) Alloc(n int) error {
	if n < 0 || n > d.memory {
		d.memory = -1
		return ErrMemoryLimit
	}
	if n <= 32<<10 {
		n = (n+7)&^7 + n>>3
	} else {
		n = (n + 8<<10 - 1) &^ (8<<10 - 1)
	}
	if n > d.memory {
		d.memory = -1
		return ErrMemoryLimit
	}
	d.memory -= n
	return nil
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
