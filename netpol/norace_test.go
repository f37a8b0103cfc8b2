//go:build !race

package netpol

// raceEnabled: the race detector slows everything, so timing targets only log.
const raceEnabled = false
