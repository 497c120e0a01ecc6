//go:build race

package main

// raceEnabled: the race detector makes every request several times more
// expensive, so TestScenarioShort halves the front's capacity under it.
const raceEnabled = true
