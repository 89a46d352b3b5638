//go:build race

package gateway

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// pooled scratch memory is sometimes allocated afresh.
const raceEnabled = true
