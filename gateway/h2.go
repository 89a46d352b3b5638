package gateway

// The HTTP/2 adapter (internal/h2serve) for the TLS listener: /r/ is
// answered inline on the connection's goroutine from the route core, as on
// the event loops (from memory only: noWait); anything else, and a route
// answer that must wait for S3, runs the public fasthttp handler on a Slow
// goroutine through a pooled RequestCtx, as the bridge does for HTTP/3.
// Either way the answer is the one HTTP/1.1 gets.

import (
	"bytes"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/edgegate/edgegate/accesslog"
	"github.com/edgegate/edgegate/internal/evloop"
	"github.com/edgegate/edgegate/internal/h2serve"
)

// h2Handler implements h2serve.Handler. Safe for concurrent use.
type h2Handler struct {
	s      *Server
	h      fasthttp.RequestHandler
	name   string
	altSvc string
	logger fasthttpLogger
	pool   sync.Pool // *bridgeCtx
}

// newH2 builds the HTTP/2 server: tls.http2's limits, the gateway's
// timeouts and max_unsent_bytes.
func (s *Server) newH2(altSvc string) *h2serve.Server {
	h := &h2Handler{s: s, h: s.Handler(), name: s.public.Name, altSvc: altSvc, logger: fasthttpLogger{s.log}}
	srv, err := h2serve.New(s.cfg.h2serveConfig(s.public.IdleTimeout), h)
	if err != nil { // the gateway's bounds are h2serve's or tighter
		s.log.Warn("HTTP/2 limits out of bounds, using the defaults", "err", err)
		srv, _ = h2serve.New(h2serve.Config{}, h)
	}
	return srv
}

// registerH2Metrics exports what the HTTP/2 server refused, by reason.
func (s *Server) registerH2Metrics(h2 *h2serve.Server) {
	reasons := []struct {
		reason string
		get    func(h2serve.Stats) uint64
	}{
		{"refused_stream", func(st h2serve.Stats) uint64 { return st.RefusedStreams }},
		{"headers_too_large", func(st h2serve.Stats) uint64 { return st.HeadersTooLarge }},
		{"reset_flood", func(st h2serve.Stats) uint64 { return st.ResetFloods }},
		{"control_flood", func(st h2serve.Stats) uint64 { return st.ControlFloods }},
		{"protocol_error", func(st h2serve.Stats) uint64 { return st.ProtocolErrors }},
		{"stream_error", func(st h2serve.Stats) uint64 { return st.StreamErrors }},
		{"timeout", func(st h2serve.Stats) uint64 { return st.Timeouts }},
		{"flow_control_stall", func(st h2serve.Stats) uint64 { return st.FlowControlStalls }},
	}
	for _, r := range reasons {
		s.metrics.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "edgegate_h2_refused_total",
			Help:        "HTTP/2 streams and connections the server refused or ended, by reason.",
			ConstLabels: prometheus.Labels{"reason": r.reason},
		}, func() float64 { return float64(r.get(h2.Stats())) }))
	}
}

// Fast answers /r/ from memory; false sends the request to Slow.
func (h *h2Handler) Fast(req *h2serve.Request, resp *h2serve.Response) bool {
	path := rawPath(req.Path)
	if !bytes.HasPrefix(path, prefixRoute) || len(req.Authority) == 0 || !plainTarget(req.Path) {
		return false // fasthttp decides (as the event loops hand such requests off)
	}
	return h.s.serveH2Route(req, path, resp, h.altSvc)
}

