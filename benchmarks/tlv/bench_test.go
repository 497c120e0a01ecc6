package tlvbench

import (
	"encoding/json"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/vmihailenco/msgpack/v5"
	"google.golang.org/protobuf/proto"

	"github.com/bulwark-go/bulwark/benchmarks/tlv/gen"
	"github.com/bulwark-go/bulwark/benchmarks/tlv/pb"
	"github.com/bulwark-go/bulwark/tlv"
)

// smallN is the number of alecthomas SmallStructs cycled through, as in that suite.
const smallN = 1000

func workloads() []struct {
	name string
	in   *Instances
} {
	return []struct {
		name string
		in   *Instances
	}{
		{"Msg", MsgInstances(NewMsg())},
		{"Small", SmallInstances(smallN)},
		{"Large", MsgInstances(NewLargeMsg())},
	}
}

// avgSize is the mean encoded size of the workload's instances under c.
func avgSize(b *testing.B, c Codec, n int) float64 {
	total := 0
	for i := range n {
		enc, err := c.Append(nil, i)
		if err != nil {
			b.Fatal(err)
		}
		total += len(enc)
	}
	return float64(total) / float64(n)
}

// BenchmarkEncode encodes into a fresh buffer per call (the plain Marshal of
// each codec).
func BenchmarkEncode(b *testing.B) {
	for _, w := range workloads() {
		n := len(w.in.Reflect)
		for _, c := range Codecs(w.in, false) {
			b.Run(w.name+"/"+c.Name, func(b *testing.B) {
				size := avgSize(b, c, n)
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if _, err := c.Append(nil, i%n); err != nil {
						b.Fatal(err)
					}
					i++
				}
				b.ReportMetric(size, "bytes")
			})
		}
	}
}

// BenchmarkEncodeReuse encodes into a buffer kept from call to call.
func BenchmarkEncodeReuse(b *testing.B) {
	for _, w := range workloads() {
		n := len(w.in.Reflect)
		for _, c := range Codecs(w.in, true) {
			b.Run(w.name+"/"+c.Name, func(b *testing.B) {
				size := avgSize(b, c, n)
				buf := make([]byte, 0, 1<<10)
				b.ReportAllocs()
				i := 0
				var err error
				for b.Loop() {
					if buf, err = c.Append(buf[:0], i%n); err != nil {
						b.Fatal(err)
					}
					i++
				}
				b.ReportMetric(size, "bytes")
			})
		}
	}
}

// BenchmarkDecode decodes into a fresh value per call.
func BenchmarkDecode(b *testing.B) {
	for _, w := range workloads() {
		n := len(w.in.Reflect)
		for _, c := range Codecs(w.in, false) {
			b.Run(w.name+"/"+c.Name, func(b *testing.B) {
				inputs := make([][]byte, n)
				total := 0
				for i := range inputs {
					enc, err := c.Append(nil, i)
					if err != nil {
						b.Fatal(err)
					}
					inputs[i] = enc
					total += len(enc)
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if _, err := c.Decode(inputs[i%n]); err != nil {
						b.Fatal(err)
					}
					i++
				}
				b.ReportMetric(float64(total)/float64(n), "bytes")
			})
		}
	}
}

// evolver decodes a message written by a newer version (three fields the
// reader does not know) and re-encodes it into a kept buffer.
type evolver struct {
	name  string
	input []byte
	run   func(data, buf []byte) ([]byte, error)
	// kept reports whether the re-encoding still carries the newer fields.
	kept func(out []byte) bool
}

func evolvers(tb testing.TB) []evolver {
	v2 := NewMsgV2()
	must := func(b []byte, err error) []byte {
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	tlvIn := must(tlv.Marshal(ToGenV2(v2)))
	pbIn := must(proto.MarshalOptions{Deterministic: true}.Marshal(ToPBV2(v2)))
	tlvKept := func(out []byte) bool {
		var back gen.MsgV2
		return tlv.Unmarshal(out, &back) == nil && back.Region == v2.Region && back.Origin != nil
	}
	pbKept := func(out []byte) bool {
		var back pb.MsgV2
		return proto.Unmarshal(out, &back) == nil && back.Region == v2.Region && back.Origin != nil
	}
	reflKept := func(unmarshal func([]byte, any) error) func([]byte) bool {
		return func(out []byte) bool {
			var back MsgV2
			return unmarshal(out, &back) == nil && back.Region == v2.Region && back.Origin != nil
		}
	}
	peer := func(name string, marshal func(any) ([]byte, error), unmarshal func([]byte, any) error) evolver {
		return evolver{
			name:  name,
			input: must(marshal(v2)),
			run: func(data, buf []byte) ([]byte, error) {
				var m Msg
				if err := unmarshal(data, &m); err != nil {
					return buf, err
				}
				out, err := marshal(&m)
				return append(buf, out...), err
			},
			kept: reflKept(unmarshal),
		}
	}
	return []evolver{
		{"tlv-gen", tlvIn, func(data, buf []byte) ([]byte, error) {
			var m gen.Msg
			if err := tlv.Unmarshal(data, &m); err != nil {
				return buf, err
			}
			return m.AppendTLV(buf)
		}, tlvKept},
		{"tlv-reflect", tlvIn, func(data, buf []byte) ([]byte, error) {
			var m Msg
			if err := tlv.Unmarshal(data, &m); err != nil {
				return buf, err
			}
			return tlv.MarshalAppend(buf, &m)
		}, tlvKept},
		{"protowire-hand", pbIn, func(data, buf []byte) ([]byte, error) {
			var m PWMsg
			if err := UnmarshalPW(data, &m); err != nil {
				return buf, err
			}
			return AppendPW(buf, &m), nil
		}, pbKept},
		{"protobuf", pbIn, func(data, buf []byte) ([]byte, error) {
			var m pb.Msg
			if err := proto.Unmarshal(data, &m); err != nil {
				return buf, err
			}
			return proto.MarshalOptions{}.MarshalAppend(buf, &m)
		}, pbKept},
		peer("msgpack", msgpack.Marshal, msgpack.Unmarshal),
		peer("cbor", cbor.Marshal, cbor.Unmarshal),
		peer("json", json.Marshal, json.Unmarshal),
	}
}

// BenchmarkEvolve is the forward-compatibility round: decode a newer
// message, re-encode it. unknown_kept is 1 when the newer fields survive.
func BenchmarkEvolve(b *testing.B) {
	for _, e := range evolvers(b) {
		b.Run(e.name, func(b *testing.B) {
			out, err := e.run(e.input, nil)
			if err != nil {
				b.Fatal(err)
			}
			kept := 0.0
			if e.kept(out) {
				kept = 1
			}
			buf := make([]byte, 0, 1<<10)
			b.ReportAllocs()
			for b.Loop() {
				if buf, err = e.run(e.input, buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(out)), "bytes")
			b.ReportMetric(kept, "unknown_kept")
		})
	}
}
