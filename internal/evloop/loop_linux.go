//go:build linux && !noevloop

package evloop

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Server runs the event loops. It is safe for concurrent use.
type Server struct {
	h       Handler
	cfg     Config
	loops   []*loop
	handoff *handoffListener
	// tlsHandoff takes the TLS connections the loops give up (ServeTLS).
	tlsHandoff *handoffListener
	nextTLS    atomic.Uint64 // ServeTLS's round robin
	ln         atomic.Pointer[net.Listener]

	stopping atomic.Bool
	force    atomic.Bool
	loopsWG  sync.WaitGroup
	giveWG   sync.WaitGroup
	bufs     sync.Pool // *[]byte for blocking answers

	handoffs, blocked, paused atomic.Uint64
	notHTTP                   atomic.Uint64 // Stats.NotHTTP
	open                      atomic.Int64  // connections the loops hold (Stats.Open)
	outPeak                   atomic.Int64  // Stats.OutPeak
}

// New starts cfg.Loops event loops for h. Call Serve to feed them, and
// Shutdown to stop them.
func New(h Handler, cfg Config) (*Server, error) {
	cfg.defaults()
	s := &Server{h: h, cfg: cfg, handoff: newHandoffListener(), tlsHandoff: newHandoffListener()}
	s.bufs.New = func() any { b := make([]byte, 0, 1024); return &b }
	for range cfg.Loops {
		l, err := newLoop(s)
		if err != nil {
			for _, l := range s.loops {
				l.closeFDs()
			}
			return nil, err
		}
		s.loops = append(s.loops, l)
	}
	for i, l := range s.loops {
		l.next = s.loops[(i+1)%len(s.loops)]
		s.loopsWG.Add(1)
		go l.run()
	}
	return s, nil
}

// Handoffs is the listener of the connections the loops give up, with the
// bytes already read replayed; serve it with a full HTTP server. The loops
// never close it: the server serving it does.
func (s *Server) Handoffs() net.Listener { return s.handoff }

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{Handoffs: s.handoffs.Load(), Blocked: s.blocked.Load(), Open: s.open.Load(),
		Paused: s.paused.Load(), OutPeak: s.outPeak.Load(), NotHTTP: s.notHTTP.Load()}
}

// Serve accepts connections from ln and spreads them over the loops until
// ln is closed. A connection the loops cannot own (not TCP) is handed off
// at once. Each takes a slot in Config.Limits first: one from a peer over
// its share is closed at once. It returns nil after Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	a := ln.Addr()
	s.handoff.addr.Store(&a)
	s.ln.Store(&ln)
	if s.stopping.Load() {
		ln.Close()
		return nil
	}
	var next int
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.stopping.Load() || errors.Is(err, net.ErrClosed) {
				if s.stopping.Load() {
					return nil
				}
				return err
			}
			// Out of file descriptors and the like: wait, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if !s.cfg.Limits.Acquire(peerOf(c)) {
			c.Close()
			continue
		}
		fd, peer, ok := detach(c)
		if !ok { // its slot goes with it, as with every hand-off
			s.handoffs.Add(1)
			s.handoff.give(c)
			continue
		}
		s.loops[next%len(s.loops)].add(pendingConn{fd: fd, peer: peer})
		next++
	}
}

// peerOf returns c's peer address, or the zero Addr when it is not TCP.
func peerOf(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// detach takes c's socket out of the Go runtime's poller: it returns a
// duplicate descriptor and closes c.
func detach(c net.Conn) (fd int, peer netip.Addr, ok bool) {
	ta, isTCP := c.RemoteAddr().(*net.TCPAddr)
	sc, isSys := c.(syscall.Conn)
	if !isTCP || !isSys {
		return 0, peer, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, peer, false
	}
	fd = -1
	cerr := rc.Control(func(s uintptr) {
		fd, err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	})
	if cerr != nil || err != nil || fd < 0 {
		return 0, peer, false
	}
	c.Close()
	return fd, ta.AddrPort().Addr().Unmap(), true
}

// Shutdown stops accepting, closes idle connections, waits for requests
// in flight to be answered and their connections closed, and returns. When
// ctx ends first it closes every connection and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopping.Store(true)
	if ln := s.ln.Load(); ln != nil {
		(*ln).Close()
	}
	for _, l := range s.loops {
		l.wake()
	}
	done := make(chan struct{})
	go func() {
		s.loopsWG.Wait()
		s.giveWG.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.force.Store(true)
		for _, l := range s.loops {
			l.wake()
		}
		return ctx.Err()
	}
}

