package tlv

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/tlv/tlvwire"
)

func TestStreamRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	recs := []*record{sampleRecord(), {ID: 1}, {Name: strings.Repeat("long", 100)}}
	for _, r := range recs {
		require.NoError(t, enc.Encode(r))
	}
	raw, err := Marshal(recs[1])
	require.NoError(t, err)
	require.NoError(t, enc.WriteFrame(raw))
	require.Error(t, enc.Encode(42))

	dec := NewDecoder(&buf, DecodeOptions{})
	for _, want := range append(recs, recs[1]) {
		var got record
		require.NoError(t, dec.Decode(&got))
		assert.Equal(t, want, &got)
	}
	require.ErrorIs(t, dec.Decode(&record{}), io.EOF)
}

func TestStreamLimits(t *testing.T) {
	t.Run("frame too large", func(t *testing.T) {
		frame := tlvwire.AppendVarint(nil, 1000)
		dec := NewDecoder(bytes.NewReader(append(frame, make([]byte, 1000)...)), DecodeOptions{MaxSize: 999})
		require.ErrorIs(t, dec.Decode(&record{}), ErrTooLarge)
	})
	t.Run("huge declared length, little data", func(t *testing.T) {
		// 2^40 declared, 10 bytes sent: rejected by MaxSize, and even with a huge MaxSize the
		// buffer only grows with what arrives.
		frame := append(tlvwire.AppendVarint(nil, 1<<40), make([]byte, 10)...)
		dec := NewDecoder(bytes.NewReader(frame), DecodeOptions{})
		require.ErrorIs(t, dec.Decode(&record{}), ErrTooLarge)

		frame = append(tlvwire.AppendVarint(nil, 60<<20), make([]byte, 10)...)
		var err error
		got := allocatedBytes(func() {
			dec := NewDecoder(bytes.NewReader(frame), DecodeOptions{})
			_, err = dec.ReadFrame()
		})
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
		assert.Less(t, got, uint64(64<<10), "allocated %d bytes", got)
	})
	t.Run("length overflow", func(t *testing.T) {
		frame := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}
		_, err := NewDecoder(bytes.NewReader(frame), DecodeOptions{}).ReadFrame()
		require.ErrorIs(t, err, ErrOverflow)
	})
	t.Run("truncated length", func(t *testing.T) {
		_, err := NewDecoder(bytes.NewReader([]byte{0x80}), DecodeOptions{}).ReadFrame()
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	})
	t.Run("buffer grows with data", func(t *testing.T) {
		body := bytes.Repeat([]byte{0x08, 0x01}, 100<<10)
		frame := append(tlvwire.AppendVarint(nil, uint64(len(body))), body...)
		dec := NewDecoder(bytes.NewReader(frame), DecodeOptions{})
		got, err := dec.ReadFrame()
		require.NoError(t, err)
		assert.Equal(t, body, got)
	})
	t.Run("decode error inside frame", func(t *testing.T) {
		var buf bytes.Buffer
		require.NoError(t, NewEncoder(&buf).WriteFrame([]byte{0x0a, 0x05}))
		err := NewDecoder(&buf, DecodeOptions{}).Decode(&record{})
		var de *DecodeError
		require.ErrorAs(t, err, &de)
		assert.Equal(t, 0, de.Offset)
	})
}

func TestEncoderReusesBuffer(t *testing.T) {
	enc := NewEncoder(io.Discard)
	r := sampleRecord()
	require.NoError(t, enc.Encode(r))
	allocs := testing.AllocsPerRun(50, func() { _ = enc.Encode(r) })
	assert.Zero(t, allocs)
}

// streamOf encodes n seeded random records as frames and returns the stream,
// the records and the offset where each frame starts (plus the end).
func streamOf(t *testing.T, rng *rand.Rand, n int) ([]byte, []*record, []int) {
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	var recs []*record
	starts := []int{0}
	for range n {
		r := &record{ID: rng.Uint64N(1 << uint(rng.IntN(64)+1)), Name: strings.Repeat("n", rng.IntN(300))}
		if rng.IntN(2) == 0 {
			r.Scores = []int32{rng.Int32(), -rng.Int32()}
		}
		require.NoError(t, enc.Encode(r))
		recs = append(recs, r)
		starts = append(starts, buf.Len())
	}
	return buf.Bytes(), recs, starts
}

