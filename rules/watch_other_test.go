//go:build !linux

package rules

import (
	"testing"
	"time"
)

// waitWatching gives Watch time to register its watches on dir; on Linux
// it checks for them instead.
func waitWatching(t *testing.T, dir string) {
	time.Sleep(50 * time.Millisecond)
}