type conn struct {
	fd     int
	peer   netip.Addr
	in     []byte // unanswered input
	out    []byte // unwritten output from outOff
	outOff int
	req    Request
	// tls is set for a connection from ServeTLS: in and req then hold
	// plaintext, out holds records, and answers are made in plain, then
	// sealed into out.
	tls   *TLSConn
	plain []byte
	// scan is how far the partial request in in was searched.
	scan headScan
	// blockLen is the length of the request being answered off the loop.
	blockLen int
	events   uint32
	last     int64 // last read or write, unix ns
	started  int64 // first byte of the partial request in in, unix ns
	looked   bool  // the first request was peeked at
	busy     bool  // a blocking answer is being made
	paused   bool  // in holds requests left for when out is taken
	closing  bool  // close once out is written
	closed   bool
}

type pendingConn struct {
	fd   int
	peer netip.Addr
	tls  *TLSConn // from ServeTLS: handshaken, holding a Limits slot already
	// passed is how many loops passed it on, having no idle connection
	// to close to make room for it.
	passed int
}

type completion struct {
	c   *conn
	out []byte
	buf *[]byte
}

type loop struct {
	s      *Server
	next   *loop // the loop a new connection goes on to when this one is full
	ep     int
	efd    int
	conns  []*conn // by fd
	nconns int

	mu    sync.Mutex
	adds  []pendingConn
	dones []completion
	// exited is set, under mu, when run stops: ep and efd are then closed
	// (and their numbers free for reuse), so nothing may write to efd.
	exited bool

	inflight  int
	parses    uint64  // parseRequest calls in process, for tests
	idle      []*conn // drainIdle's scratch
	rbuf      []byte
	evs       []unix.EpollEvent
	now       int64
	lastSweep int64
	stopping  bool
}

const (
	evRead  = unix.EPOLLIN | unix.EPOLLRDHUP
	evWrite = unix.EPOLLOUT
)