// drain decodes until Decode has returned a framing error (not a content
// *DecodeError from Unmarshal) twice, and checks that it is sticky: the
// same error value every time, and nothing decoded after it.
func drain(t *testing.T, dec *Decoder, limit int) (got []*record, contentErrs int, final error) {
	t.Helper()
	for range limit {
		var r record
		err := dec.Decode(&r)
		if err == nil {
			require.Nil(t, final, "a message was decoded after framing error %v", final)
			got = append(got, &r)
			continue
		}
		if final != nil {
			require.True(t, err == final, "framing error not sticky: %v then %v", final, err) //nolint:errorlint // identity is the point
			continue
		}
		if _, ferr := dec.ReadFrame(); ferr != nil && ferr == err {
			final = err // sticky: ReadFrame returns the very error Decode did
			continue
		}
		contentErrs++
	}
	return got, contentErrs, final
}

// TestStreamCutEverywhere cuts a seeded random stream at every byte: the
// frames before the cut decode exactly, then io.EOF at a frame boundary and
// io.ErrUnexpectedEOF elsewhere, and that error stays.
func TestStreamCutEverywhere(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 14))
	stream, recs, starts := streamOf(t, rng, 6)
	for cut := 0; cut <= len(stream); cut++ {
		for _, strict := range []bool{false, true} {
			dec := NewDecoder(bytes.NewReader(stream[:cut]), DecodeOptions{Strict: strict})
			whole := 0
			for whole+1 < len(starts) && starts[whole+1] <= cut {
				whole++
			}
			for i := range whole {
				var r record
				require.NoError(t, dec.Decode(&r), "cut %d frame %d", cut, i)
				require.Equal(t, recs[i], &r)
			}
			first := dec.Decode(&record{})
			if cut == starts[whole] {
				require.ErrorIs(t, first, io.EOF, "cut %d", cut)
				require.NotErrorIs(t, first, io.ErrUnexpectedEOF)
			} else {
				require.ErrorIs(t, first, io.ErrUnexpectedEOF, "cut %d", cut)
			}
			for range 3 {
				require.Equal(t, first, dec.Decode(&record{}), "cut %d: error not sticky", cut)
				_, err := dec.ReadFrame()
				require.Equal(t, first, err)
			}
		}
	}
}

// TestStreamCorruptEverywhere overwrites each byte of a seeded random stream
// with random values and decodes with a random MaxSize: never a panic, never
// a message after a framing error, and the framing error is returned again
// by every later call. Before framing errors were sticky, a rejected
// too-large frame's body was decoded as more frames.
func TestStreamCorruptEverywhere(t *testing.T) {
	rng := rand.New(rand.NewPCG(22, 9))
	stream, _, _ := streamOf(t, rng, 5)
	corrupt := make([]byte, len(stream))
	for i := range stream {
		for range 4 {
			copy(corrupt, stream)
			corrupt[i] = byte(rng.IntN(256))
			opts := DecodeOptions{Strict: rng.IntN(2) == 0, MaxSize: []int{0, 16, 64, 200}[rng.IntN(4)]}
			got, _, final := drain(t, NewDecoder(bytes.NewReader(corrupt), opts), 12)
			require.Error(t, final, "byte %d: the stream never ended", i)
			require.LessOrEqual(t, len(got), len(stream), "byte %d", i)
		}
	}
}

