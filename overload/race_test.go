//go:build race

package overload

// raceEnabled: the race detector slows the virtual-time simulations about
// tenfold; the generative tests draw fewer points under it (the full
// draws run without -race).
const raceEnabled = true
