package tlv

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/tlv/tlvwire"
)

type record struct {
	ID      uint64            `tlv:"1"`
	Name    string            `tlv:"2"`
	Profile *profile          `tlv:"3"`
	Scores  []int32           `tlv:"4"`
	Ratio   float64           `tlv:"5"`
	Attrs   map[string]string `tlv:"6"`
	Blob    []byte            `tlv:"7"`
}

type profile struct {
	City string `tlv:"1"`
	Age  int32  `tlv:"2"`
	Geo  *geo   `tlv:"3"`
}

type geo struct {
	Lat float32 `tlv:"1"`
}

func sampleRecord() *record {
	return &record{ID: 42, Name: "alice", Profile: &profile{City: "深圳", Age: 30, Geo: &geo{Lat: 22.5}},
		Scores: []int32{3, -1}, Ratio: 0.5, Attrs: map[string]string{"k": "v"}, Blob: []byte{0, 0xff}}
}

func TestValidAndValidate(t *testing.T) {
	b, err := Marshal(sampleRecord())
	require.NoError(t, err)
	require.True(t, Valid(b))
	require.NoError(t, DecodeOptions{Strict: true}.Validate(b))
	for i := 0; i < len(b); i++ {
		// Every strict prefix that cuts a field is invalid, with an offset inside it.
		if err := (DecodeOptions{}).Validate(b[:i]); err != nil {
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			assert.LessOrEqual(t, de.Offset, i)
		}
	}
	assert.False(t, Valid([]byte{0x0b, 0x02, 0x0a, 0x05})) // nested message content malformed
	assert.False(t, Valid([]byte{0x24, 0x01, 0x80}))       // packed varint cut
	assert.False(t, Valid([]byte{0x36, 0x03, 0, 0, 0}))    // packed fixed32 not a multiple of 4
	assert.True(t, Valid(nil))
	require.ErrorIs(t, DecodeOptions{Strict: true}.Validate([]byte{0x10, 0x01, 0x08, 0x01}), ErrNonCanonical)
	require.ErrorIs(t, DecodeOptions{Strict: true}.Validate([]byte{0x08, 0x81, 0x00}), ErrNonCanonical)
	require.ErrorIs(t, DecodeOptions{Strict: true}.Validate([]byte{0x24, 0x02, 0x81, 0x00}), ErrNonCanonical)
	require.ErrorIs(t, DecodeOptions{MaxSize: 1}.Validate([]byte{0x08, 0x01}), ErrTooLarge)
}

func TestWalk(t *testing.T) {
	b, err := Marshal(sampleRecord())
	require.NoError(t, err)
	var paths []string
	require.NoError(t, Walk(b, func(path []uint32, f tlvwire.Field) error {
		paths = append(paths, fmt.Sprint(path, f.Type))
		return nil
	}))
	assert.Equal(t, []string{
		"[1] varint", "[2] bytes", "[3] message", "[3 1] bytes", "[3 2] varint", "[3 3] message", "[3 3 1] fixed32",
		"[4] packed-varint", "[5] fixed64", "[6] message", "[6 1] bytes", "[6 2] bytes", "[7] bytes",
	}, paths)

	// SkipMessage does not descend; offsets are absolute.
	var tags [][]uint32
	require.NoError(t, Walk(b, func(path []uint32, f tlvwire.Field) error {
		tags = append(tags, slices.Clone(path))
		assert.Equal(t, f.Raw, b[f.Offset:f.Offset+len(f.Raw)])
		if f.Type == tlvwire.Message {
			return SkipMessage
		}
		return nil
	}))
	assert.Len(t, tags, 7)

	stop := fmt.Errorf("stop")
	require.ErrorIs(t, Walk(b, func([]uint32, tlvwire.Field) error { return stop }), stop)
	require.ErrorIs(t, Walk(deepNesting(100), func([]uint32, tlvwire.Field) error { return nil }), ErrDepth)
	err = Walk([]byte{0x0b, 0x02, 0x0a, 0x05}, func([]uint32, tlvwire.Field) error { return nil })
	var de *DecodeError
	require.ErrorAs(t, err, &de)
	// The nested field 1's length, just after its key at offset 2.
	assert.Equal(t, DecodeError{Offset: 3, Tag: 1, Err: ErrLength}, *de)
}

func TestDump(t *testing.T) {
	b, err := Marshal(sampleRecord())
	require.NoError(t, err)
	var out strings.Builder
	require.NoError(t, Dump(&out, b))
	want := `1: varint 42 (zigzag 21)
2: bytes "alice"
3: message {
  1: bytes "深圳"
  2: varint 60 (zigzag 30)
  3: message {
    1: fixed32 22.5 (0x41b40000)
  }
}
4: packed-varint [6 1]
5: fixed64 0.5 (0x3fe0000000000000)
6: message {
  1: bytes "k"
  2: bytes "v"
}
7: bytes 0x00ff
`
	assert.Equal(t, want, out.String())

	// Long values are abbreviated; malformed input ends with an error line.
	long := tlvwire.AppendBytesField(nil, 1, bytes.Repeat([]byte("x"), 100))
	long = tlvwire.AppendTag(long, 2, tlvwire.PackedVarint)
	long = tlvwire.AppendBytes(long, bytes.Repeat([]byte{1}, 40))
	long = append(long, 0x1b, 0x05, 0x08)
	out.Reset()
	err = Dump(&out, long)
	require.ErrorIs(t, err, ErrLength)
	assert.Contains(t, out.String(), "… (100 bytes)")
	assert.Contains(t, out.String(), "1 1 1 …]")
	assert.Contains(t, out.String(), "!tlv: declared length exceeds input")
	out.Reset()
	require.ErrorIs(t, Dump(&out, []byte{0x24, 0x01, 0x80}), ErrMalformed)
	out.Reset()
	require.ErrorIs(t, Dump(&out, deepNesting(100)), ErrDepth)
}

