package tlv

import (
	_ "example.com/fake/internal/clock"
	_ "example.com/fake/overload/sub"
	_ "fmt"
)
