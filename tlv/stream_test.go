package tlv

import (
	"bytes"
	"io"
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
