package tlvwire

import "bytes"

// CompareKeyString orders string map keys as canonical form requires: bytewise by their
// encoding (varint length, then bytes). Keys of different lengths are therefore ordered by
// the bytes of their length varints, not by length: a 256-byte key (length 80 02) sorts
// before a 129-byte key (length 81 01), and both after any key shorter than 128 bytes.
func CompareKeyString(a, b string) int {
	if len(a) != len(b) {
		return CompareKeyUint(uint64(len(a)), uint64(len(b)))
	}
	if a == b {
		return 0
	}
	if a < b {
		return -1
	}
	return 1
}

// CompareKeyUint orders unsigned (and bool) map keys by their varint encoding.
func CompareKeyUint(a, b uint64) int {
	if a == b {
		return 0
	}
	if a < 0x80 && b < 0x80 { // one-byte varints compare as numbers
		if a < b {
			return -1
		}
		return 1
	}
	var x, y [MaxVarintLen]byte
	return bytes.Compare(AppendVarint(x[:0], a), AppendVarint(y[:0], b))
}

// CompareKeyInt orders signed map keys by the varint encoding of their zigzag form.
func CompareKeyInt(a, b int64) int { return CompareKeyUint(Zigzag(a), Zigzag(b)) }
