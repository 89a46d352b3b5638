package gateway

// The fasthttp adapter: connections the event loops hand off (anything
// but a plain /r/ request), or every connection when the loops are off.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/valyala/fasthttp"
)

var (
	prefixRoute   = []byte("/r/")
	strJSON       = []byte("application/json")
	strJSONFormat = []byte("json")
	strAccept     = []byte("Accept")
	strFormat     = []byte("format")
	strRegion     = []byte("region")
)

// Canonical response header names, set without normalisation.
var (
	hdrXEdgeRules   = []byte("X-Edge-Rules")
	hdrCacheControl = []byte("Cache-Control")
	hdrVary         = []byte("Vary")
	hdrLocation     = []byte("Location")
)

// Handler returns the public request handler.
func (s *Server) Handler() fasthttp.RequestHandler {
	return s.observed(func(ctx *fasthttp.RequestCtx, f *reqFacts) string {
		path := rawPath(ctx.RequestURI())
		switch {
		case bytes.HasPrefix(path, prefixRoute):
			s.serveRoute(ctx, path[len(prefixRoute):], f)
			return "route"
		case bytes.HasPrefix(path, prefixImage):
			s.serveImage(ctx, path, path[len(prefixImage):], f)
			return "image"
		case s.imgproxy != nil && bytes.HasPrefix(path, prefixImgproxy):
			s.serveImgproxy(ctx, path, f)
			return "imgproxy"
		}
		writeError(ctx, errorf(http.StatusNotFound, "not found; try /r/{key}?region=NAME or /img/{preset}/{key}"))
		return "other"
	})
}

// observed wraps a fasthttp handler that answers public requests with
// what every such answer gets: the request id and the access log's facts
// (f, nil when both are off), the request metrics under the route the
// handler returns, and the access-log line.
func (s *Server) observed(h func(ctx *fasthttp.RequestCtx, f *reqFacts) (route string)) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		start := time.Now()
		var f *reqFacts
		if s.ids != nil {
			sc := s.scratch.Get().(*scratch)
			defer s.scratch.Put(sc)
			f = &sc.facts
			f.begin(s, peerAddr(ctx), &ctx.Request.Header)
		}
		route := h(ctx, f)
		took := time.Since(start)
		s.metrics.observe(route, ctx.Response.StatusCode(), took)
		if f != nil {
			s.finishFasthttp(ctx, f, route, start, took)
		}
	}
}

// originForm returns an absolute-form target's path and query
// ("http://host/r/k?x" -> "/r/k?x"), which RFC 9112 has servers accept
// and route on; any other target as it is.
func originForm(uri []byte) []byte {
	if len(uri) == 0 || uri[0] == '/' {
		return uri
	}
	i := bytes.Index(uri, schemeSep)
	if i < 0 || !(bytes.EqualFold(uri[:i], strHTTP) || bytes.EqualFold(uri[:i], strHTTPS)) {
		return uri
	}
	rest := uri[i+len(schemeSep):]
	if j := bytes.IndexAny(rest, "/?#"); j >= 0 {
		if rest[j] == '/' {
			return rest[j:]
		}
		return append([]byte("/"), rest[j:]...)
	}
	return []byte("/")
}

var schemeSep, strHTTP, strHTTPS = []byte("://"), []byte("http"), []byte("https")

// rawPath returns the request-target's path exactly as sent, without the
// query: fasthttp's parsed Path() is normalised ("a/../b" -> "b").
func rawPath(uri []byte) []byte {
	uri = originForm(uri)
	if i := bytes.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	if i := bytes.IndexByte(uri, '#'); i >= 0 {
		uri = uri[:i]
	}
	return uri
}

// serveRoute answers /r/ on fasthttp: connections the event loops handed
// off, or every connection when the loops are off.
// f, when set, gives S3 calls their context and takes the decision.
func (s *Server) serveRoute(ctx *fasthttp.RequestCtx, rawKey []byte, f *reqFacts) {
	sc := s.scratch.Get().(*scratch)
	defer s.scratch.Put(sc)
	sc.hdrs.load(&ctx.Request.Header)
	defer sc.hdrs.reset(nil) // keep no request memory in the pool (a copy in the join buffer is ours)
	args := ctx.QueryArgs()
	in := routeIn{method: ctx.Method(), rawKey: rawKey, peer: peerAddr(ctx),
		wantJSON: bytes.Equal(args.PeekBytes(strFormat), strJSONFormat) || bytes.Contains(sc.hdrs.accept, strJSON)}
	if args.HasBytes(strRegion) {
		in.region = args.PeekBytes(strRegion)
		if in.region == nil {
			in.region = []byte{}
		}
	}
	if f != nil {
		in.ctx = &f.rctx
	}
	out, _ := s.route(sc, &in)
	if f != nil && s.alog != nil {
		f.decided(&out.dec)
		f.client(s, in.peer, &sc.hdrs)
	}
	h := &ctx.Response.Header
	if out.err != nil {
		writeError(ctx, out.err)
		if out.rules != "" {
			h.SetCanonical(hdrXEdgeRules, s2b(out.rules))
		}
		return
	}
	h.SetCanonical(hdrXEdgeRules, s2b(out.rules))
	h.SetCanonical(hdrCacheControl, out.cache)
	h.SetCanonical(hdrVary, out.vary)
	if out.body != nil {
		ctx.SetStatusCode(out.status)
		ctx.SetContentType("application/json")
		ctx.SetBody(out.body)
		return
	}
	// Set the header directly: ctx.Redirect would normalise the URL and
	// rewrite escapes such as %2B, breaking the signature.
	h.SetCanonical(hdrLocation, s2b(out.loc))
	h.SetContentLength(0) // also on HEAD, as the event loops send it
	ctx.SetStatusCode(out.status)
}