func newLoop(s *Server) (*loop, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(ep)
		return nil, os.NewSyscallError("eventfd", err)
	}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, efd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd)}); err != nil {
		unix.Close(ep)
		unix.Close(efd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	return &loop{s: s, ep: ep, efd: efd, rbuf: make([]byte, 64<<10), evs: make([]unix.EpollEvent, 256)}, nil
}

// wait returns the ready events, blocking for at most timeout when there
// are none (n == 0 after the timeout).
func (l *loop) wait(timeout time.Duration) (n int, err error) {
	// Under load there is always something ready: the first poll, a raw
	// system call that does not block and skips the scheduler's
	// bookkeeping, finds it. (Parking in the runtime's netpoller instead
	// of blocking in epoll_wait was tried and was slower on the GeoIP
	// path: BENCHMARKS.md, route path.)
	n, err = epollWaitNow(l.ep, l.evs)
	if n > 0 || (err != nil && err != unix.EINTR) {
		return n, err
	}
	return unix.EpollWait(l.ep, l.evs, int(timeout/time.Millisecond))
}

func (l *loop) closeFDs() {
	unix.Close(l.ep)
	unix.Close(l.efd)
}

var one = [8]byte{1}

func (l *loop) wake() {
	l.mu.Lock()
	l.wakeLocked()
	l.mu.Unlock()
}

// wakeLocked wakes the loop up; l.mu is held.
func (l *loop) wakeLocked() {
	if !l.exited {
		unix.Write(l.efd, one[:])
	}
}

func (l *loop) add(p pendingConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.exited { // stopped meanwhile: nobody would ever close fd
		unix.Close(p.fd)
		l.s.cfg.Limits.Release(p.peer)
		return
	}
	l.adds = append(l.adds, p)
	l.wakeLocked()
}

func (l *loop) complete(c *conn, out []byte, buf *[]byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dones = append(l.dones, completion{c, out, buf})
	l.wakeLocked()
}

// exit marks the loop stopped and reports whether it did. Unless force,
// it does not while connections or answers wait to be taken in; with
// force, connections still waiting are closed.
func (l *loop) exit(force bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !force && len(l.adds)+len(l.dones) > 0 {
		return false
	}
	l.exited = true
	for _, p := range l.adds {
		unix.Close(p.fd)
		l.s.cfg.Limits.Release(p.peer)
	}
	l.adds = nil
	return true
}

func (l *loop) run() {
	// A loop keeps its own thread. Unlocked, a loop that slept in
	// epoll_wait long enough for the runtime to hand its P to other work
	// came back on whichever thread was free, and the two loops moved over
	// three threads, each move a wake-up of another thread: a worse p99 at
	// half of peak, with no gain in peak throughput (BENCHMARKS.md, "Loops
	// keep their threads").
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer l.s.loopsWG.Done()
	defer l.closeFDs()
	var adds []pendingConn
	var dones []completion
	var lastYield int64
	for {
		timeout := time.Second
		if l.stopping {
			timeout = 50 * time.Millisecond
		}
		n, err := l.wait(timeout)
		if err != nil && err != unix.EINTR {
			l.exit(true)
			l.closeAll()
			return
		}
		l.now = time.Now().UnixNano()
		if l.now-lastYield > int64(2*time.Millisecond) {
			// A busy loop never parks, so the runtime would preempt it by
			// signal every 10ms (and its timers and GC would wait);
			// yielding now and then is cheaper.
			lastYield = l.now
			runtime.Gosched()
		}
		for i := range n {
			ev := &l.evs[i]
			fd := int(ev.Fd)
			if fd == l.efd {
				var b [8]byte
				unix.Read(l.efd, b[:])
				l.mu.Lock()
				adds, l.adds = l.adds, adds[:0]
				dones, l.dones = l.dones, dones[:0]
				l.mu.Unlock()
				for _, p := range adds {
					l.open(p)
				}
				for _, d := range dones {
					l.finish(d)
				}
				clear(dones) // drop references to answers and conns
				continue
			}
			if fd >= len(l.conns) || l.conns[fd] == nil {
				continue
			}
			c := l.conns[fd]
			if ev.Events&evWrite != 0 {
				l.flush(c)
				if c.paused && !c.closed && len(c.out) == 0 {
					c.paused = false
					l.process(c, c.in)
					l.resumeTLS(c)
				}
				if c.closed || ev.Events&(unix.EPOLLHUP|unix.EPOLLERR) == 0 {
					continue
				}
			}
			if ev.Events&(evRead|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				l.readable(c)
			}
		}
		if !l.stopping && l.s.stopping.Load() {
			l.stopping = true
		}
		if l.stopping || l.now-l.lastSweep >= int64(time.Second) {
			l.sweep()
			if l.stopping && l.nconns == 0 && l.inflight == 0 && l.exit(false) {
				return
			}
		}
	}
}

func (l *loop) open(p pendingConn) {
	if l.stopping {
		unix.Close(p.fd)
		l.s.cfg.Limits.Release(p.peer)
		return
	}
	if p.tls == nil && l.s.cfg.Limits.Over() && l.drainIdle() == 0 {
		if p.passed+1 < len(l.s.loops) { // the next loop may have idle ones
			p.passed++
			l.next.add(p)
			return
		}
		if f := l.s.cfg.Limits.OnFull; f == nil || f() == 0 {
			l.s.cfg.Limits.RefusedFull(p.peer)
			unix.Close(p.fd)
			return
		}
	}
	c := &conn{fd: p.fd, peer: p.peer, last: l.now, events: evRead, tls: p.tls}
	if c.tls != nil {
		c.tls.t.out = &c.out
		c.looked = true // no peeking under TLS: its plaintext is read, then replayed if need be
	}
	if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, p.fd, &unix.EpollEvent{Events: evRead, Fd: int32(p.fd)}); err != nil {
		unix.Close(p.fd)
		l.s.cfg.Limits.Release(p.peer)
		return
	}
	for p.fd >= len(l.conns) {
		l.conns = append(l.conns, make([]*conn, len(l.conns)+64)...)
	}
	l.conns[p.fd] = c
	l.nconns++
	l.s.open.Add(1)
	if c.tls != nil {
		// The handshake may have read the first request with the client's
		// Finished: the socket would not say so.
		l.readable(c)
	}
}

