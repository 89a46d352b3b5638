package accesslog

import (
	"math/rand/v2"
	"time"
)

// Sampled reports whether an answer is logged: always when its status is
// 400 or more (errors: what a client was refused, and why, is what an
// operator looks for) or it took at least Slow, else with probability 1
// in Sample. It takes no lock and allocates nothing; false on a nil
// Logger.
func (l *Logger) Sampled(status int, took time.Duration) bool {
	if l == nil {
		return false
	}
	if l.sample <= 1 || status >= 400 || (l.slow > 0 && took >= l.slow) {
		return true
	}
	return rand.Uint64N(l.sample) == 0 // per-thread generator: no contention between loops
}