// peerAddr is the TCP peer's address, or the zero Addr.
func peerAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	ip, _ := netip.AddrFromSlice(ctx.RemoteIP())
	return ip.Unmap()
}

// maxHeadBytes bounds a request head on both transports: fasthttp's
// ReadBufferSize and the event loops' evloop.Config.MaxHeaderBytes.
const maxHeadBytes = 8 << 10

// requestError answers what fasthttp could not read or parse, before any
// handler runs, with the JSON error body every other answer has (fasthttp's
// own are plain text), and counts it. fasthttp then closes the connection.
func (s *Server) requestError(ctx *fasthttp.RequestCtx, err error) {
	e, reason := classifyRequestError(err)
	s.metrics.badRequests.WithLabelValues(reason).Inc()
	writeError(ctx, e)
	s.logBadRequest(ctx)
}

// classifyRequestError maps a fasthttp read or parse error to the answer
// and the edgegate_bad_requests_total reason. Messages are fixed: fasthttp's
// errors quote the request, which the answer must not echo.
func classifyRequestError(err error) (*Error, string) {
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	switch {
	case errors.Is(err, errNotHTTP):
		return errorf(http.StatusBadRequest, msgNotHTTP), "not_http"
	case errors.As(err, &small):
		return errorf(http.StatusRequestHeaderFieldsTooLarge, "request head over %d bytes", maxHeadBytes), "head_too_large"
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return errorf(http.StatusRequestEntityTooLarge, "request body over max_body_bytes; /r/ and /img/ take none"), "body_too_large"
	case errors.As(err, &ne) && ne.Timeout():
		return errorf(http.StatusRequestTimeout, "request not received within read_timeout"), "timeout"
	case errors.Is(err, fasthttp.ErrDuplicateContentLength):
		return errorf(http.StatusBadRequest, "malformed request: more than one Content-Length"), "malformed"
	case errors.Is(err, fasthttp.ErrUnsupportedTransferEncoding):
		return errorf(http.StatusBadRequest, "malformed request: unsupported Transfer-Encoding"), "malformed"
	}
	return errorf(http.StatusBadRequest, "malformed HTTP/1.1 request (request line, header lines or body framing; RFC 9112)"), "malformed"
}

// errNotHTTP is what a notHTTPConn's read returns for bytes that cannot
// start an HTTP request.
var errNotHTTP = errors.New("gateway: not an HTTP request")

// notHTTPListener gives fasthttp, when it serves without the event loops,
// connections that refuse bytes that cannot start an HTTP request: a
// control or non-ASCII byte in the method, before the first space (a TLS
// ClientHello on the plain port, binary), the event loops' test too. The
// read fails with errNotHTTP, which requestError answers at once with a 400
// (fasthttp closes after it), where fasthttp alone would wait read_timeout
// for a line end. Only a connection's first request is checked; garbage
// after an answered request on a keep-alive connection waits read_timeout,
// as any incomplete head does.
type notHTTPListener struct{ net.Listener }

func (l notHTTPListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &notHTTPConn{Conn: c}, nil
}

// notHTTPConn checks the method of a connection's first request as it is
// read. Like any net.Conn its Read is not safe for concurrent use.
type notHTTPConn struct {
	net.Conn
	started bool // a byte has been read
	checked bool // the method was read whole (or the head starts with an empty line)
}

func (c *notHTTPConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if c.checked {
		return n, err
	}
	for _, ch := range b[:n] {
		if !c.started {
			c.started = true
			if ch == '\r' || ch == '\n' { // empty lines before a request are fasthttp's to judge
				c.checked = true
				break
			}
		}
		if ch == ' ' {
			c.checked = true
			break
		}
		if ch < ' ' || ch >= 0x7f {
			c.checked = true
			return 0, errNotHTTP
		}
	}
	return n, err
}

// publicLogger sends the public fasthttp server's log lines (a connection
// it could not serve: a malformed request, a client gone) to the debug
// level. Hostile traffic must not flood the log; edgegate_bad_requests_total
// counts what was refused. Safe for concurrent use.
type publicLogger struct{ log *slog.Logger }

func (l publicLogger) Printf(format string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug("fasthttp: " + fmt.Sprintf(format, args...))
	}
}
