package decstate

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAllocSizeIsTheSizeClass checks the fast table of AllocSize against a plain search of
// the size classes, for every size up to 40 000 bytes, with and without pointers.
func TestAllocSizeIsTheSizeClass(t *testing.T) {
	for n := 1; n <= 40000; n++ {
		for _, pointers := range []bool{false, true} {
			m := n
			if pointers && n > MallocHeaderMin && n <= 32<<10-MallocHeader {
				m += MallocHeader
			}
			want := (n + 8<<10 - 1) &^ (8<<10 - 1)
			if n <= 32<<10-MallocHeader {
				for _, c := range sizeClasses {
					if int(c) >= m {
						want = int(c)
						break
					}
				}
			}
			if got := AllocSize(n, pointers); got != want {
				t.Fatalf("AllocSize(%d, %v) = %d, want %d", n, pointers, got, want)
			}
		}
	}
	require.Zero(t, AllocSize(0, true))
}
