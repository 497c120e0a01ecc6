package gentest

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/tlv"
	"github.com/bulwark-go/bulwark/tlv/tlvwire"
)

// FuzzGeneratedVsReflection decodes the same bytes with the generated
// decoder and with the reflection decoder (through the method-less twin), in
// lenient and strict mode, for every test type. Both must accept or both
// reject, with the same error, offset and tag; accepted values must be equal
// and re-encode to the same bytes.
// Inputs that succeed must stay within the memory bound and re-encode to a
// canonical fixpoint.
func FuzzGeneratedVsReflection(f *testing.F) {
	for seed := range uint64(8) {
		for _, tw := range twins() {
			g := tw.gen()
			newFiller(seed).fill(reflect.ValueOf(g).Elem())
			b, err := g.(tlvwire.Marshaler).AppendTLV(nil)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte{0x24, 0x01, 0x80})
	f.Add([]byte{0x3b, 0x03, 0x0a, 0x01, 'a', 0x3b, 0x03, 0x0a, 0x01, 'a'})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, tw := range twins() {
			for _, strict := range []bool{false, true} {
				if err := agree(tw.gen(), tw.plain(), data, strict); err != nil {
					t.Fatalf("%s strict=%v: %v", tw.name, strict, err)
				}
			}
		}
		// The same bytes also choose a value (zero values, -0.0, NaN, empty
		// against nil lists and maps, unknown fields): both encoders must write it
		// alike, whatever decoding could produce.
		h := fnv.New64a()
		h.Write(data)
		seed := h.Sum64()
		for _, tw := range twins() {
			if err := encodeAlike(tw.gen(), tw.plain(), seed); err != nil {
				t.Fatalf("%s: %v", tw.name, err)
			}
		}
	})
}

// encodeAlike fills a generated type and its twin with the value of seed and
// compares their encodings and the generated SizeTLV.
func encodeAlike(g, p any, seed uint64) error {
	newFiller(seed).fill(reflect.ValueOf(g).Elem())
	newFiller(seed).fill(reflect.ValueOf(p).Elem())
	encG, err := g.(tlvwire.Marshaler).AppendTLV(nil)
	if err != nil {
		return fmt.Errorf("generated encode: %v", err)
	}
	encP, err := tlv.Marshal(p)
	if err != nil {
		return fmt.Errorf("reflection encode: %v", err)
	}
	if string(encG) != string(encP) {
		return fmt.Errorf("seed %d: encodings differ:\n gen %x\n ref %x", seed, encG, encP)
	}
	if n := g.(tlvwire.Marshaler).SizeTLV(); n != len(encG) {
		return fmt.Errorf("seed %d: SizeTLV %d, AppendTLV wrote %d bytes", seed, n, len(encG))
	}
	return nil
}

func agree(g, p any, data []byte, strict bool) error {
	o := tlv.DecodeOptions{Strict: strict}
	errG := o.Unmarshal(data, g)
	errP := o.Unmarshal(data, p)
	if (errG == nil) != (errP == nil) {
		return fmt.Errorf("generated error %v, reflection error %v", errG, errP)
	}
	if errG != nil {
		var de *tlv.DecodeError
		if !errors.As(errG, &de) {
			return fmt.Errorf("generated error is not a *tlv.DecodeError: %v", errG)
		}
		// Both decoders name the same error (the conformance suite's names).
		if sentinel(errG) != sentinel(errP) {
			return fmt.Errorf("generated error %v, reflection error %v", errG, errP)
		}
		// And the same place: both follow tlvwire.DecodeError's rule for Offset and
		// Tag, which lies within the input.
		var dp *tlv.DecodeError
		if !errors.As(errP, &dp) {
			return fmt.Errorf("reflection error is not a *tlv.DecodeError: %v", errP)
		}
		if de.Offset != dp.Offset || de.Tag != dp.Tag {
			return fmt.Errorf("generated error %v, reflection error %v: different offset or tag", errG, errP)
		}
		if de.Offset < 0 || de.Offset > len(data) {
			return fmt.Errorf("offset outside the input of %d bytes: %v", len(data), errG)
		}
		return nil
	}
	if err := sameValue(reflect.ValueOf(g).Elem(), reflect.ValueOf(p).Elem(), "decoded"); err != nil {
		return err
	}
	encG, err := tlv.Marshal(g)
	if err != nil {
		return fmt.Errorf("generated re-encode: %v", err)
	}
	encP, err := tlv.Marshal(p)
	if err != nil {
		return fmt.Errorf("reflection re-encode: %v", err)
	}
	if string(encG) != string(encP) {
		return fmt.Errorf("re-encodings differ:\n gen %x\n ref %x", encG, encP)
	}
	// Whatever lenient decoding accepted, Marshal's output is canonical — strict
	// decoding of the same type accepts it (an Unknown never holds a declared tag) —
	// unless an Unknown holds fields that arrived non-canonical: those are kept byte for
	// byte (SPEC.md §7.5), and then only a lenient decode is asked of the re-encoding.
	again := reflect.New(reflect.TypeOf(g).Elem()).Interface()
	if unknownsCanonical(reflect.ValueOf(g)) {
		if err := (tlv.DecodeOptions{Strict: true}).Unmarshal(encG, again); err != nil {
			return fmt.Errorf("strict decoding rejects the re-encoding %x of %x: %v", encG, data, err)
		}
	} else if err := tlv.Unmarshal(encG, again); err != nil {
		return fmt.Errorf("re-encoding does not decode: %v", err)
	}
	encAgain, err := tlv.Marshal(again)
	if err != nil || string(encAgain) != string(encG) {
		return fmt.Errorf("encode is not a fixpoint: %x then %x (%v)", encG, encAgain, err)
	}
	return nil
}

