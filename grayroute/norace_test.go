//go:build !race

package grayroute

const raceOn = false
