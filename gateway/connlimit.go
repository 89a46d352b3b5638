package gateway

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgegate/edgegate/internal/evloop"
)

// fdReserve is how many of the open-file limit the default
// max_connections leaves for everything but public connections: S3
// connections, the admin listener's, the GeoIP and rules files, the file
// watcher, the event loops' epoll and eventfd descriptors, logs.
func fdReserve(limit int) int { return max(128, limit/8) }

// validateConns checks max_connections and max_connections_per_ip.
func (c Config) validateConns() error {
	var errs []error
	if c.MaxConnections < 0 {
		errs = append(errs, fmt.Errorf("config: max_connections must be 0 (from the open-file limit) or positive, not %d", c.MaxConnections))
	}
	if c.MaxConnectionsPerIP == 0 || c.MaxConnectionsPerIP < -1 {
		errs = append(errs, fmt.Errorf("config: max_connections_per_ip must be -1 (no limit) or positive, not %d", c.MaxConnectionsPerIP))
	}
	return errors.Join(errs...)
}

// openFileLimit returns the process's RLIMIT_NOFILE soft limit (Go raises
// it to the hard limit at start-up on Linux).
func openFileLimit() (int, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("gateway: open-file limit: %w", err)
	}
	return int(min(uint64(rl.Cur), 1<<30)), nil
}

// maxConnections returns the public connection limit: cfg's, or the
// open-file limit less fdReserve. It fails when the open-file limit
// leaves no room, or less than the reserve next to cfg's.
func maxConnections(cfg Config, fileLimit int) (int, error) {
	room := fileLimit - fdReserve(fileLimit)
	switch {
	case cfg.MaxConnections == 0 && room < 1:
		return 0, fmt.Errorf("gateway: the open-file limit %d leaves no room for connections next to the %d kept for S3 and the admin listener; raise it (ulimit -n)", fileLimit, fdReserve(fileLimit))
	case cfg.MaxConnections == 0:
		return room, nil
	case cfg.MaxConnections > room:
		return 0, fmt.Errorf("gateway: max_connections %d leaves less than %d of the open-file limit %d for S3 and the admin listener; raise the limit (ulimit -n) or lower max_connections", cfg.MaxConnections, fdReserve(fileLimit), fileLimit)
	}
	return cfg.MaxConnections, nil
}

// connLimit bounds the public listener's connections on both transports
// (evloop.Limits counts them): the event loops take a slot for each
// connection they accept, the limitListener for each one fasthttp accepts
// without loops, and a connection fasthttp serves (accepted by it, or
// handed off by the loops) gives its slot back when fasthttp closes it
// (connState). It also knows which of fasthttp's connections are idle, so
// that the listener can close the longest-idle ones to make room. It is
// safe for concurrent use.
type connLimit struct {
	lim   *evloop.Limits
	total int

	// What the TLS and QUIC listeners' admissions decided; the plain
	// listener's are the rest of lim's counts (the event loops count
	// theirs there only). tlsAddr is set by markTLS before serving.
	tlsAddr   string
	tls, quic admissions
	plainMu   sync.Mutex
	plainSeen admissionCounts // plain as last reported: never reported lower

	mu      sync.Mutex
	idle    map[net.Conn]int64    // fasthttp's idle connections: since when, unix ns
	closing map[net.Conn]struct{} // closed by evictIdle, not yet seen closed by fasthttp
}

// newConnLimit bounds connections to total, perIP from one address (-1:
// no limit) unless exempt.
func newConnLimit(total, perIP int, exempt func(netip.Addr) bool) *connLimit {
	cl := &connLimit{lim: evloop.NewLimits(total, max(perIP, 0), exempt), total: total,
		idle: make(map[net.Conn]int64), closing: make(map[net.Conn]struct{})}
	cl.lim.OnFull = cl.evictIdle // the loops full of busy connections: fasthttp's idle ones go
	return cl
}

// The listener label of the connection metrics.
const (
	listenerPlain = "plain"
	listenerTLS   = "tls"
	listenerQUIC  = "quic"
)

// admissions counts what one listener's admission decided.
type admissions struct{ accepted, refusedPeer, refusedFull atomic.Uint64 }

func (a *admissions) load() admissionCounts {
	return admissionCounts{a.accepted.Load(), a.refusedPeer.Load(), a.refusedFull.Load()}
}

type admissionCounts struct{ accepted, refusedPeer, refusedFull uint64 }

// markTLS names the TLS listener, so that listener counts what it takes
// in as tls. Call it before serving.
func (cl *connLimit) markTLS(ln net.Listener) { cl.tlsAddr = ln.Addr().String() }

