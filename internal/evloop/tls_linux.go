//go:build linux && !noevloop

package evloop

import (
	"crypto/tls"
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// TLSConn is a server-side TLS connection that a loop can take over once
// its handshake is done (Server.ServeTLS). Until then, and again after a
// loop hands it off, it is an ordinary *tls.Conn over its socket; on a
// loop, crypto/tls reads the socket with the loop's non-blocking system
// calls (a would-block is a temporary error, which crypto/tls keeps no
// record of) and its writes go to the connection's output, which the loop
// writes as it writes plain answers. So an HTTPS keep-alive request costs
// the loop what a plain one does, plus the cipher: one read and one write.
type TLSConn struct {
	*tls.Conn
	t *transport
}

// NewTLSConn wraps c (a TCP connection just accepted) as the server side
// of a TLS connection with conf. Handshake it before ServeTLS.
func NewTLSConn(c net.Conn, conf *tls.Config) *TLSConn {
	t := &transport{Conn: c, fd: -1}
	return &TLSConn{Conn: tls.Server(t, conf), t: t}
}

// transport is what crypto/tls reads and writes: the socket through the Go
// runtime (fd < 0), or on a loop the raw descriptor and the connection's
// output.
type transport struct {
	net.Conn
	fd  int
	out *[]byte
	// drained is set when a read on the loop found the socket emptied (a
	// short read, or would-block): further reads would-block without a
	// system call until the loop sees the socket readable again. So a
	// request costs one read, as on a plain connection, however crypto/tls
	// splits its reads.
	drained bool
}

// errWouldBlock is what transport.Read returns on a loop when the socket
// has nothing to read: temporary, so crypto/tls lets the next Read go on.
var errWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "evloop: would block" }
func (wouldBlock) Timeout() bool   { return false }
func (wouldBlock) Temporary() bool { return true }

func (t *transport) Read(p []byte) (int, error) {
	if t.fd < 0 {
		return t.Conn.Read(p)
	}
	if t.drained {
		return 0, errWouldBlock
	}
	for {
		n, err := rawRead(t.fd, p)
		switch {
		case n > 0:
			t.drained = n < len(p)
			return n, nil
		case err == nil:
			return 0, io.EOF
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			t.drained = true
			return 0, errWouldBlock
		}
		return 0, err
	}
}

func (t *transport) Write(p []byte) (int, error) {
	if t.fd < 0 {
		return t.Conn.Write(p)
	}
	*t.out = append(*t.out, p...)
	return len(p), nil
}

// ServeTLS gives c, whose handshake succeeded, to a loop. c must hold a
// slot in Config.Limits (taken when it was accepted); the loop gives it
// back when it closes c. A connection the loop does not serve goes, with
// its unanswered plaintext replayed, to TLSHandoffs as a TLS connection.
// When c cannot be taken off the Go runtime's poller, it goes to
// TLSHandoffs at once.
func (s *Server) ServeTLS(c *TLSConn) {
	fd, peer, ok := detach(c.t.Conn)
	if ok && s.stopping.Load() { // the runtime's copy is closed: make one again
		ok = false
		if c.t.reattach(fd) != nil {
			unix.Close(fd)
			s.cfg.Limits.Release(peer)
			return
		}
	}
	if !ok {
		s.handoffs.Add(1)
		s.tlsHandoff.give(c.Conn)
		return
	}
	c.t.fd = fd
	l := s.loops[int(s.nextTLS.Add(1)%uint64(len(s.loops)))]
	l.add(pendingConn{fd: fd, peer: peer, tls: c})
}

// TLSHandoffs is Handoffs for the connections given to ServeTLS: serve it
// with a full HTTP server; its connections are *tls.Conn (or replay their
// unanswered plaintext first, with the same ConnectionState).
func (s *Server) TLSHandoffs() net.Listener { return s.tlsHandoff }

// reattach puts the socket fd back under the Go runtime, for a full
// server to use.
func (t *transport) reattach(fd int) error {
	f := os.NewFile(uintptr(fd), "")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return err
	}
	t.Conn, t.fd, t.out = nc, -1, nil
	return nil
}

// readTLS reads the plaintext the connection has into p: until the socket
// would block (err nil), p is full (err nil, n == len(p)), or the input
// ends (io.EOF, or crypto/tls's error after its alert was queued).
func (c *conn) readTLS(p []byte) (n int, err error) {
	for n < len(p) {
		m, err := c.tls.Conn.Read(p[n:])
		n += m
		if err != nil {
			if err == errWouldBlock {
				return n, nil
			}
			return n, err
		}
	}
	return n, nil
}

// seal encrypts the plaintext answers made since the last seal into
// c.out.
func (c *conn) seal() error {
	if len(c.plain) == 0 {
		return nil
	}
	_, err := c.tls.Conn.Write(c.plain)
	c.plain = c.plain[:0]
	if cap(c.plain) > 64<<10 {
		c.plain = nil
	}
	return err
}

// tlsPrefixConn replays the plaintext a loop had read before a hand-off,
// and keeps the connection's TLS state visible (fasthttp's IsTLS).
type tlsPrefixConn struct {
	prefixConn
	tc *tls.Conn
}

func (c *tlsPrefixConn) Handshake() error                     { return c.tc.Handshake() }
func (c *tlsPrefixConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// giveAwayTLS is giveAway's second half for a TLS connection, on its own
// goroutine: the socket back under the runtime, the output already
// encrypted written, then the connection to TLSHandoffs.
func (s *Server) giveAwayTLS(c *TLSConn, fd int, prefix, pending []byte) {
	defer s.giveWG.Done()
	if err := c.t.reattach(fd); err != nil {
		unix.Close(fd)
		return
	}
	nc := c.t.Conn
	if len(pending) > 0 {
		nc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
		if _, err := nc.Write(pending); err != nil {
			nc.Close()
			return
		}
		nc.SetWriteDeadline(time.Time{})
	}
	if len(prefix) == 0 {
		s.tlsHandoff.give(c.Conn)
		return
	}
	s.tlsHandoff.give(&tlsPrefixConn{prefixConn: prefixConn{Conn: c.Conn, prefix: prefix}, tc: c.Conn})
}
