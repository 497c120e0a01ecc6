// Package gen holds the tlvgen-generated codec of the benchmark messages
// (schema.xml), committed; CI does not regenerate it.
package gen

//go:generate go run github.com/bulwark-go/bulwark/tlv/cmd/tlvgen -o gen.go schema.xml
