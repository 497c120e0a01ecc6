package tlvbench

import (
	"bytes"
	"encoding/json"

	"github.com/fxamacker/cbor/v2"
	"github.com/vmihailenco/msgpack/v5"
	"google.golang.org/protobuf/proto"

	"github.com/bulwark-go/bulwark/tlv"
	"github.com/bulwark-go/bulwark/tlv/tlvwire"
)

// Codec is one way to encode and decode the instances of a workload.
// Append encodes instance i appending to dst (nil: a fresh buffer); Decode
// decodes data into a fresh value and returns it.
type Codec struct {
	Name   string
	Append func(dst []byte, i int) ([]byte, error)
	Decode func(data []byte) (any, error)
}

// Instances are the values of one workload in every codec's own type; all
// slices have the same length.
type Instances struct {
	Reflect []any               // pointers to reflection-tagged structs (tlv, msgpack, cbor, json)
	Gen     []tlvwire.Marshaler // tlvgen-generated values
	PB      []proto.Message     // protobuf-go generated values
	PW      []*PWMsg            // the hand-written protowire codec's values (Msg workloads only)

	NewReflect func() any
	NewGen     func() tlvwire.Unmarshaler
	NewPB      func() proto.Message
}

// Codecs returns every codec of the comparison over in. With reuse set,
// encoders that can append to a kept buffer do so (msgpack, cbor and json
// through their stream encoders on a kept bytes.Buffer).
func Codecs(in *Instances, reuse bool) []Codec {
	cs := []Codec{
		{
			Name: "tlv-gen",
			Append: func(dst []byte, i int) ([]byte, error) {
				if dst == nil {
					return tlv.Marshal(in.Gen[i])
				}
				return in.Gen[i].AppendTLV(dst)
			},
			Decode: func(data []byte) (any, error) {
				v := in.NewGen()
				return v, tlv.Unmarshal(data, v)
			},
		},
		{
			Name: "tlv-reflect",
			Append: func(dst []byte, i int) ([]byte, error) {
				if dst == nil {
					return tlv.Marshal(in.Reflect[i])
				}
				return tlv.MarshalAppend(dst, in.Reflect[i])
			},
			Decode: func(data []byte) (any, error) {
				v := in.NewReflect()
				return v, tlv.Unmarshal(data, v)
			},
		},
	}
	if in.PW != nil {
		cs = append(cs, Codec{
			Name:   "protowire-hand",
			Append: func(dst []byte, i int) ([]byte, error) { return AppendPW(dst, in.PW[i]), nil },
			Decode: func(data []byte) (any, error) {
				v := new(PWMsg)
				return v, UnmarshalPW(data, v)
			},
		})
	}
	cs = append(cs, Codec{
		Name: "protobuf",
		Append: func(dst []byte, i int) ([]byte, error) {
			if dst == nil {
				return proto.Marshal(in.PB[i])
			}
			return proto.MarshalOptions{}.MarshalAppend(dst, in.PB[i])
		},
		Decode: func(data []byte) (any, error) {
			v := in.NewPB()
			return v, proto.Unmarshal(data, v)
		},
	})
	// cbor's default time encoding is whole Unix seconds; RFC 3339 with
	// nanoseconds keeps SmallStruct.BirthDay exact, as every other codec does.
	cbm, err := cbor.EncOptions{Time: cbor.TimeRFC3339Nano}.EncMode()
	if err != nil {
		panic(err) // constant options; cannot fail
	}
	mp, cb, js := &streamAppend{}, &streamAppend{}, &streamAppend{}
	mp.enc = msgpack.NewEncoder(&mp.buf)
	cb.enc = cbm.NewEncoder(&cb.buf)
	js.enc = json.NewEncoder(&js.buf)
	peer := func(name string, marshal func(any) ([]byte, error), stream *streamAppend, unmarshal func([]byte, any) error) Codec {
		return Codec{
			Name: name,
			Append: func(dst []byte, i int) ([]byte, error) {
				if reuse {
					return stream.append(dst, in.Reflect[i])
				}
				b, err := marshal(in.Reflect[i])
				if dst == nil {
					return b, err
				}
				return append(dst, b...), err
			},
			Decode: func(data []byte) (any, error) {
				v := in.NewReflect()
				return v, unmarshal(data, v)
			},
		}
	}
	return append(cs,
		peer("msgpack", msgpack.Marshal, mp, msgpack.Unmarshal),
		peer("cbor", cbm.Marshal, cb, cbor.Unmarshal),
		peer("json", json.Marshal, js, json.Unmarshal),
	)
}

// streamAppend gives the peers without an append API the same "reuse"
// meaning: the output buffer is kept from one call to the next.
type streamAppend struct {
	buf bytes.Buffer
	enc interface{ Encode(any) error }
}

func (s *streamAppend) append(dst []byte, v any) ([]byte, error) {
	s.buf.Reset()
	if err := s.enc.Encode(v); err != nil {
		return dst, err
	}
	return append(dst, s.buf.Bytes()...), nil
}
