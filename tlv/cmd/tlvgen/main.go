// Command tlvgen turns an XML protocol description into Go types with
// reflection-free tlv marshal and unmarshal methods, and checks that a new
// version of a schema stays compatible with an old one.
//
//	go run github.com/bulwark-go/bulwark/tlv/cmd/tlvgen -o out.go schema.xml
//	go run github.com/bulwark-go/bulwark/tlv/cmd/tlvgen check old.xml new.xml
//
// Generation writes the file named by -o (standard output without it). check
// prints every difference and exits 1 when one breaks compatibility, 0 when
// the new schema is compatible, and 2 on a usage or schema error. The XML
// format is described in the package documentation of
// github.com/bulwark-go/bulwark/tlv/internal/tlvgen and in tlv's doc.go.
package main

import (
	"os"

	"github.com/bulwark-go/bulwark/tlv/internal/tlvgen"
)

func main() {
	os.Exit(tlvgen.Main(os.Args[1:], os.Stdout, os.Stderr))
}