func (l *loop) close(c *conn) {
	if c.closed {
		return
	}
	c.closed = true
	unix.Close(c.fd) // also leaves the epoll set: nothing else holds the socket
	l.conns[c.fd] = nil
	l.nconns--
	l.s.open.Add(-1)
	l.s.cfg.Limits.Release(c.peer)
}

// drainIdle closes the loop's longest-idle connections (no request in
// progress, nothing to send: new ones that have sent nothing count) to
// make room for a new one, a batch of drainCount at a time, and returns
// how many it closed.
func (l *loop) drainIdle() int {
	idle := l.idle[:0]
	for _, c := range l.conns {
		if c != nil && !c.busy && !c.closing && len(c.in) == 0 && len(c.out) == 0 {
			idle = append(idle, c)
		}
	}
	n := drainCount(len(idle))
	if n > 0 {
		slices.SortFunc(idle, func(a, b *conn) int { return cmp.Compare(a.last, b.last) })
		for _, c := range idle[:n] {
			l.close(c)
		}
		l.s.cfg.Limits.Evicted(n)
	}
	clear(idle)
	l.idle = idle[:0]
	return n
}

func (l *loop) closeAll() {
	for _, c := range l.conns {
		if c != nil {
			l.close(c)
		}
	}
}

// readable reads what the socket has and answers every whole request.
func (l *loop) readable(c *conn) {
	if c.busy { // only hang-ups and errors are watched meanwhile
		l.close(c)
		return
	}
	if !c.looked {
		// A new connection: look at its first request before taking any
		// bytes. One the loop will not answer goes to the full server
		// untouched, as the plain *net.TCPConn it expects (fasthttp then
		// writes large answers with one writev instead of copying them
		// through its buffer).
		c.looked = true
		if l.firstNotOurs(c) {
			l.giveAway(c, nil)
			return
		}
	}
	if c.tls != nil {
		c.tls.t.drained = false // the socket has something (or hung up)
		l.readableTLS(c)
		return
	}
	n, err := rawRead(c.fd, l.rbuf)
	if n > 0 {
		c.last = l.now
		if len(c.in) == 0 {
			l.process(c, l.rbuf[:n])
		} else {
			c.in = append(c.in, l.rbuf[:n]...)
			l.process(c, c.in)
		}
		return
	}
	if err == unix.EAGAIN || err == unix.EINTR {
		return
	}
	// End of input (or a reset): answer what is owed, then close.
	c.in, c.scan = c.in[:0], headScan{}
	c.closing = true
	l.flush(c)
}

// readableTLS is readable for a TLS connection: the plaintext of every
// record the socket has, then what readable does with bytes read.
func (l *loop) readableTLS(c *conn) {
	for {
		n, err := c.readTLS(l.rbuf)
		if n > 0 {
			c.last = l.now
			if len(c.in) == 0 {
				l.process(c, l.rbuf[:n])
			} else {
				c.in = append(c.in, l.rbuf[:n]...)
				l.process(c, c.in)
			}
		}
		if c.closed {
			return
		}
		if err != nil {
			// End of input, or a bad record (crypto/tls queued its alert):
			// answer what is owed, then close.
			c.closing = true
			if !c.busy {
				c.in, c.scan = c.in[:0], headScan{}
				l.flush(c)
			}
			return
		}
		if n < len(l.rbuf) || c.busy || c.paused || c.closing {
			return
		}
		// The buffer filled: crypto/tls may hold more that it already read.
	}
}

// firstNotOurs peeks at c's first bytes and reports whether they are a
// whole request the loop does not take (by parse, or Taker).
func (l *loop) firstNotOurs(c *conn) bool {
	n, err := rawPeek(c.fd, l.rbuf)
	if n <= 0 || err != nil {
		return false
	}
	_, res := parseRequest(&c.req, l.rbuf[:n], l.s.cfg.MaxHeaderBytes)
	switch res {
	case parseNotOurs:
		return true
	case parseOK:
		if t, ok := l.s.h.(Taker); ok {
			return !t.Takes(&c.req)
		}
	}
	return false
}

