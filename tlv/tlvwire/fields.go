package tlvwire

import (
	"cmp"
	"slices"
)

// SortFields returns b, a concatenation of complete fields, if its fields are in
// ascending tag order, and otherwise a copy with the fields stably sorted by tag.
// Malformed trailing bytes are kept at the end unchanged. tlv.Unknown.Sorted is
// SortFields.
func SortFields(b []byte) []byte {
	n, sorted := fieldOrder(b)
	if sorted {
		return b
	}
	// 4 bytes of index per field (each field is at least 2 bytes); tags are re-read from
	// the data while sorting, ties broken by position so the sort is stable.
	starts := make([]uint32, 0, n)
	off := 0
	for off < len(b) {
		_, _, m := ConsumeField(b[off:])
		if m < 0 {
			break
		}
		starts = append(starts, uint32(off))
		off += m
	}
	tagAt := func(i uint32) uint32 {
		t, _, _ := ConsumeTag(b[i:])
		return t
	}
	slices.SortFunc(starts, func(x, y uint32) int {
		if c := cmp.Compare(tagAt(x), tagAt(y)); c != 0 {
			return c
		}
		return cmp.Compare(x, y)
	})
	out := make([]byte, 0, len(b))
	for _, st := range starts {
		_, _, m := ConsumeField(b[st:])
		out = append(out, b[st:int(st)+m]...)
	}
	return append(out, b[off:]...)
}

// fieldOrder returns the number of well-formed leading fields of b and whether their
// tags ascend.
func fieldOrder(b []byte) (int, bool) {
	var prev uint32
	sorted := true
	n := 0
	for ; len(b) > 0; n++ {
		tag, _, m := ConsumeField(b)
		if m < 0 {
			break
		}
		if tag < prev {
			sorted = false
		}
		prev = tag
		b = b[m:]
	}
	return n, sorted
}