// plainTarget: no spaces or controls, every '%' of the path a valid escape
// (what the event loops take; the rest goes to fasthttp).
func plainTarget(target []byte) bool {
	query := false
	for i := 0; i < len(target); i++ {
		switch c := target[i]; {
		case c <= ' ' || c == 0x7f:
			return false
		case c == '?':
			query = true
		case c == '%' && !query:
			if i+2 >= len(target) || !isHex(target[i+1]) || !isHex(target[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// serveH2Route is serveLoopRoute for HTTP/2: false when the answer needs
// S3 (Slow then asks fasthttp, which waits).
func (s *Server) serveH2Route(req *h2serve.Request, path []byte, resp *h2serve.Response, altSvc string) bool {
	start := time.Now()
	sc := s.scratch.Get().(*scratch)
	defer s.scratch.Put(sc)
	sc.hdrs.reset(h2Peeker{req})
	for i := range req.NumHeaders() {
		sc.hdrs.see(req.HeaderAt(i))
	}
	defer sc.hdrs.reset(nil)
	var q evloop.Request // its Arg reads Query only
	if i := bytes.IndexByte(req.Path, '?'); i >= 0 {
		q.Query = req.Path[i+1:]
		if j := bytes.IndexByte(q.Query, '#'); j >= 0 {
			q.Query = q.Query[:j]
		}
	}
	in := routeIn{method: req.Method, rawKey: path[len(prefixRoute):], peer: req.Peer.Addr(), noWait: true}
	f := s.h2Facts(sc, req, &in)
	var found bool
	sc.format, _ = q.Arg(sc.format, "format")
	in.wantJSON = bytes.Equal(sc.format, strJSONFormat) || bytes.Contains(sc.hdrs.accept, strJSON)
	if sc.region, found = q.Arg(sc.region, "region"); found {
		in.region = sc.region
		if in.region == nil {
			in.region = []byte{}
		}
	}
	out, blocked := s.route(sc, &in)
	if blocked {
		return false
	}
	if f != nil {
		out.rid = f.rid
	}
	s.setH2RouteAnswer(resp, &out, altSvc)
	took := time.Since(start)
	s.metrics.observe("route", out.status, took)
	if s.alog.Sampled(out.status, took) { // implies f != nil
		f.decided(&out.dec)
		f.client(s, in.peer, &sc.hdrs)
		if string(req.Method) == "HEAD" {
			out.bodyLen = 0
		}
		s.logRoute(f, &out, accesslog.H2, true, req.Method, req.Path, h2Peeker{req}, start, took)
	}
	return true
}

// setH2RouteAnswer is appendRouteAnswer's HTTP/2 form (h2serve adds
// content-length and leaves the body out for HEAD).
func (s *Server) setH2RouteAnswer(resp *h2serve.Response, out *routeOut, altSvc string) {
	resp.Status = out.status
	resp.AddHeader("server", "edgegate")
	resp.AddHeaderCopy("date", s.httpDate())
	if s.echoID && out.rid != nil {
		resp.AddHeaderCopy("x-request-id", out.rid)
	}
	if out.err != nil {
		body := errorJSON(out.err)
		out.bodyLen = len(body)
		resp.SetBodyCopy(body)
		resp.AddHeader("content-type", "application/json")
		resp.AddHeader("cache-control", "no-store")
		if out.err.RetryAfter > 0 {
			resp.AddHeader("retry-after", strconv.Itoa(out.err.RetryAfter))
		}
		if out.err.Allow != "" {
			resp.AddHeader("allow", out.err.Allow)
		}
		if out.rules != "" {
			resp.AddHeader("x-edge-rules", out.rules)
		}
	} else {
		if out.body != nil {
			resp.SetBodyCopy(out.body)
			out.bodyLen = len(out.body)
			resp.AddHeader("content-type", "application/json")
		}
		resp.AddHeader("x-edge-rules", out.rules)
		resp.AddHeaderCopy("cache-control", out.cache)
		resp.AddHeaderCopy("vary", out.vary)
		if out.loc != "" {
			resp.AddHeaderCopyString("location", out.loc)
		}
	}
	if altSvc != "" {
		resp.AddHeader("alt-svc", altSvc)
	}
}

// h2Peeker looks up any other header of an HTTP/2 request (names are
// lower case there).
type h2Peeker struct{ r *h2serve.Request }

func (p h2Peeker) Peek(key string) []byte {
	for i := range p.r.NumHeaders() {
		if k, v := p.r.HeaderAt(i); lowerEquals(k, key) {
			return v
		}
	}
	return nil
}

// lowerEquals reports whether k (lower case) is key in any case.
func lowerEquals(k []byte, key string) bool {
	if len(k) != len(key) {
		return false
	}
	for i := range len(k) {
		c := key[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if k[i] != c {
			return false
		}
	}
	return true
}

// Slow runs the public fasthttp handler, as the bridge does: method,
// target, Host and headers in (not the body: no public endpoint reads
// one), status, headers and body out.
func (h *h2Handler) Slow(req *h2serve.Request, resp *h2serve.Response) {
	b, _ := h.pool.Get().(*bridgeCtx)
	if b == nil {
		b = new(bridgeCtx)
	}
	defer func() {
		b.ctx.Request.Reset()
		b.ctx.Response.Reset()
		b.conn.state = nil
		h.pool.Put(b)
	}()
	r := &b.ctx.Request
	r.Header.SetMethodBytes(req.Method)
	r.SetRequestURIBytes(req.Path)
	r.Header.SetHostBytes(req.Authority)
	for i := range req.NumHeaders() {
		k, v := req.HeaderAt(i)
		if string(k) == "host" {
			continue // :authority, set above
		}
		r.Header.AddBytesKV(k, v)
	}
	b.conn.remote = *net.TCPAddrFromAddrPort(req.Peer)
	b.conn.state = req.TLS
	b.conn.proto = accesslog.H2
	b.ctx.Init2(&b.conn, h.logger, false)
	b.ctx.Response.Header.SetNoDefaultContentType(true) // as the fasthttp servers
	h.h(&b.ctx)

	out := &b.ctx.Response
	resp.Status = out.StatusCode()
	for k, v := range out.Header.All() {
		switch string(k) {
		case "Content-Length", "Connection", "Transfer-Encoding", "Keep-Alive", "Date":
			continue // set by h2serve, hop-by-hop, or below
		}
		resp.AddHeaderBytes(k, v)
	}
	if len(out.Header.Server()) == 0 && h.name != "" {
		resp.AddHeader("server", h.name)
	}
	resp.AddHeaderCopy("date", h.s.httpDate())
	if h.altSvc != "" {
		resp.AddHeader("alt-svc", h.altSvc)
	}
	resp.SetBodyCopy(out.Body())
}