// TestStreamNoSmuggling: a frame rejected as too large whose body is itself
// a run of valid frames (the adversary review's smuggling case) delivers
// none of them, and neither does an overflowing length prefix followed by
// valid frames.
func TestStreamNoSmuggling(t *testing.T) {
	var inner bytes.Buffer
	enc := NewEncoder(&inner)
	for range 5 {
		require.NoError(t, enc.Encode(&record{ID: 7, Name: "evil"}))
	}
	var buf bytes.Buffer
	enc = NewEncoder(&buf)
	require.NoError(t, enc.Encode(&record{ID: 1}))
	firstLen := buf.Len()
	require.NoError(t, enc.WriteFrame(inner.Bytes()))
	require.NoError(t, enc.Encode(&record{ID: 2}))
	dec := NewDecoder(bytes.NewReader(buf.Bytes()), DecodeOptions{MaxSize: 16})
	got, _, final := drain(t, dec, 10)
	require.Equal(t, []*record{{ID: 1}}, got)
	require.ErrorIs(t, final, ErrTooLarge)
	var de *DecodeError
	require.ErrorAs(t, final, &de)
	assert.Equal(t, firstLen, de.Offset, "offset of the rejected frame's length prefix in the stream")

	over := append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, inner.Bytes()...)
	got, _, final = drain(t, NewDecoder(bytes.NewReader(over), DecodeOptions{}), 10)
	require.Empty(t, got)
	require.ErrorIs(t, final, ErrOverflow)
}

// TestStreamStrictFrameLength: strict mode rejects a non-minimal frame
// length as SPEC.md §2 says for every length; lenient mode reads it.
func TestStreamStrictFrameLength(t *testing.T) {
	frame := []byte{0x82, 0x00, 0x08, 0x05}
	var r record
	require.NoError(t, NewDecoder(bytes.NewReader(frame), DecodeOptions{}).Decode(&r))
	assert.Equal(t, uint64(5), r.ID)
	err := NewDecoder(bytes.NewReader(frame), DecodeOptions{Strict: true}).Decode(&r)
	require.ErrorIs(t, err, ErrNonCanonical)
	_, err = NewDecoder(bytes.NewReader([]byte{0x80, 0x00}), DecodeOptions{Strict: true}).ReadFrame()
	require.ErrorIs(t, err, ErrNonCanonical)
}

// TestStreamContentErrorNotSticky: a frame that does not decode leaves the
// Decoder at the next frame.
func TestStreamContentErrorNotSticky(t *testing.T) {
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	require.NoError(t, enc.WriteFrame([]byte{0x12, 0x05}))
	require.NoError(t, enc.Encode(&record{ID: 3}))
	dec := NewDecoder(&buf, DecodeOptions{})
	require.ErrorIs(t, dec.Decode(&record{}), ErrLength)
	var r record
	require.NoError(t, dec.Decode(&r))
	assert.Equal(t, uint64(3), r.ID)
	require.ErrorIs(t, dec.Decode(&r), io.EOF)
}

// flakyReader fails once at byte failAt, then reads on as if nothing happened.
type flakyReader struct {
	data   []byte
	off    int
	failAt int
	failed bool
}

var errFlaky = errors.New("flaky read")

func (r *flakyReader) Read(p []byte) (int, error) {
	if !r.failed && r.off >= r.failAt {
		r.failed = true
		return 0, errFlaky
	}
	n := len(r.data) - r.off
	if n == 0 {
		return 0, io.EOF
	}
	if !r.failed {
		n = min(n, r.failAt-r.off)
	}
	n = copy(p, r.data[r.off:r.off+n])
	r.off += n
	return n, nil
}

// TestStreamReaderErrorIsSticky: an error of the underlying reader at any
// byte is returned by every later call, even though the reader would go on;
// frames before it decode exactly.
func TestStreamReaderErrorIsSticky(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	stream, recs, starts := streamOf(t, rng, 4)
	for at := 0; at < len(stream); at++ {
		dec := NewDecoder(&flakyReader{data: stream, failAt: at}, DecodeOptions{})
		whole := 0
		for whole+1 < len(starts) && starts[whole+1] <= at {
			whole++
		}
		for i := range whole {
			var r record
			require.NoError(t, dec.Decode(&r), "fail at %d, frame %d", at, i)
			require.Equal(t, recs[i], &r)
		}
		first := dec.Decode(&record{})
		require.ErrorIs(t, first, errFlaky, "fail at %d", at)
		for range 3 {
			require.Equal(t, first, dec.Decode(&record{}))
		}
	}
}
