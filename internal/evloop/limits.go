package evloop

import (
	"net/netip"
	"sync"
	"sync/atomic"
)

// Limits counts a listener's open connections, in all and per peer
// address, across the event loops and the full server behind them. It is
// safe for concurrent use; a nil *Limits admits everything.
//
// Whoever accepts a connection takes its slot with Acquire (the loops'
// Serve, or a listener in front of the full server); a connection the
// loops hand off keeps its slot, which the full server gives back with
// Release when it closes the connection (fasthttp: ConnState StateClosed).
type Limits struct {
	// OnFull, when set before the Limits are used, closes idle
	// connections the loops do not hold (the full server's) to make room
	// for a new one, and returns how many it closed. The loops call it on
	// their own thread when none of them has an idle connection to close.
	OnFull func() int

	max, perPeer int
	exempt       func(netip.Addr) bool
	open         atomic.Int64

	acquired, evicted, refusedFull, refusedPeer atomic.Uint64

	mu    sync.Mutex
	peers map[netip.Addr]int // open connections by peer; none at 0
}

// LimitStats counts what Limits refused and closed since NewLimits.
type LimitStats struct {
	// Open is the number of connections holding a slot now.
	Open int64
	// Accepted is the number of connections that kept the slot they took.
	Accepted uint64
	// Evicted is the number of idle connections closed to make room for
	// new ones.
	Evicted uint64
	// RefusedFull is the number of new connections closed at once because
	// the total was reached and no idle connection could make room.
	RefusedFull uint64
	// RefusedPeer is the number of new connections closed at once because
	// their peer address held its share.
	RefusedPeer uint64
}

// NewLimits returns limits of max connections in all (0: none) and
// perPeer from one address (0: none). Peers for which exempt (may be nil)
// is true, trusted proxies say, are not counted per address.
func NewLimits(max, perPeer int, exempt func(netip.Addr) bool) *Limits {
	return &Limits{max: max, perPeer: perPeer, exempt: exempt, peers: make(map[netip.Addr]int)}
}

// Acquire takes a slot for a new connection from peer, or reports false
// when peer already holds its share. It never refuses for the total: the
// caller sees Over, then makes room or gives the slot back with Release.
func (l *Limits) Acquire(peer netip.Addr) bool {
	if l == nil {
		return true
	}
	if l.perPeer > 0 && l.counted(peer) {
		l.mu.Lock()
		n := l.peers[peer]
		if n >= l.perPeer {
			l.mu.Unlock()
			l.refusedPeer.Add(1)
			return false
		}
		l.peers[peer] = n + 1
		l.mu.Unlock()
	}
	l.open.Add(1)
	l.acquired.Add(1)
	return true
}

// Release gives back the slot of a connection from peer.
func (l *Limits) Release(peer netip.Addr) {
	if l == nil {
		return
	}
	l.open.Add(-1)
	if l.perPeer > 0 && l.counted(peer) {
		l.mu.Lock()
		if n := l.peers[peer] - 1; n > 0 {
			l.peers[peer] = n
		} else {
			delete(l.peers, peer)
		}
		l.mu.Unlock()
	}
}

// Over reports whether more connections are open than the total allows.
func (l *Limits) Over() bool {
	return l != nil && l.max > 0 && l.open.Load() > int64(l.max)
}

// Open returns the number of connections holding a slot.
func (l *Limits) Open() int64 {
	if l == nil {
		return 0
	}
	return l.open.Load()
}

// Stats returns the counters (zero for a nil *Limits).
func (l *Limits) Stats() LimitStats {
	if l == nil {
		return LimitStats{}
	}
	full := l.refusedFull.Load()
	return LimitStats{Open: l.open.Load(), Accepted: l.acquired.Load() - full, Evicted: l.evicted.Load(),
		RefusedFull: full, RefusedPeer: l.refusedPeer.Load()}
}

// Evicted counts n idle connections closed to make room.
func (l *Limits) Evicted(n int) {
	if l != nil {
		l.evicted.Add(uint64(n))
	}
}

// RefusedFull counts a new connection closed because the total was
// reached with no idle connection to close; it also gives back its slot.
func (l *Limits) RefusedFull(peer netip.Addr) {
	if l != nil {
		l.refusedFull.Add(1)
		l.Release(peer)
	}
}

func (l *Limits) counted(peer netip.Addr) bool {
	return peer.IsValid() && (l.exempt == nil || !l.exempt(peer))
}

// drainCount is how many idle connections to close to make room: an
// eighth of the idle ones, at least 1 and at most 32, as nginx drains its
// reusable connections (so a burst of new ones does not scan every time).
func drainCount(idle int) int {
	return min(max(idle/8, 1), 32, idle)
}
