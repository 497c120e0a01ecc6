package tlvgen

import (
	"go/format"
	"testing"
)

// FuzzParse feeds arbitrary documents to the schema parser. Parse must never
// panic; a schema it accepts must generate gofmt-clean Go code and compare
// as unchanged with itself.
func FuzzParse(f *testing.F) {
	f.Add([]byte(issueSchema))
	f.Add([]byte(`<protocol package="p"><message name="M"><field tag="1" name="A" type="map" key="int32" value="M"/><reserved tag="2"/></message></protocol>`))
	f.Add([]byte(`<protocol package="p"><message name="M"><field tag="1" name="A" type="M" repeated="true"/></message></protocol>`))
	f.Add([]byte(`<?xml version="1.0"?><!DOCTYPE x><protocol package="p"><![CDATA[x]]></protocol>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			if s != nil {
				t.Fatal("schema returned with an error")
			}
			return
		}
		if changes := Check(s, s); len(changes) != 0 {
			t.Fatalf("schema differs from itself: %v", changes)
		}
		code, err := Generate(s, Options{Source: "fuzz.xml"})
		if err != nil {
			t.Fatalf("valid schema failed to generate: %v", err)
		}
		if _, err := format.Source(code); err != nil {
			t.Fatalf("generated code does not parse: %v", err)
		}
	})
}
