package tlv

import _ "example.com/fake/internal/clock"
