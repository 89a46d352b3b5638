package gateway

import "testing"

// checkAllocs fails t when allocs (testing.AllocsPerRun's figure) is over
// want. Under -race it only logs: the race detector makes sync.Pool drop
// items at random, so pooled scratch memory is allocated afresh a varying
// number of times and no bound holds (a loaded CI run once counted 3
// against an allowance of 2). scripts/test.sh runs every test named
// *Alloc* again without -race, where the bound is exact.
func checkAllocs(t *testing.T, allocs, want float64, what string) {
	t.Helper()
	if raceEnabled {
		t.Logf("%s: %v allocations (race detector on: not checked)", what, allocs)
		return
	}
	if allocs > want {
		t.Errorf("%s: %v allocations, want ≤ %v", what, allocs, want)
	}
}