// byListener returns what each public listener's admission decided: tls
// and quic as counted, plain the rest of lim's counts. Each is counted
// after lim counted it, and read before lim is, so the rest is never
// short; plain is never reported lower than before (a connection counted
// by lim between the reads is plain's until the next scrape).
func (cl *connLimit) byListener() map[string]admissionCounts {
	tls, quic := cl.tls.load(), cl.quic.load()
	st := cl.lim.Stats()
	rest := func(total uint64, parts ...uint64) uint64 {
		for _, p := range parts {
			total -= min(p, total)
		}
		return total
	}
	cl.plainMu.Lock()
	p := &cl.plainSeen
	p.accepted = max(p.accepted, rest(st.Accepted, tls.accepted, quic.accepted))
	p.refusedPeer = max(p.refusedPeer, rest(st.RefusedPeer, tls.refusedPeer, quic.refusedPeer))
	p.refusedFull = max(p.refusedFull, rest(st.RefusedFull, tls.refusedFull, quic.refusedFull))
	plain := *p
	cl.plainMu.Unlock()
	return map[string]admissionCounts{listenerPlain: plain, listenerTLS: tls, listenerQUIC: quic}
}

// connState is fasthttp's ConnState hook. A new connection counts as
// idle until its first request starts, as on the loops.
func (cl *connLimit) connState(c net.Conn, st fasthttp.ConnState) {
	switch st {
	case fasthttp.StateNew, fasthttp.StateIdle:
		now := time.Now().UnixNano()
		cl.mu.Lock()
		cl.idle[c] = now
		cl.mu.Unlock()
	case fasthttp.StateActive:
		cl.mu.Lock()
		delete(cl.idle, c)
		cl.mu.Unlock()
	case fasthttp.StateClosed, fasthttp.StateHijacked:
		cl.mu.Lock()
		delete(cl.idle, c)
		delete(cl.closing, c)
		cl.mu.Unlock()
		cl.lim.Release(remoteAddr(c))
	}
}

// evictIdle closes fasthttp's longest-idle connections, as the loops
// drain theirs, and returns how many. Their slots come back when
// fasthttp sees them closed.
func (cl *connLimit) evictIdle() int {
	type idleConn struct {
		c     net.Conn
		since int64
	}
	cl.mu.Lock()
	idle := make([]idleConn, 0, len(cl.idle))
	for c, since := range cl.idle {
		idle = append(idle, idleConn{c, since})
	}
	slices.SortFunc(idle, func(a, b idleConn) int { return cmp.Compare(a.since, b.since) })
	idle = idle[:min(max(len(idle)/8, 1), 32, len(idle))]
	for _, ic := range idle {
		delete(cl.idle, ic.c) // not closed twice
		cl.closing[ic.c] = struct{}{}
	}
	cl.mu.Unlock()
	for _, ic := range idle {
		ic.c.Close()
	}
	cl.lim.Evicted(len(idle))
	return len(idle)
}

// full reports whether a new connection needs room: the open ones,
// less those evictIdle closed that fasthttp has not yet seen closed, are
// over the total.
func (cl *connLimit) full() bool {
	if !cl.lim.Over() {
		return false
	}
	cl.mu.Lock()
	closing := len(cl.closing)
	cl.mu.Unlock()
	return cl.lim.Open()-int64(closing) > int64(cl.total)
}

// listener wraps the public listener for fasthttp when it serves without
// event loops.
func (cl *connLimit) listener(ln net.Listener) net.Listener {
	ll := &limitListener{Listener: ln, cl: cl, counts: new(admissions)}
	if cl.tlsAddr != "" && ln.Addr().String() == cl.tlsAddr {
		ll.counts = &cl.tls
	}
	return ll
}

// limitListener admits connections within the limits: one from an
// address over its share is closed at once; one over the total closes
// the longest-idle connections first, or is closed when none is idle.
type limitListener struct {
	net.Listener
	cl     *connLimit
	counts *admissions // the TLS listener's; for plain, unread (the rest of cl.lim's counts)
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		peer := remoteAddr(c)
		if !l.cl.lim.Acquire(peer) {
			l.counts.refusedPeer.Add(1) // after cl.lim counted it (byListener)
			c.Close()
			continue
		}
		if l.cl.full() && l.cl.evictIdle() == 0 {
			l.cl.lim.RefusedFull(peer)
			l.counts.refusedFull.Add(1)
			c.Close()
			continue
		}
		l.counts.accepted.Add(1)
		return c, nil
	}
}

// remoteAddr returns c's peer address (zero when not TCP).
func remoteAddr(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// connectionLimit returns the public connection limit for cfg under this
// process's open-file limit.
func connectionLimit(cfg Config) (int, error) {
	n, err := openFileLimit()
	if err != nil {
		return 0, err
	}
	return maxConnections(cfg, n)
}
