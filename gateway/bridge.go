package gateway

// The net/http adapter: HTTP/3 hands its requests to the same fasthttp
// handler HTTP/1.1 uses (as h2.go's Slow does for HTTP/2), on a pooled
// RequestCtx, so that every transport gives the same answers by
// construction (the route core and the image path stay the one source of
// truth; only the bytes on the wire differ).

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/edgegate/edgegate/accesslog"
)

// bridgeCtx is one pooled request: the RequestCtx the handler sees and the
// connection it believes it came on.
type bridgeCtx struct {
	ctx  fasthttp.RequestCtx
	conn bridgeConn
}

// bridgeConn is the connection a bridged request reports: its peer's
// address and, for IsTLS, the TLS state. Nothing reads from or writes to
// it.
type bridgeConn struct {
	net.Conn // nil: any other use panics, which a test would show
	remote   net.TCPAddr
	local    net.TCPAddr
	state    *tls.ConnectionState
	proto    accesslog.Proto // for the access log
}

func (c *bridgeConn) RemoteAddr() net.Addr { return &c.remote }
func (c *bridgeConn) LocalAddr() net.Addr  { return &c.local }

// Handshake and ConnectionState make fasthttp's IsTLS true for requests
// that came over TLS (HTTP/2 and HTTP/3 always do).
func (c *bridgeConn) Handshake() error { return nil }
func (c *bridgeConn) ConnectionState() tls.ConnectionState {
	if c.state == nil {
		return tls.ConnectionState{}
	}
	return *c.state
}

// httpHandler adapts h (the public fasthttp handler) to net/http. The
// request's method, target, Host and headers are copied in (the body is
// not: no public endpoint reads one); the answer's status, headers and
// body are copied out, with the Server name and Content-Length fasthttp
// would have sent. extra, when set, adds headers to every answer
// (Alt-Svc). Safe for concurrent use.
func httpHandler(h fasthttp.RequestHandler, name string, extra http.Header, log *slog.Logger) http.Handler {
	var pool sync.Pool
	logger := fasthttpLogger{log}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := pool.Get().(*bridgeCtx)
		if b == nil {
			b = new(bridgeCtx)
		}
		defer func() {
			b.ctx.Request.Reset()
			b.ctx.Response.Reset()
			b.conn.state = nil
			pool.Put(b)
		}()
		req := &b.ctx.Request
		req.Header.SetMethod(r.Method)
		req.SetRequestURI(r.RequestURI)
		req.Header.SetHost(r.Host)
		for k, vs := range r.Header {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
			b.conn.remote = *net.TCPAddrFromAddrPort(ap)
		} else {
			b.conn.remote = net.TCPAddr{}
		}
		b.conn.state = r.TLS
		b.conn.proto = accesslog.H1
		switch r.ProtoMajor {
		case 3:
			b.conn.proto = accesslog.H3
		case 2:
			b.conn.proto = accesslog.H2
		}
		b.ctx.Init2(&b.conn, logger, false)
		b.ctx.Response.Header.SetNoDefaultContentType(true) // as the fasthttp servers
		h(&b.ctx)

		resp := &b.ctx.Response
		body := resp.Body()
		hdr := w.Header()
		for k, v := range resp.Header.All() {
			switch string(k) {
			case "Content-Length", "Connection", "Transfer-Encoding", "Keep-Alive":
				continue // set below, or hop-by-hop (not allowed in HTTP/2)
			}
			hdr.Add(string(k), string(v))
		}
		if len(resp.Header.ContentType()) == 0 {
			hdr["Content-Type"] = nil // none, as on HTTP/1.1: net/http would sniff one
		}
		if len(resp.Header.Server()) == 0 && name != "" {
			hdr.Set("Server", name)
		}
		for k, vs := range extra {
			hdr[k] = vs
		}
		hdr.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(resp.StatusCode())
		if r.Method != http.MethodHead {
			w.Write(body)
		}
	})
}

// fasthttpLogger sends fasthttp's log lines (from ctx.Logger) to slog.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	if l.log != nil {
		l.log.Warn("fasthttp: " + fmt.Sprintf(format, args...))
	}
}
