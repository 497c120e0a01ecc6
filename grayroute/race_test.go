//go:build race

package grayroute

// raceOn scales the generative tests down under the race detector, which
// slows pure computation tenfold; the full sizes run without -race.
const raceOn = true
