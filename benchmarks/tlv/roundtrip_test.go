package tlvbench

import (
	"encoding/hex"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/benchmarks/tlv/gen"
	"github.com/bulwark-go/bulwark/benchmarks/tlv/pb"
	"github.com/bulwark-go/bulwark/tlv"
)

// asMsg converts what any codec of a Msg workload decoded back to a *Msg,
// with empty slices and maps as nil, so every codec can be compared with the
// original value.
func asMsg(t *testing.T, v any) *Msg {
	t.Helper()
	var m Msg
	switch x := v.(type) {
	case *Msg:
		m = *x
	case *PWMsg:
		m = x.Msg
	case *gen.Msg:
		m = Msg{UID: x.UID, Text: x.Text, Payload: x.Payload, IDs: x.IDs, Attrs: x.Attrs}
		if x.Inner != nil {
			m.Inner = &Inner{ID: x.Inner.ID, Name: x.Inner.Name}
		}
		for _, it := range x.Items {
			m.Items = append(m.Items, Inner{ID: it.ID, Name: it.Name})
		}
	case *pb.Msg:
		m = Msg{UID: x.Uid, Text: x.Text, Payload: x.Payload, IDs: x.Ids, Attrs: x.Attrs}
		if x.Inner != nil {
			m.Inner = &Inner{ID: x.Inner.Id, Name: x.Inner.Name}
		}
		for _, it := range x.Items {
			m.Items = append(m.Items, Inner{ID: it.Id, Name: it.Name})
		}
	default:
		t.Fatalf("unexpected decoded type %T", v)
	}
	m.Unknown = nil
	if len(m.Payload) == 0 {
		m.Payload = nil
	}
	if len(m.IDs) == 0 {
		m.IDs = nil
	}
	if len(m.Items) == 0 {
		m.Items = nil
	}
	if len(m.Attrs) == 0 {
		m.Attrs = nil
	}
	return &m
}

// TestRoundTrip checks every codec of the comparison decodes its own
// encoding of each workload back to the original before anything is timed.
func TestRoundTrip(t *testing.T) {
	for _, w := range []struct {
		name string
		m    *Msg
	}{{"Msg", NewMsg()}, {"Large", NewLargeMsg()}} {
		for _, reuse := range []bool{false, true} {
			for _, c := range Codecs(MsgInstances(w.m), reuse) {
				t.Run(w.name+"/"+c.Name, func(t *testing.T) {
					enc, err := c.Append(nil, 0)
					require.NoError(t, err)
					got, err := c.Decode(enc)
					require.NoError(t, err)
					require.True(t, reflect.DeepEqual(asMsg(t, w.m), asMsg(t, got)), "decoded value differs")
				})
			}
		}
	}
	in := SmallInstances(50)
	for _, c := range Codecs(in, false) {
		t.Run("Small/"+c.Name, func(t *testing.T) {
			for i := range in.Reflect {
				enc, err := c.Append(nil, i)
				require.NoError(t, err)
				got, err := c.Decode(enc)
				require.NoError(t, err)
				want := in.Reflect[i].(*SmallStruct)
				switch g := got.(type) {
				case *SmallStruct:
					require.True(t, want.BirthDay.Equal(g.BirthDay), "BirthDay")
					g.BirthDay = want.BirthDay
					require.Equal(t, want, g)
				case *gen.SmallStruct:
					require.Equal(t, SmallToGen(want), g)
				case *pb.SmallStruct:
					require.Equal(t, SmallToPB(want).String(), g.String())
				}
			}
		})
	}
}

func TestEvolveKeepsUnknownFieldsByteForByte(t *testing.T) {
	for _, e := range evolvers(t) {
		out, err := e.run(e.input, nil)
		require.NoError(t, err, e.name)
		switch e.name {
		case "tlv-gen", "tlv-reflect":
			require.Equal(t, e.input, out, "%s: canonical round trip is byte for byte", e.name)
			require.True(t, e.kept(out), e.name)
		case "protobuf", "protowire-hand":
			require.True(t, e.kept(out), e.name)
		default:
			require.False(t, e.kept(out), "%s drops unknown fields", e.name)
		}
	}
}

// TestReflectionAndGeneratedEncodeAlike: the reflection types carry the
// generated code's tags, so for every value, the zero value, empty-but-not-nil
// lists and maps, -0.0 and NaN included, both encoders write the same bytes
// (issue 22 item 5: one encoding per value).
func TestReflectionAndGeneratedEncodeAlike(t *testing.T) {
	r := rand.New(rand.NewPCG(22, 5))
	msgs := []*Msg{{}, NewMsg(), NewLargeMsg(), {IDs: []int64{}, Items: []Inner{}, Attrs: map[string]string{}, Payload: []byte{}, Inner: &Inner{}}}
	for range 500 {
		m := NewMsg()
		if r.IntN(2) == 0 {
			m.UID = 0
		}
		switch r.IntN(3) {
		case 0:
			m.IDs = nil
		case 1:
			m.IDs = []int64{}
		}
		switch r.IntN(3) {
		case 0:
			m.Attrs = nil
		case 1:
			m.Attrs = map[string]string{}
		case 2:
			m.Attrs[""] = ""
		}
		switch r.IntN(3) {
		case 0:
			m.Inner = nil
		case 1:
			m.Inner = &Inner{}
		}
		if r.IntN(2) == 0 {
			m.Items = append(m.Items, Inner{})
		}
		if r.IntN(3) == 0 {
			m.Payload = []byte{}
		}
		msgs = append(msgs, m)
	}
	for i, m := range msgs {
		want, err := ToGen(m).AppendTLV(nil)
		require.NoError(t, err)
		got, err := tlv.Marshal(m)
		require.NoError(t, err)
		require.Equal(t, hex.EncodeToString(want), hex.EncodeToString(got), "message %d", i)
	}
	negZero := math.Copysign(0, -1)
	for i, s := range []*SmallStruct{{}, {Money: negZero}, {Money: math.NaN()}, {Money: math.Inf(-1), Spouse: true}, &NewSmallStructs(1)[0]} {
		want, err := SmallToGen(s).AppendTLV(nil)
		require.NoError(t, err)
		got, err := tlv.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, hex.EncodeToString(want), hex.EncodeToString(got), "small struct %d", i)
	}
	zero, err := tlv.Marshal(&Msg{})
	require.NoError(t, err)
	require.Empty(t, zero, "the zero message is empty on the wire")
}
