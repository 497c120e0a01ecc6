package gentest

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/tlv"
	"github.com/bulwark-go/bulwark/tlv/internal/gentest/plain"
)

// TestErrorPositions checks, on inputs worked out by hand, the Offset and Tag
// that tlvwire.DecodeError's rule gives for each sentinel, against both the
// generated decoder and the reflection decoder (through the twin).
func TestErrorPositions(t *testing.T) {
	type pair struct{ gen, plain func() any }
	every := pair{func() any { return new(Every) }, func() any { return new(plain.Every) }}
	inner := pair{func() any { return new(Inner) }, func() any { return new(plain.Inner) }}
	node := pair{func() any { return new(Node) }, func() any { return new(plain.Node) }}
	long := strings.Repeat("61 ", 1000)
	for _, c := range []struct {
		name   string
		typ    pair
		hex    string
		opts   tlv.DecodeOptions
		err    error
		offset int
		tag    uint32
	}{
		// The key.
		{"tag 0", every, "08 01 00", tlv.DecodeOptions{}, tlv.ErrTag, 2, 0},
		{"key truncated", every, "08 01 80", tlv.DecodeOptions{}, tlv.ErrTruncated, 2, 0},
		{"key overflows", every, "ff ff ff ff ff ff ff ff ff 7f", tlv.DecodeOptions{}, tlv.ErrOverflow, 0, 0},
		{"key not minimal", every, "08 01 90 00 01", tlv.DecodeOptions{Strict: true}, tlv.ErrNonCanonical, 2, 2},
		// The field as a whole.
		{"tags descending", every, "10 01 08 01", tlv.DecodeOptions{Strict: true}, tlv.ErrNonCanonical, 2, 1},
		{"duplicate singular", every, "08 01 08 01", tlv.DecodeOptions{Strict: true}, tlv.ErrNonCanonical, 2, 1},
		{"wire type", every, "08 01 0d 00 00 00 00", tlv.DecodeOptions{}, tlv.ErrWireType, 2, 1},
		{"unpacked repeated scalar", every, "5c 01 02 58 02", tlv.DecodeOptions{Strict: true}, tlv.ErrNonCanonical, 3, 11},
		{"empty packed field", every, "5c 00", tlv.DecodeOptions{Strict: true}, tlv.ErrNonCanonical, 0, 11},
		{"too many fields", every, "08 01 10 01 18 01", tlv.DecodeOptions{MaxElements: 2}, tlv.ErrTooManyElements, 4, 3},
		{"too many packed elements", every, "08 01 5c 03 02 02 02", tlv.DecodeOptions{MaxElements: 3}, tlv.ErrTooManyElements, 2, 11},
		{"string over the memory budget", every, "08 01 42 e8 07 " + long, tlv.DecodeOptions{MaxMemory: 600}, tlv.ErrMemoryLimit, 2, 8},
		// The value, just after the key.
		{"varint truncated", every, "08 01 10 80", tlv.DecodeOptions{}, tlv.ErrTruncated, 3, 2},
		{"fixed32 truncated", every, "35 00 00", tlv.DecodeOptions{}, tlv.ErrTruncated, 1, 6},
		{"varint overflows", every, "28 ff ff ff ff ff ff ff ff ff 02", tlv.DecodeOptions{}, tlv.ErrOverflow, 1, 5},
		{"varint not minimal", every, "08 81 00", tlv.DecodeOptions{Strict: true}, tlv.ErrNonCanonical, 1, 1},
		{"length beyond the input", every, "08 01 42 05 68", tlv.DecodeOptions{}, tlv.ErrLength, 3, 8},
		{"length not minimal", every, "42 81 00 68", tlv.DecodeOptions{Strict: true}, tlv.ErrNonCanonical, 1, 8},
		{"bool out of range", every, "08 02", tlv.DecodeOptions{}, tlv.ErrRange, 1, 1},
		{"int32 out of range", every, "08 01 10 80 80 80 80 10", tlv.DecodeOptions{}, tlv.ErrRange, 3, 2},
		{"float64 not a float32", every, "31 9a 99 99 99 99 99 b9 3f", tlv.DecodeOptions{}, tlv.ErrRange, 1, 6},
		{"time out of range", every, "c3 01 06 10 80 94 eb dc 03", tlv.DecodeOptions{}, tlv.ErrRange, 2, 24},
		{"packed content not whole", every, "08 01 6e 03 00 00 00", tlv.DecodeOptions{}, tlv.ErrMalformed, 3, 13},
		{"unknown value truncated", inner, "08 01 1d 00", tlv.DecodeOptions{}, tlv.ErrTruncated, 3, 3},
		{"unknown packed not whole", inner, "1e 03 00 00 00", tlv.DecodeOptions{}, tlv.ErrMalformed, 1, 3},
		{"unknown varint not minimal", inner, "18 80 00", tlv.DecodeOptions{Strict: true}, tlv.ErrNonCanonical, 1, 3},
		// One element of packed content.
		{"packed element out of range", every, "5c 06 02 80 80 80 80 10", tlv.DecodeOptions{}, tlv.ErrRange, 3, 11},
		{"packed element overflows", every, "64 0b 01 ff ff ff ff ff ff ff ff ff 02", tlv.DecodeOptions{}, tlv.ErrOverflow, 3, 12},
		{"packed element not minimal", every, "64 03 01 81 00", tlv.DecodeOptions{Strict: true}, tlv.ErrNonCanonical, 3, 12},
		{"packed fixed64 element into float32s", every, "6f 10 00 00 00 00 00 00 f0 3f 9a 99 99 99 99 99 b9 3f", tlv.DecodeOptions{}, tlv.ErrRange, 10, 13},
		// Inside nested messages and map entries: tags of the inner fields.
		{"nested wire type", every, "8b 01 04 08 01 10 02", tlv.DecodeOptions{}, tlv.ErrWireType, 5, 2},
		{"nested too deep", node, "13 04 13 02 08 01", tlv.DecodeOptions{MaxDepth: 2}, tlv.ErrDepth, 4, 2},
		{"entry key out of range", every, "9b 01 06 08 80 80 80 80 10", tlv.DecodeOptions{}, tlv.ErrRange, 4, 1},
		{"entry fields out of order", every, "9b 01 04 13 00 08 02", tlv.DecodeOptions{Strict: true}, tlv.ErrNonCanonical, 3, 2},
		{"entry key unreadable", every, "9b 01 01 80", tlv.DecodeOptions{}, tlv.ErrTruncated, 3, 0},
		{"entry value missing", every, "9b 01 02 08 02", tlv.DecodeOptions{Strict: true}, tlv.ErrNonCanonical, 0, 19},
		{"entry keys not ascending", every, "9b 01 04 08 04 13 00 9b 01 04 08 02 13 00", tlv.DecodeOptions{Strict: true}, tlv.ErrNonCanonical, 7, 19},
		{"entry field unknown", every, "9b 01 02 18 01", tlv.DecodeOptions{Strict: true}, tlv.ErrMalformed, 3, 3},
		{"entry value too deep", every, "9b 01 06 08 02 13 02 08 01", tlv.DecodeOptions{MaxDepth: 1}, tlv.ErrDepth, 7, 2},
	} {
		data, err := hex.DecodeString(strings.ReplaceAll(c.hex, " ", ""))
		require.NoError(t, err, c.name)
		for _, dec := range []struct {
			name string
			v    any
		}{{"generated", c.typ.gen()}, {"reflection", c.typ.plain()}} {
			err := c.opts.Unmarshal(data, dec.v)
			require.ErrorIs(t, err, c.err, "%s, %s", c.name, dec.name)
			var de *tlv.DecodeError
			require.True(t, errors.As(err, &de), "%s, %s: %v", c.name, dec.name, err)
			assert.Equal(t, [2]int{c.offset, int(c.tag)}, [2]int{de.Offset, int(de.Tag)}, "%s, %s: offset and tag of %v", c.name, dec.name, err)
		}
	}
}
