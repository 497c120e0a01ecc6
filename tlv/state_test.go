package tlv

import (
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/tlv/tlvwire"
)

func TestUnknownHelpers(t *testing.T) {
	var u Unknown
	u.Add(tlvwire.AppendVarintField(nil, 9, 1))
	u.Add(tlvwire.AppendVarintField(nil, 2, 1))
	u.Add(tlvwire.AppendVarintField(nil, 9, 2))
	assert.False(t, u.Valid(), "not in tag order")
	s := u.Sorted()
	assert.True(t, s.Valid())
	assert.Equal(t, "1001"+"4801"+"4802", hex.EncodeToString(s))
	b, rest := s.AppendBefore(nil, 5)
	assert.Equal(t, "1001", hex.EncodeToString(b))
	assert.Equal(t, "48014802", hex.EncodeToString(rest))
	b, rest = rest.AppendBefore(b, 9)
	assert.Equal(t, "1001", hex.EncodeToString(b))
	assert.Len(t, rest, 4)
	assert.False(t, Unknown{0x12, 0x05}.Valid())
	assert.False(t, Unknown{0x48, 0x01, 0x10, 0x01}.Valid())
}

// TestDecodeStateForGeneratedCode checks that the state DecodeOptions sets up reaches
// generated code (through the conversion to *tlvwire.DecodeState) with its limits.
func TestDecodeStateForGeneratedCode(t *testing.T) {
	var ds decoder
	require.NoError(t, DecodeOptions{MaxDepth: 2, MaxElements: 2, MaxMemory: 100, Strict: true}.init(&ds, 10))
	d := wire(&ds.State)
	assert.True(t, d.Strict())
	require.NoError(t, d.Count(2))
	require.ErrorIs(t, d.Count(1), ErrTooManyElements)
	require.NoError(t, d.Alloc(80))
	require.ErrorIs(t, d.Alloc(50), ErrMemoryLimit)
	assert.Equal(t, -1, ds.Memory, "the refused charge spends the budget, seen from tlv too")
	var c custom
	require.NoError(t, d.Message([]byte{0x08, 0x04}, 3, 9, &c))
	assert.Equal(t, 1, c.N)
	inner := &nestingUnmarshaler{}
	err := d.Message(nil, 5, 9, inner)
	require.ErrorIs(t, err, ErrDepth)
	var de *DecodeError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, 5+7, de.Offset)
	require.ErrorIs(t, DecodeOptions{MaxSize: 5}.init(&ds, 6), ErrTooLarge)

	// The state tlvwire makes for calling UnmarshalTLV directly has the defaults.
	wd, err := tlvwire.NewDecodeState(10)
	require.NoError(t, err)
	assert.False(t, wd.Strict())
	require.NoError(t, wd.Count(DefaultMaxElements))
	require.ErrorIs(t, wd.Count(1), ErrTooManyElements)
	_, err = tlvwire.NewDecodeState(DefaultMaxSize + 1)
	require.ErrorIs(t, err, ErrTooLarge)
}

// nestingUnmarshaler nests one more level at offset 7 of its data.
type nestingUnmarshaler struct{}

func (n *nestingUnmarshaler) UnmarshalTLV(data []byte, d *tlvwire.DecodeState) error {
	return d.Message(nil, 7, 4, &custom{})
}