// process answers the whole requests at the start of data and keeps the
// rest in c.in. data may alias l.rbuf or c.in.
func (l *loop) process(c *conn, data []byte) {
	max := l.s.cfg.MaxHeaderBytes
	answered := false
	dst := &c.out // where answers go: plaintext under TLS, sealed by flush
	if c.tls != nil {
		dst = &c.plain
	}
	for len(data) > 0 && !c.closing {
		if len(c.out)-c.outOff+len(c.plain) > l.s.cfg.MaxOutputBytes {
			// Answer no more until the client takes some: a client that
			// pipelines and never reads would otherwise pile up answers.
			if l.flush(c); c.closed {
				return
			}
			if len(c.out)-c.outOff+len(c.plain) > l.s.cfg.MaxOutputBytes {
				c.paused = true
				l.s.paused.Add(1)
				break
			}
		}
		if !c.scan.ready(data, max) { // still no end of the head
			c.scan.from = len(data)
			break
		}
		l.parses++
		n, res := parseRequest(&c.req, data, max)
		if res == parseIncomplete {
			c.scan = headScan{from: len(data), lf: bytes.IndexByte(data, '\n') >= 0}
			break
		}
		if res == parseBad { // not HTTP: say so and close, at once
			l.s.notHTTP.Add(1)
			*dst = append(*dst, l.s.cfg.BadRequest...)
			c.closing = true
			break
		}
		c.scan = headScan{}
		if res == parseNotOurs {
			l.giveAway(c, data)
			return
		}
		c.req.Peer, c.req.TLS = c.peer, c.tls != nil
		if l.stopping {
			c.req.KeepAlive = false
		}
		out, v := l.s.h.Serve(*dst, &c.req)
		switch v {
		case Done:
			*dst = out
			data = data[n:]
			answered = true
			if !c.req.KeepAlive {
				c.closing = true
			}
			continue
		case Block:
			c.in = append(c.in[:0], data...) // own the bytes for the goroutine
			parseRequest(&c.req, c.in, max)
			c.req.Peer, c.req.TLS = c.peer, c.tls != nil
			if l.stopping {
				c.req.KeepAlive = false
			}
			c.blockLen = n
			c.busy = true
			c.started = 0
			l.inflight++
			l.s.blocked.Add(1)
			go l.serveBlocking(c)
			l.flush(c)
			return
		default:
			l.giveAway(c, data)
			return
		}
	}
	if c.closing {
		data = data[:0]
	}
	switch {
	case len(data) == 0:
		c.started = 0
	case answered || c.started == 0: // a new partial request
		c.started = l.now
	}
	c.in = append(c.in[:0], data...)
	l.flush(c)
}

func (l *loop) serveBlocking(c *conn) {
	buf := l.s.bufs.Get().(*[]byte)
	out := l.s.h.ServeBlocking((*buf)[:0], &c.req)
	l.complete(c, out, buf)
}

// finish sends a blocking answer and resumes the connection.
func (l *loop) finish(d completion) {
	l.inflight--
	c := d.c
	if !c.closed {
		c.busy = false
		if c.tls != nil {
			c.plain = append(c.plain, d.out...)
		} else {
			c.out = append(c.out, d.out...)
		}
		c.last = l.now
		if !c.req.KeepAlive {
			c.closing = true
		}
	}
	if cap(d.out) <= 64<<10 {
		*d.buf = d.out[:0]
		l.s.bufs.Put(d.buf)
	}
	if c.closed {
		return
	}
	rest := c.in[c.blockLen:]
	l.process(c, rest)
	l.resumeTLS(c)
}

// resumeTLS reads a TLS connection that is being read again after a pause
// or a blocking answer: crypto/tls may hold records it read from the
// socket before, which epoll would never report.
func (l *loop) resumeTLS(c *conn) {
	if c.tls != nil && !c.closed && !c.busy && !c.paused && !c.closing {
		l.readableTLS(c)
	}
}

