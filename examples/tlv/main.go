// Command tlv shows forward compatibility with the tlv codec: a newer
// binary writes a profile with fields an older binary does not know; the
// older binary reads it, edits the one field it knows, and writes it back;
// the newer binary reads that and finds its fields intact, byte for byte.
// It also prints the schema-free Dump of the record and reads one nested
// field by tag path, as a storage layer would without the schema.
//
//	go run ./examples/tlv [-short]
//
// It exits 1 if any check fails.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"

	"github.com/bulwark-go/bulwark/tlv"
)

// ProfileV1 is the record as the old binary knows it. Its tlv.Unknown field
// keeps whatever newer versions added, so writing it back loses nothing.
type ProfileV1 struct {
	UID     uint64 `tlv:"1"`
	Name    string `tlv:"2,omitempty"`
	Unknown tlv.Unknown
}

// Settings is a nested message added in version 2.
type Settings struct {
	Lang   string `tlv:"1,omitempty"`
	Notify bool   `tlv:"2,omitempty"`
}

// ProfileV2 is the record as the new binary knows it.
type ProfileV2 struct {
	UID      uint64           `tlv:"1"`
	Name     string           `tlv:"2,omitempty"`
	Avatar   []byte           `tlv:"3,omitempty"`
	Tags     []string         `tlv:"4"`
	Settings *Settings        `tlv:"5"`
	Scores   map[string]int64 `tlv:"6"`
	Unknown  tlv.Unknown
}

func main() {
	short := flag.Bool("short", false, "run quickly (the example is always fast; accepted for CI)")
	flag.Parse()
	_ = short
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("OK: old and new versions interoperate; unknown fields survived byte for byte")
}

func run(out *os.File) error {
	v2 := &ProfileV2{
		UID:      1234567890123,
		Name:     "Li Lei",
		Avatar:   []byte{0x89, 'P', 'N', 'G'},
		Tags:     []string{"beta", "cn-south"},
		Settings: &Settings{Lang: "zh-CN", Notify: true},
		Scores:   map[string]int64{"weekly": 42, "total": -7},
	}
	newBytes, err := tlv.Marshal(v2)
	if err != nil {
		return fmt.Errorf("new binary encodes: %w", err)
	}
	fmt.Fprintf(out, "new binary wrote %d bytes:\n", len(newBytes))
	if err := tlv.Dump(out, newBytes); err != nil {
		return fmt.Errorf("dump: %w", err)
	}

	// 1. The old binary reads the newer record: it knows tags 1 and 2.
	var old ProfileV1
	if err := tlv.Unmarshal(newBytes, &old); err != nil {
		return fmt.Errorf("old binary decodes the new record: %w", err)
	}
	fmt.Fprintf(out, "\nold binary sees UID=%d Name=%q and keeps %d bytes it does not understand\n",
		old.UID, old.Name, len(old.Unknown))
	if old.UID != v2.UID || old.Name != v2.Name || len(old.Unknown) == 0 {
		return errors.New("old binary misread the known fields or dropped the unknown ones")
	}

	// 2. Written back untouched, the record is identical to what the new binary wrote.
	same, err := tlv.Marshal(&old)
	if err != nil {
		return fmt.Errorf("old binary re-encodes: %w", err)
	}
	if !bytes.Equal(same, newBytes) {
		return fmt.Errorf("new → old → bytes changed the record:\n %x\n %x", newBytes, same)
	}
	fmt.Fprintln(out, "old binary re-encoded the record byte for byte")

	// 3. The old binary edits the field it knows and writes the record back.
	old.Name = "Han Meimei"
	edited, err := tlv.Marshal(&old)
	if err != nil {
		return fmt.Errorf("old binary encodes its edit: %w", err)
	}

	// 4. The new binary reads the edit: its own fields are all still there.
	var back ProfileV2
	if err := tlv.Unmarshal(edited, &back); err != nil {
		return fmt.Errorf("new binary decodes the edited record: %w", err)
	}
	want := *v2
	want.Name = "Han Meimei"
	if !reflect.DeepEqual(&back, &want) {
		return fmt.Errorf("new → old → new lost data:\n got  %+v\n want %+v", back, want)
	}
	fmt.Fprintf(out, "new binary reads the old binary's edit: Name=%q, Tags=%v, Settings=%+v, Scores=%v\n",
		back.Name, back.Tags, *back.Settings, back.Scores)

	// 5. A storage layer reads one nested field without any schema.
	f, err := tlv.Get(edited, []uint32{5, 1})
	if err != nil {
		return fmt.Errorf("get Settings.Lang by tag path: %w", err)
	}
	if string(f.Value) != "zh-CN" {
		return fmt.Errorf("tag path 5.1 = %q, want zh-CN", f.Value)
	}
	fmt.Fprintf(out, "schema-free read of tag path 5.1 (Settings.Lang): %q\n", f.Value)

	// 6. The other direction: a record from the old binary decodes in the new one.
	oldOnly, err := tlv.Marshal(&ProfileV1{UID: 7, Name: "old"})
	if err != nil {
		return err
	}
	var fresh ProfileV2
	if err := tlv.Unmarshal(oldOnly, &fresh); err != nil || fresh.UID != 7 || fresh.Name != "old" || fresh.Settings != nil {
		return fmt.Errorf("new binary reading an old record: %+v, %v", fresh, err)
	}
	fmt.Fprintln(out, "new binary reads an old record: the new fields are simply absent")

	// 7. A reader that wants no surprises: strict mode on a type without an
	// Unknown field rejects what it does not know.
	type strictV1 struct {
		UID  uint64 `tlv:"1"`
		Name string `tlv:"2,omitempty"`
	}
	err = tlv.DecodeOptions{Strict: true}.Unmarshal(newBytes, &strictV1{})
	if !errors.Is(err, tlv.ErrUnknownField) {
		return fmt.Errorf("strict decode of unknown fields: got %v, want ErrUnknownField", err)
	}
	fmt.Fprintf(out, "strict reader without an Unknown field: %v\n", err)
	return nil
}
