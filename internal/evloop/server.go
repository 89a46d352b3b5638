package evloop

import (
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// ErrUnsupported is returned by New where event loops are not available:
// on systems other than Linux, and in builds with the noevloop tag.
var ErrUnsupported = errors.New("evloop: event loops need linux (and a build without the noevloop tag)")

// Stats counts what the loops did since New, and what they hold now.
type Stats struct {
	// Handoffs is the number of connections given to the full server.
	Handoffs uint64
	// Blocked is the number of requests answered on a goroutine.
	Blocked uint64
	// Open is the number of connections the loops hold now.
	Open int64
	// Paused is the number of times a connection stopped being read
	// because its unsent answers were over Config.MaxOutputBytes.
	Paused uint64
	// OutPeak is the most unsent answer bytes one connection has held
	// after a write (a high-water mark since New).
	OutPeak int64
	// NotHTTP is the number of connections answered Config.BadRequest
	// and closed: bytes that cannot start an HTTP request.
	NotHTTP uint64
}

// Verdict is a Handler's answer to a request.
type Verdict int

const (
	// Done: the answer was appended to dst.
	Done Verdict = iota
	// Block: answering needs to wait (for the network, say); the loop
	// calls ServeBlocking on a goroutine. Nothing was appended.
	Block
	// Handoff: the loop does not serve this connection any more; it goes,
	// with this request unanswered, to the Handoffs listener. Nothing was
	// appended.
	Handoff
)

// Handler answers loop requests. Its methods are called concurrently.
type Handler interface {
	// Serve appends the whole answer to req (status line, headers, body)
	// to dst, without blocking, or declines with Block or Handoff.
	Serve(dst []byte, req *Request) ([]byte, Verdict)
	// ServeBlocking appends the whole answer to req to dst. It runs on its
	// own goroutine and may block; req is valid until it returns.
	ServeBlocking(dst []byte, req *Request) []byte
}

// Taker is an optional Handler method. When a Handler has it, a loop
// peeks at each new connection's first request without taking its bytes,
// and a connection whose first request is not taken goes to the Handoffs
// listener as the plain connection (no replay wrapper), so the full server
// serves it exactly as if it had accepted it. Takes must not block and
// must agree with Serve: for a request it takes, Serve must not answer
// Handoff only because of what Takes looked at.
type Taker interface {
	Takes(req *Request) bool
}

// Config tunes a Server. The zero value is usable.
type Config struct {
	// Loops is the number of event loops. Default GOMAXPROCS.
	Loops int
	// ReadTimeout bounds the time from a request's first byte to its last
	// header byte. Default 10s.
	ReadTimeout time.Duration
	// WriteTimeout bounds how long an answer may wait for the client to
	// take it. Default 10s.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection with no request in
	// progress. Default 60s.
	IdleTimeout time.Duration
	// MaxHeaderBytes: a request head longer than this is handed off (the
	// full server then answers it, or refuses it). Default 8 KiB.
	MaxHeaderBytes int
	// MaxOutputBytes bounds a connection's answers not yet taken by the
	// client: past it the loop stops reading and parsing the connection's
	// pipelined requests until the client has taken them. One answer may
	// go past it. Default 64 KiB.
	MaxOutputBytes int
	// BadRequest is the whole answer (status line, headers, body) written
	// before closing a connection whose next bytes cannot start an HTTP
	// request (a TLS handshake on the plain port, binary garbage): it is
	// refused at once, not after ReadTimeout. Default a bodiless 400.
	BadRequest string
	// Limits bounds the open connections (nil: no bound). A new connection
	// from a peer over its share is closed at once; one over the total
	// makes the loop it lands on close its longest-idle connections (no
	// request in progress, nothing to send), or the next loop when it has
	// none, or Limits.OnFull when no loop has one, and is closed at once
	// when none of them can make room.
	Limits *Limits
}

func (c *Config) defaults() {
	if c.Loops <= 0 {
		c.Loops = runtime.GOMAXPROCS(0)
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 10 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 60 * time.Second
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = 8 << 10
	}
	if c.MaxOutputBytes <= 0 {
		c.MaxOutputBytes = 64 << 10
	}
	if len(c.BadRequest) == 0 {
		c.BadRequest = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	}
}

// handoffListener is a net.Listener fed by the loops with the connections
// they give up.
type handoffListener struct {
	addr   atomic.Pointer[net.Addr] // the public listener's, once serving
	conns  chan net.Conn
	done   chan struct{}
	closer sync.Once
}

func newHandoffListener() *handoffListener {
	return &handoffListener{conns: make(chan net.Conn, 1024), done: make(chan struct{})}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.closer.Do(func() { close(l.done) })
	for { // close what was given but never accepted
		select {
		case c := <-l.conns:
			c.Close()
		default:
			return nil
		}
	}
}

func (l *handoffListener) Addr() net.Addr {
	if a := l.addr.Load(); a != nil {
		return *a
	}
	return &net.TCPAddr{}
}

// give passes c to the full server, or closes it when the listener is
// closed.
func (l *handoffListener) give(c net.Conn) {
	select {
	case <-l.done:
		c.Close()
		return
	default:
	}
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

// prefixConn replays the bytes a loop had read before the handoff.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
