package tlv

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/bulwark-go/bulwark/tlv/tlvwire"
)

// Encoder writes length-delimited frames (SPEC.md §9) to an io.Writer, one message per
// Encode. It reuses one buffer across calls. An Encoder is not safe for concurrent use.
type Encoder struct {
	w   io.Writer
	buf []byte
}

// NewEncoder returns an Encoder writing to w.
func NewEncoder(w io.Writer) *Encoder { return &Encoder{w: w} }

// Encode writes v as one frame. v is anything Marshal accepts.
func (e *Encoder) Encode(v any) error {
	b := append(e.buf[:0], make([]byte, tlvwire.MaxVarintLen)...)
	b, err := MarshalAppend(b, v)
	if err != nil {
		return err
	}
	e.buf = b
	// Write the length just before the message, at the end of the reserved prefix.
	n := len(b) - tlvwire.MaxVarintLen
	var l [tlvwire.MaxVarintLen]byte
	hdr := tlvwire.AppendVarint(l[:0], uint64(n))
	start := tlvwire.MaxVarintLen - len(hdr)
	copy(b[start:], hdr)
	_, err = e.w.Write(b[start:])
	return err
}

// WriteFrame writes msg, an already encoded message, as one frame.
func (e *Encoder) WriteFrame(msg []byte) error {
	b := tlvwire.AppendVarint(e.buf[:0], uint64(len(msg)))
	b = append(b, msg...)
	e.buf = b
	_, err := e.w.Write(b)
	return err
}

// Decoder reads length-delimited frames from an io.Reader. A frame longer than the
// options' MaxSize (default 64 MiB) is rejected before its body is read, and the frame
// buffer grows with the bytes actually received (doubling from 4 KiB), never with the
// declared length, so a hostile length prefix costs nothing. The buffer is reused across
// frames. A Decoder is not safe for concurrent use.
//
// After an error: a framing error is sticky: once ReadFrame or Decode has returned one, every later call
// returns the same error without reading, because the Decoder no longer knows where the
// next frame starts (reading on would decode the inside of a rejected frame as frames).
// Framing errors are a frame longer than MaxSize (ErrTooLarge), a length prefix that
// overflows 64 bits (ErrOverflow) or, in strict mode, is not minimal (ErrNonCanonical),
// a stream that ends inside a frame (io.ErrUnexpectedEOF), and any error of the
// underlying reader. The clean end of the stream, io.EOF, is sticky as well.
// Framing errors carry stream offsets: a *DecodeError's Offset is where the frame's
// length prefix starts.
//
// A content error — the frame was read whole but its message does not decode into v — is
// not sticky: the Decoder stands at the next frame and Decode may be called again.
// Content errors are the *DecodeError (or ErrUnsupportedType) that Unmarshal returns, with
// offsets relative to the frame.
type Decoder struct {
	r    *bufio.Reader
	opts DecodeOptions
	buf  []byte
	off  int64 // stream offset of the next frame
	err  error // the sticky framing error, if any
}

// NewDecoder returns a Decoder reading from r and decoding with opts.
func NewDecoder(r io.Reader, opts DecodeOptions) *Decoder {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	return &Decoder{r: br, opts: opts}
}

const frameChunk = 4 << 10

// ReadFrame returns the next frame's message bytes, valid until the next call. At the
// clean end of the stream it returns io.EOF; a stream that ends inside a frame gives an
// error wrapping io.ErrUnexpectedEOF. Every error of ReadFrame is a framing error and
// sticky (see Decoder).
func (d *Decoder) ReadFrame() ([]byte, error) {
	if d.err != nil {
		return nil, d.err
	}
	b, err := d.readFrame()
	if err != nil {
		d.err = err
		d.buf = nil
	}
	return b, err
}

func (d *Decoder) readFrame() ([]byte, error) {
	if err := d.opts.check(); err != nil {
		return nil, err
	}
	maxSize := d.opts.MaxSize
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	var l uint64
	for i := 0; ; i++ {
		c, err := d.r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				if i == 0 {
					return nil, io.EOF
				}
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("tlv: reading frame length at stream offset %d: %w", d.off, err)
		}
		if i == tlvwire.MaxVarintLen-1 && c > 1 {
			return nil, &DecodeError{Offset: int(d.off), Err: ErrOverflow}
		}
		l |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			if d.opts.Strict && c == 0 && i > 0 {
				return nil, &DecodeError{Offset: int(d.off), Err: fmt.Errorf("frame length: %w", ErrNonCanonical)}
			}
			if l > uint64(maxSize) {
				return nil, &DecodeError{Offset: int(d.off), Err: fmt.Errorf("frame of %d bytes, limit %d: %w", l, maxSize, ErrTooLarge)}
			}
			d.off += int64(i + 1)
			break
		}
	}
	n := int(l)
	b := d.buf[:0]
	for len(b) < n {
		if len(b) == cap(b) {
			// Grow by what was read so far (at least a chunk), capped at the declared length.
			want := min(n, max(2*cap(b), frameChunk))
			nb := make([]byte, len(b), want)
			copy(nb, b)
			b = nb
		}
		m, err := io.ReadFull(d.r, b[len(b):min(n, cap(b))])
		b = b[:len(b)+m]
		if err != nil {
			d.buf = b[:0]
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("tlv: frame at stream offset %d: %w", d.off, err)
		}
	}
	d.buf = b[:0]
	d.off += int64(n)
	return b, nil
}

// Decode reads the next frame and decodes it into v like DecodeOptions.Unmarshal. A
// framing error is returned as ReadFrame returns it (sticky, stream offsets); a content
// error leaves the Decoder at the next frame, and its offsets are relative to the frame.
func (d *Decoder) Decode(v any) error {
	b, err := d.ReadFrame()
	if err != nil {
		return err
	}
	return d.opts.Unmarshal(b, v)
}
