package tlv_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/tlv"
	"github.com/bulwark-go/bulwark/tlv/internal/gentest"
	"github.com/bulwark-go/bulwark/tlv/internal/gentest/plain"
	"github.com/bulwark-go/bulwark/tlv/tlvwire"
)

// TestValidatePlacesErrorsLikeUnmarshal checks that Validate, which reads without a
// schema, reports the same sentinel, Offset and Tag as the decoders do for a message
// that keeps every field as unknown (Empty, reflection and generated), on seeded random
// mutations of random fields. Inputs whose fields up to the failure include a message or
// packed wire type are left out: Validate looks inside those values, a decoder keeping
// them as unknown does not. The element limit is the default or a small one.
func TestValidatePlacesErrorsLikeUnmarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 22))
	compared := 0
	seen := map[error]bool{}
	for range 4000 {
		var b []byte
		for range r.IntN(6) {
			tag := uint32(1 + r.IntN(20))
			if r.IntN(8) == 0 {
				tag = uint32(1 + r.IntN(1<<20))
			}
			switch r.IntN(4) {
			case 0:
				b = tlvwire.AppendVarintField(b, tag, r.Uint64()>>r.IntN(64))
			case 1:
				b = tlvwire.AppendFixed32Field(b, tag, r.Uint32())
			case 2:
				b = tlvwire.AppendFixed64Field(b, tag, r.Uint64())
			default:
				b = tlvwire.AppendBytesField(b, tag, make([]byte, r.IntN(5)))
			}
		}
		for range r.IntN(3) {
			switch k := r.IntN(3); {
			case k == 0 && len(b) > 0:
				b[r.IntN(len(b))] = byte(r.IntN(256))
			case k == 1:
				at := r.IntN(len(b) + 1)
				b = append(b[:at], append([]byte{byte(r.IntN(256))}, b[at:]...)...)
			case len(b) > 0:
				at := r.IntN(len(b))
				b = append(b[:at], b[at+1:]...)
			}
		}
		it := tlvwire.NewIter(b)
		skip := false
		for it.Next() {
			skip = skip || it.Field().Type.LengthDelimited() && it.Field().Type != tlvwire.Bytes
		}
		if _, wt, n := tlvwire.ConsumeTag(b[it.Offset():]); it.Err() != nil && n > 0 && wt.LengthDelimited() && wt != tlvwire.Bytes {
			skip = true
		}
		if skip {
			continue
		}
		for _, strict := range []bool{false, true} {
			o := tlv.DecodeOptions{Strict: strict}
			if r.IntN(4) == 0 {
				o.MaxElements = 1 + r.IntN(5)
			}
			errV := o.Validate(b)
			for _, v := range []any{new(plain.Empty), new(gentest.Empty)} {
				errU := o.Unmarshal(b, v)
				require.Equal(t, errV == nil, errU == nil, "strict=%v %T %x: Validate %v, Unmarshal %v", strict, v, b, errV, errU)
				if errV == nil {
					continue
				}
				compared++
				var dv, du *tlv.DecodeError
				require.True(t, errors.As(errV, &dv) && errors.As(errU, &du), "%v / %v", errV, errU)
				require.Equal(t, *dv, *du, "strict=%v %T %x", strict, v, b)
				seen[dv.Err] = true
			}
		}
	}
	require.Greater(t, compared, 1000)
	for _, e := range []error{tlv.ErrTag, tlv.ErrTruncated, tlv.ErrOverflow, tlv.ErrLength, tlv.ErrNonCanonical, tlv.ErrTooManyElements} {
		require.True(t, seen[e], "no case of %v", e)
	}
}
