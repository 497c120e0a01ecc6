package x

import _ "example.com/fake/tlv"
