package tlv_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/bulwark-go/bulwark/tlv"
	"github.com/bulwark-go/bulwark/tlv/tlvwire"
)

type Inner struct {
	ID   int64  `tlv:"1"`
	Name string `tlv:"2"`
}

type Msg struct {
	UID   uint64            `tlv:"1"`
	Text  string            `tlv:"2"`
	IDs   []int64           `tlv:"4"`
	Inner *Inner            `tlv:"5"`
	Attrs map[string]string `tlv:"7,omitempty"`
}

func Example() {
	b, err := tlv.Marshal(&Msg{UID: 42, Text: "hi", IDs: []int64{1, -1}, Inner: &Inner{ID: 7, Name: "x"}})
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", b)

	var m Msg
	if err := tlv.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	fmt.Println(m.UID, m.Text, m.IDs, *m.Inner)
	// Output:
	// 08 2a 12 02 68 69 24 02 02 01 2b 05 08 0e 12 01 78
	// 42 hi [1 -1] {7 x}
}

// An old binary that knows only some fields keeps the others in a tlv.Unknown field and
// writes them back unchanged.
func Example_unknownFields() {
	type MsgV2 struct {
		UID    uint64 `tlv:"1"`
		Text   string `tlv:"2"`
		Region string `tlv:"3"` // added in version 2
	}
	type MsgV1 struct {
		UID  uint64 `tlv:"1"`
		Text string `tlv:"2"`
		Rest tlv.Unknown
	}
	v2, _ := tlv.Marshal(&MsgV2{UID: 1, Text: "hello", Region: "cn-south"})

	var old MsgV1
	_ = tlv.Unmarshal(v2, &old)
	old.Text = "edited by v1"
	relayed, _ := tlv.Marshal(&old)

	var back MsgV2
	_ = tlv.Unmarshal(relayed, &back)
	fmt.Printf("%+v\n", back)
	// Output: {UID:1 Text:edited by v1 Region:cn-south}
}

func ExampleDump() {
	b, _ := tlv.Marshal(&Msg{UID: 42, Text: "hi", IDs: []int64{1, -1}, Inner: &Inner{ID: 7, Name: "x"},
		Attrs: map[string]string{"k": "v"}})
	_ = tlv.Dump(os.Stdout, b)
	// Output:
	// 1: varint 42 (zigzag 21)
	// 2: bytes "hi"
	// 4: packed-varint [2 1]
	// 5: message {
	//   1: varint 14 (zigzag 7)
	//   2: bytes "x"
	// }
	// 7: message {
	//   1: bytes "k"
	//   2: bytes "v"
	// }
}

func ExampleDecodeOptions_Unmarshal() {
	// 5 bytes that claim a 2^62-byte string: rejected without allocating it.
	hostile := []byte{0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f}
	var m Msg
	err := tlv.DecodeOptions{MaxDepth: 16, MaxSize: 1 << 20}.Unmarshal(hostile, &m)
	var de *tlv.DecodeError
	fmt.Println(errors.Is(err, tlv.ErrLength), errors.As(err, &de), de.Offset, de.Tag)

	// Strict mode rejects what Marshal would not have written.
	outOfOrder := []byte{0x12, 0x01, 'x', 0x08, 0x01}
	fmt.Println(tlv.Unmarshal(outOfOrder, &m) == nil)
	fmt.Println(tlv.DecodeOptions{Strict: true}.Unmarshal(outOfOrder, &m))
	// Output:
	// true true 1 2
	// true
	// tlv: non-canonical encoding (offset 3, tag 1)
}

func ExampleEncoder() {
	var stream bytes.Buffer
	enc := tlv.NewEncoder(&stream)
	for i := range 3 {
		_ = enc.Encode(&Inner{ID: int64(i), Name: "n"})
	}

	dec := tlv.NewDecoder(&stream, tlv.DecodeOptions{MaxSize: 4 << 10})
	for {
		var in Inner
		err := dec.Decode(&in)
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		fmt.Println(in)
	}
	// Output:
	// {0 n}
	// {1 n}
	// {2 n}
}

// Get and Set read and replace one field of a stored record by tag path, without the
// record's schema; every other byte, unknown fields included, is kept.
func ExampleSet() {
	rec, _ := tlv.Marshal(&Msg{UID: 1, Text: "a", Inner: &Inner{ID: 5, Name: "old"}})

	f, _ := tlv.Get(rec, []uint32{5, 2})
	fmt.Printf("%s\n", f.Value)

	rec, _ = tlv.Set(rec, []uint32{5, 2}, tlvwire.AppendStringField(nil, 2, "new"))
	var m Msg
	_ = tlv.Unmarshal(rec, &m)
	fmt.Println(m.Inner.Name)
	// Output:
	// old
	// new
}

func ExampleWalk() {
	b, _ := tlv.Marshal(&Msg{UID: 1, Inner: &Inner{ID: 2}})
	_ = tlv.Walk(b, func(path []uint32, f tlvwire.Field) error {
		fmt.Println(path, f.Type)
		return nil
	})
	// Output:
	// [1] varint
	// [2] bytes
	// [5] message
	// [5 1] varint
	// [5 2] bytes
}
