package gateway

import (
	"sync"
	"sync/atomic"
	"time"
)

// coarseClock is a wall clock read from memory, refreshed every resolution
// by one goroutine: the route path asks for the time several times per
// request (cache expiry, signing window, max-age) and none of those needs
// more than millisecond precision. Latency metrics use the real clock.
type coarseClock struct {
	ns       atomic.Int64
	stop     chan struct{}
	stopOnce sync.Once
}

func newCoarseClock(resolution time.Duration) *coarseClock {
	c := &coarseClock{stop: make(chan struct{})}
	c.ns.Store(time.Now().UnixNano())
	go func() {
		t := time.NewTicker(resolution)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				c.ns.Store(now.UnixNano())
			case <-c.stop:
				return
			}
		}
	}()
	return c
}

// Now returns the time as of the last tick (at most one resolution old).
func (c *coarseClock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// Stop ends the refreshing goroutine. Now keeps answering the last time.
func (c *coarseClock) Stop() { c.stopOnce.Do(func() { close(c.stop) }) }
