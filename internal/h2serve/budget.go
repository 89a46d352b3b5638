package h2serve

import "time"

// budget counts events in fixed windows: spend reports false once more than
// max happened within the current window. Not safe for concurrent use (one
// connection's goroutine, under its lock).
type budget struct {
	max   int
	used  int
	start time.Time
}

func (b *budget) spend(now time.Time, window time.Duration) bool {
	if now.Sub(b.start) >= window {
		b.start, b.used = now, 0
	}
	b.used++
	return b.used <= b.max
}