// flush writes what it can of c.out and sets what the loop waits for on c.
func (l *loop) flush(c *conn) {
	if c.tls != nil && c.seal() != nil {
		l.close(c)
		return
	}
	for c.outOff < len(c.out) {
		n, err := rawWrite(c.fd, c.out[c.outOff:])
		if n > 0 {
			c.outOff += n
			c.last = l.now
			continue
		}
		if err == unix.EAGAIN {
			break
		}
		if err == unix.EINTR {
			continue
		}
		l.close(c)
		return
	}
	if pending := int64(len(c.out) - c.outOff); pending > 0 {
		for peak := l.s.outPeak.Load(); pending > peak && !l.s.outPeak.CompareAndSwap(peak, pending); {
			peak = l.s.outPeak.Load()
		}
	}
	if c.outOff == len(c.out) {
		c.out, c.outOff = c.out[:0], 0
		if cap(c.out) > 64<<10 {
			c.out = nil
		}
		if c.closing && !c.busy {
			l.close(c)
			return
		}
	}
	var want uint32
	switch {
	case len(c.out) > 0 || c.paused:
		want = evWrite // and read nothing until the client takes it
	case c.busy:
		want = 0
	default:
		want = evRead
	}
	if want != c.events {
		c.events = want
		if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: want, Fd: int32(c.fd)}); err != nil {
			l.close(c)
		}
	}
}

// giveAway hands c to the full server with data (its unanswered input)
// replayed and its unwritten output written first.
func (l *loop) giveAway(c *conn, data []byte) {
	if c.tls != nil && c.seal() != nil {
		l.close(c)
		return
	}
	var prefix, pending []byte
	if len(data) > 0 {
		prefix = append(prefix, data...)
	}
	if c.outOff < len(c.out) {
		pending = append(pending, c.out[c.outOff:]...)
	}
	fd := c.fd
	unix.EpollCtl(l.ep, unix.EPOLL_CTL_DEL, fd, nil)
	c.closed = true
	l.conns[fd] = nil
	l.nconns--
	l.s.open.Add(-1)
	l.s.handoffs.Add(1)
	l.s.giveWG.Add(1)
	if c.tls != nil {
		go l.s.giveAwayTLS(c.tls, fd, prefix, pending)
		return
	}
	wt := l.s.cfg.WriteTimeout
	go func() {
		defer l.s.giveWG.Done()
		f := os.NewFile(uintptr(fd), "")
		nc, err := net.FileConn(f)
		f.Close()
		if err != nil {
			return
		}
		if len(pending) > 0 {
			nc.SetWriteDeadline(time.Now().Add(wt))
			if _, err := nc.Write(pending); err != nil {
				nc.Close()
				return
			}
			nc.SetWriteDeadline(time.Time{})
		}
		if len(prefix) == 0 { // nothing was taken: the connection as it is
			l.s.handoff.give(nc)
			return
		}
		l.s.handoff.give(&prefixConn{Conn: nc, prefix: prefix})
	}()
}

// sweep closes idle and slow connections, and idle ones at shutdown.
func (l *loop) sweep() {
	l.lastSweep = l.now
	cfg := &l.s.cfg
	force := l.s.force.Load()
	for _, c := range l.conns {
		if c == nil {
			continue
		}
		switch {
		case force:
			l.close(c)
		case c.busy:
		case len(c.out) > 0 || c.paused:
			if l.now-c.last > int64(cfg.WriteTimeout) {
				l.close(c)
			} else if l.stopping {
				c.closing = true
			}
		case len(c.in) > 0:
			if l.now-c.started > int64(cfg.ReadTimeout) {
				l.close(c)
			}
		default:
			if l.stopping || l.now-c.last > int64(cfg.IdleTimeout) {
				l.close(c)
			}
		}
	}
}

// The sockets are non-blocking, so their reads and writes never wait: make
// them raw system calls, without entersyscall/exitsyscall.

func rawRead(fd int, p []byte) (int, error) {
	r, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func rawPeek(fd int, p []byte) (int, error) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), syscall.MSG_PEEK, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func rawWrite(fd int, p []byte) (int, error) {
	r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func epollWaitNow(ep int, evs []unix.EpollEvent) (int, error) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(ep), uintptr(unsafe.Pointer(unsafe.SliceData(evs))), uintptr(len(evs)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}