func TestGetSet(t *testing.T) {
	rec := sampleRecord()
	b, err := Marshal(rec)
	require.NoError(t, err)

	f, err := Get(b, []uint32{3, 1})
	require.NoError(t, err)
	assert.Equal(t, "深圳", string(f.Value))
	assert.Equal(t, f.Raw, b[f.Offset:f.Offset+len(f.Raw)])
	f, err = Get(b, []uint32{3, 3, 1})
	require.NoError(t, err)
	assert.Equal(t, float64(22.5), f.Float64())
	_, err = Get(b, []uint32{3, 9})
	require.ErrorIs(t, err, ErrNotFound)
	_, err = Get(b, []uint32{2, 1})
	require.ErrorIs(t, err, ErrWireType)
	_, err = Get(b, nil)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = Get([]byte{0x0b, 0x05}, []uint32{1, 1})
	require.ErrorIs(t, err, ErrLength)

	// Replace a nested field without the schema, keeping an unknown field intact.
	withUnknown := append(append([]byte{}, b...), tlvwire.AppendStringField(nil, 99, "future")...)
	b2, err := Set(withUnknown, []uint32{3, 1}, tlvwire.AppendStringField(nil, 1, "北京"))
	require.NoError(t, err)
	var got record
	require.NoError(t, Unmarshal(b2, &got))
	want := *sampleRecord()
	want.Profile.City = "北京"
	assert.Equal(t, &want, &got)
	f, err = Get(b2, []uint32{99})
	require.NoError(t, err)
	assert.Equal(t, "future", string(f.Value))
	// The result is the canonical encoding of the edited value, unknown field kept.
	canon, err := Marshal(&want)
	require.NoError(t, err)
	assert.Equal(t, hex.EncodeToString(append(canon, tlvwire.AppendStringField(nil, 99, "future")...)), hex.EncodeToString(b2))
	assert.Equal(t, withUnknown[:len(b)], b, "input untouched")

	// Insert where absent, creating intermediate messages, in tag order.
	b3, err := Set(nil, []uint32{3, 3, 1}, tlvwire.AppendFloat32Field(nil, 1, 1))
	require.NoError(t, err)
	require.NoError(t, Unmarshal(b3, &got))
	assert.Equal(t, record{Profile: &profile{Geo: &geo{Lat: 1}}}, got)
	b4, err := Set(b, []uint32{5}, nil) // delete Ratio
	require.NoError(t, err)
	_, err = Get(b4, []uint32{5})
	require.ErrorIs(t, err, ErrNotFound)
	b5, err := Set(b4, []uint32{5}, tlvwire.AppendFloat64Field(nil, 5, 0.5))
	require.NoError(t, err)
	assert.Equal(t, b, b5, "re-inserted at the canonical position")

	// Bad arguments.
	_, err = Set(b, []uint32{1}, tlvwire.AppendVarintField(nil, 2, 1))
	require.ErrorIs(t, err, ErrMalformed)
	_, err = Set(b, []uint32{1}, []byte{0x0a, 0x09})
	require.ErrorIs(t, err, ErrLength)
	_, err = Set(b, []uint32{2, 1}, tlvwire.AppendVarintField(nil, 1, 1))
	require.ErrorIs(t, err, ErrWireType)
	_, err = Set(b, nil, nil)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = Set([]byte{0x08}, []uint32{1}, nil)
	require.ErrorIs(t, err, ErrTruncated)
	b6, err := Set(b, []uint32{40, 1}, nil)
	require.NoError(t, err)
	assert.Equal(t, b, b6)
}

func TestValidDoesNotAllocate(t *testing.T) {
	b, err := Marshal(sampleRecord())
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() {
		if !Valid(b) {
			t.Fatal("invalid")
		}
	})
	assert.Zero(t, allocs)
}

// TestSetKeepsRecordsValid: Set with seeded random fields — well-formed ones
// and message fields whose content is corrupted at a random byte — either
// refuses the field or returns a record Valid accepts. Set used to accept a
// message field with malformed content and return an invalid record.
func TestSetKeepsRecordsValid(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	rec, err := Marshal(sampleRecord())
	require.NoError(t, err)
	require.True(t, Valid(rec))
	refused := 0
	for range 2000 {
		inner, err := Marshal(&profile{City: strings.Repeat("c", r.IntN(20)), Age: r.Int32()})
		require.NoError(t, err)
		if len(inner) > 0 && r.IntN(2) == 0 {
			inner[r.IntN(len(inner))] = byte(r.IntN(256))
		}
		path := [][]uint32{{3}, {9}, {3, 7}, {3, 3}}[r.IntN(4)]
		field := tlvwire.AppendBytes(tlvwire.AppendTag(nil, path[len(path)-1], tlvwire.Message), inner)
		out, err := Set(rec, path, field)
		if err != nil {
			refused++
			require.False(t, Valid(field), "a Valid field was refused: %x: %v", field, err)
			continue
		}
		require.True(t, Valid(out), "Set returned an invalid record for field %x", field)
	}
	require.NotZero(t, refused, "corrupt fields were generated")
}
