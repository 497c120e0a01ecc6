package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRenderMedianAndUnits(t *testing.T) {
	in := `goos: linux
cpu: Test CPU
BenchmarkEncode/tlv-2   	 1000	  100.0 ns/op	  16 B/op	  1 allocs/op	 120 bytes
BenchmarkEncode/tlv-2   	 1000	  300.0 ns/op	  16 B/op	  1 allocs/op	 120 bytes
BenchmarkEncode/tlv-2   	 1000	  200.0 ns/op	  16 B/op	  1 allocs/op	 120 bytes
BenchmarkEncode/msgpack-2	 1000	  950.5 ns/op	 512 B/op	  3 allocs/op	 150 bytes
BenchmarkShed-2         	 5000	  12.25 ns/op	   0 B/op	  0 allocs/op
PASS
`
	var out bytes.Buffer
	require.NoError(t, render(strings.NewReader(in), &out))
	got := out.String()
	require.Contains(t, got, "goos: linux · cpu: Test CPU")
	require.Contains(t, got, "### Encode\n\n| case | ns/op | B/op | allocs/op | bytes |")
	require.Contains(t, got, "| tlv | 200 | 16 | 1 | 120 |", "median of 100, 300, 200 is 200")
	require.Contains(t, got, "| msgpack | 950 | 512 | 3 | 150 |", "three significant figures are enough above 100")
	require.Contains(t, got, "### Shed\n\n| case | ns/op | B/op | allocs/op |\n|---|---:|---:|---:|\n| Shed | 12.25 | 0 | 0 |")
}

func TestRenderIgnoresNoise(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, render(strings.NewReader("PASS\nok x 1s\nBenchmarkBroken notanumber\n"), &out))
	require.Empty(t, out.String())
}
