//go:build race

package quorumtest_test

const raceEnabled = true
