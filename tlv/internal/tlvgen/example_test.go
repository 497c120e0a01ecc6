package tlvgen_test

import (
	"fmt"
	"strings"

	"github.com/bulwark-go/bulwark/tlv/internal/tlvgen"
)

func ExampleCheck() {
	v1, _ := tlvgen.Parse([]byte(`<protocol package="chat">
  <message name="Profile">
    <field tag="1" name="UID" type="uint64"/>
    <field tag="2" name="Score" type="int64"/>
    <field tag="3" name="Nick" type="string"/>
  </message>
</protocol>`))
	v2, _ := tlvgen.Parse([]byte(`<protocol package="chat">
  <message name="Profile">
    <field tag="1" name="UID" type="uint64"/>
    <field tag="2" name="Score" type="int32"/>
    <reserved tag="3" name="Nick"/>
    <field tag="4" name="Avatar" type="bytes"/>
  </message>
</protocol>`))
	changes := tlvgen.Check(v1, v2)
	for _, c := range changes {
		fmt.Println(c)
	}
	fmt.Println("breaking:", tlvgen.Breaking(changes))
	// Output:
	// INCOMPATIBLE: message Profile, tag 2: field Score: narrowed from int64 to int32: larger values written by the old version no longer fit (narrowed)
	// ok: message Profile, tag 3: field Nick deleted and its tag reserved (deleted)
	// ok: message Profile, tag 4: field Avatar bytes added (added)
	// breaking: true
}

func ExampleGenerate() {
	s, err := tlvgen.Parse([]byte(`<protocol package="chat">
  <message name="Inner">
    <field tag="1" name="ID" type="int64"/>
  </message>
</protocol>`))
	if err != nil {
		fmt.Println(err)
		return
	}
	code, err := tlvgen.Generate(s, tlvgen.Options{Source: "chat.xml"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, line := range strings.Split(string(code), "\n") {
		if strings.HasPrefix(line, "func ") || strings.HasPrefix(line, "type ") {
			fmt.Println(line)
		}
	}
	// Output:
	// type Inner struct {
	// func (x *Inner) SizeTLV() int {
	// func (x *Inner) AppendTLV(b []byte) ([]byte, error) {
	// func (x *Inner) UnmarshalTLV(data []byte, d *tlvwire.DecodeState) error {
}

func ExampleParse_errors() {
	_, err := tlvgen.Parse([]byte(`<protocol package="chat">
  <message name="Msg">
    <field tag="1" name="A" type="int8"/>
    <field tag="1" name="B" type="string"/>
  </message>
</protocol>`))
	fmt.Println(err)
	// Output:
	// tlvgen: invalid schema:
	// 	line 3: message Msg: field A: unknown type "int8" (want bool, int32, int64, uint32, uint64, float32, float64, string, bytes, time, duration, map or a message name)
	// 	line 4: message Msg: tag 1 is used twice (first on line 3)
}