var sentinels = []error{tlv.ErrTruncated, tlv.ErrOverflow, tlv.ErrTag, tlv.ErrLength, tlv.ErrWireType,
	tlv.ErrRange, tlv.ErrMalformed, tlv.ErrNonCanonical, tlv.ErrUnknownField, tlv.ErrDepth,
	tlv.ErrTooLarge, tlv.ErrTooManyElements, tlv.ErrMemoryLimit, tlv.ErrDeclaredTag}

func sentinel(err error) error {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s
		}
	}
	return err
}

// TestMutatedInputsAgree runs agree over seeded random mutations (flipped,
// inserted and deleted bytes) of every twin's encoding, decoded into every
// twin, in both modes: the decoders agree (on the error, its offset and tag),
// and every lenient decode re-encodes to bytes strict decoding accepts. Before wire-type mismatches were refused,
// a known tag under a foreign wire type was kept in Unknown and written back
// beside the known field, and strict decoding rejected the result.
func TestMutatedInputsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 14))
	rounds := 200
	if testing.Short() {
		rounds = 50
	}
	for i := range rounds {
		src := twins()[r.IntN(len(twins()))]
		g := src.gen()
		newFiller(uint64(i)).fill(reflect.ValueOf(g).Elem())
		b, err := g.(tlvwire.Marshaler).AppendTLV(nil)
		require.NoError(t, err)
		for range 4 {
			m := append([]byte(nil), b...)
			for range 1 + r.IntN(3) {
				switch k := r.IntN(3); {
				case k == 0 && len(m) > 0:
					m[r.IntN(len(m))] = byte(r.IntN(256))
				case k == 1:
					at := r.IntN(len(m) + 1)
					m = append(m[:at], append([]byte{byte(r.IntN(256))}, m[at:]...)...)
				case len(m) > 0:
					at := r.IntN(len(m))
					m = append(m[:at], m[at+1:]...)
				}
			}
			for _, tw := range twins() {
				for _, strict := range []bool{false, true} {
					require.NoError(t, agree(tw.gen(), tw.plain(), m, strict), "%s strict=%v input %x", tw.name, strict, m)
				}
			}
		}
	}
}

// unknownsCanonical reports whether every tlv.Unknown reachable from v passes
// strict validation (minimal varints and lengths, ascending tags).
func unknownsCanonical(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer:
		return v.IsNil() || unknownsCanonical(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if !unknownsCanonical(v.Field(i)) {
				return false
			}
		}
	case reflect.Slice:
		if v.Type() == reflect.TypeFor[tlv.Unknown]() {
			return (tlv.DecodeOptions{Strict: true}).Validate(v.Bytes()) == nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return true
		}
		for i := range v.Len() {
			if !unknownsCanonical(v.Index(i)) {
				return false
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if !unknownsCanonical(it.Value()) {
				return false
			}
		}
	}
	return true
}
