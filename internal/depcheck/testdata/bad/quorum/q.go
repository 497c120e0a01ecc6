package quorum

import _ "example.com/fake/tlv"
