package gateway

// The access log and request ids (package accesslog) on every transport:
// the event loops (loop.go), HTTP/2's inline answers (h2.go), and the
// fasthttp handler (public.go) that also serves handed-off connections,
// HTTPS HTTP/1.1, HTTP/2's other requests and HTTP/3. Each adapter fills
// one fixed-size entry at the end of a request, after its answer is
// built; the formatting and the writes happen on the log's own goroutine.

import (
	"context"
	"net/netip"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgegate/edgegate/accesslog"
	"github.com/edgegate/edgegate/geo"
	"github.com/edgegate/edgegate/internal/evloop"
	"github.com/edgegate/edgegate/internal/h2serve"
	"github.com/edgegate/edgegate/store"
)

var hdrXRequestID = []byte(store.HeaderRequestID)

// Header names as each peeker takes them.
const (
	nameRequestID   = "X-Request-Id"
	nameTraceparent = "Traceparent"
	nameUserAgent   = "User-Agent"
	nameReferer     = "Referer"
)

// openAccessLog starts the access log (access_log.enabled) and the request
// id generator (the log, or access_log.request_id).
func (s *Server) openAccessLog() error {
	c := s.cfg.AccessLog
	if c.Enabled {
		l, err := accesslog.OpenTail(c, s.tail) // the tail: the console's last lines
		if err != nil {
			return err
		}
		s.alog = l
	}
	if c.Enabled || c.RequestID {
		s.ids = accesslog.NewIDs()
	}
	s.echoID = c.RequestID
	return nil
}

// ReopenLogs reopens the access log file (SIGUSR1, after logrotate moved
// it); nothing without one. Safe for concurrent use.
func (s *Server) ReopenLogs() error { return s.alog.Reopen() }

// appendRequestID appends the request's id: a trusted proxy's valid
// X-Request-Id, else the trace id of its valid traceparent, else a new
// one. A client that is not a trusted proxy cannot choose its id.
func (s *Server) appendRequestID(dst []byte, peer netip.Addr, h headerPeeker) []byte {
	if s.ipres.Trusted(peer) {
		if v := h.Peek(nameRequestID); accesslog.ValidID(v) {
			return append(dst, v...)
		}
		if tid, ok := accesslog.TraceID(h.Peek(nameTraceparent)); ok {
			return append(dst, tid...)
		}
	}
	return s.ids.Append(dst)
}

// reqFacts is what the access log needs of a request that the adapters
// learn as it is answered: its id, the context its S3 calls carry (the id,
// their time), the decision and where the answer came from. Pooled in
// scratch; reset per request.
type reqFacts struct {
	rid      []byte
	rctx     store.RequestContext
	key      []byte // the object key, copied (the decision's aliases a scratch)
	d        Decision
	cache    accesslog.Cache
	ip       netip.Addr
	ipSource accesslog.IPSource
	ipSet    bool
}

// begin computes the request id and readies the S3 context.
func (f *reqFacts) begin(s *Server, peer netip.Addr, h headerPeeker) context.Context {
	f.rid = s.appendRequestID(f.rid[:0], peer, h)
	f.key = f.key[:0]
	f.d, f.cache, f.ip, f.ipSet = Decision{}, accesslog.CacheNone, netip.Addr{}, false
	f.rctx.Context = context.Background()
	f.rctx.Info.Reset(b2s(f.rid))
	return &f.rctx
}

// decided records a decision (d.ObjectKey is copied).
func (f *reqFacts) decided(d *Decision) {
	f.d = *d
	f.key = append(f.key[:0], d.ObjectKey...)
	f.d.ObjectKey = ""
	if f.cache == accesslog.CacheNone {
		f.cache = d.existsCache
	}
}

// client records the client IP as the route core derives it.
func (f *reqFacts) client(s *Server, peer netip.Addr, h geo.Headers) {
	ip, src := s.ipres.ClientIP(peer, h)
	f.ip, f.ipSource, f.ipSet = ip, ipSource(src), true
}

func ipSource(src geo.IPSource) accesslog.IPSource {
	switch src {
	case geo.IPFromXFF:
		return accesslog.IPXFF
	case geo.IPFromHeader:
		return accesslog.IPHeader
	}
	return accesslog.IPRemote
}

// fill sets the entry's fields from the facts.
func (f *reqFacts) fill(e *accesslog.Entry) {
	e.ClientIP, e.IPSource = f.ip, f.ipSource
	if f.d.Region != nil {
		e.Region, e.RegionSource = f.d.Region.Name, f.d.RegionSource
	}
	if f.d.Route != nil {
		e.Rule, e.Bucket = f.d.Route.Name, f.d.Bucket
	}
	e.Cache = f.cache
	e.S3 = f.rctx.Info.S3Time()
	e.SetKey(b2s(f.key))
	e.SetRequestID(f.rid)
}

// logRoute logs a /r/ answer of the event loops or HTTP/2's inline path.
// method, uri and the peeker are the request's; out its answer.
func (s *Server) logRoute(f *reqFacts, out *routeOut, proto accesslog.Proto, tls bool, method, uri []byte, h headerPeeker, start time.Time, took time.Duration) {
	e := s.alog.Reserve()
	if e == nil {
		return
	}
	e.Time, e.Duration, e.Status, e.Bytes = start, took, out.status, int64(out.bodyLen)
	e.Proto, e.TLS, e.Route = proto, tls, "route"
	f.fill(e)
	e.SetMethod(method)
	e.SetURI(uri)
	e.SetUserAgent(h.Peek(nameUserAgent))
	e.SetReferer(h.Peek(nameReferer))
	s.alog.Commit(e)
}

// loopFacts begins an event-loop request's facts: nil when neither the
// log nor request ids are on.
func (s *Server) loopFacts(sc *scratch, r *evloop.Request, in *routeIn) *reqFacts {
	if s.ids == nil {
		return nil
	}
	in.ctx = sc.facts.begin(s, r.Peer, loopPeeker{r})
	return &sc.facts
}

// h2Facts is loopFacts for HTTP/2's inline answers.
func (s *Server) h2Facts(sc *scratch, req *h2serve.Request, in *routeIn) *reqFacts {
	if s.ids == nil {
		return nil
	}
	in.ctx = sc.facts.begin(s, req.Peer.Addr(), h2Peeker{req})
	return &sc.facts
}

// finishFasthttp echoes the request id and logs a fasthttp answer (any
// path, any transport that reaches the fasthttp handler).
func (s *Server) finishFasthttp(ctx *fasthttp.RequestCtx, f *reqFacts, route string, start time.Time, took time.Duration) {
	if s.echoID {
		ctx.Response.Header.SetCanonical(hdrXRequestID, f.rid)
	}
	status := ctx.Response.StatusCode()
	if !s.alog.Sampled(status, took) {
		return
	}
	e := s.alog.Reserve()
	if e == nil {
		return
	}
	if !f.ipSet {
		f.client(s, peerAddr(ctx), &ctx.Request.Header)
	}
	e.Time, e.Duration, e.Status = start, took, status
	if !ctx.IsHead() {
		e.Bytes = int64(len(ctx.Response.Body()))
	}
	e.Proto, e.TLS, e.Route = accesslog.H1, ctx.IsTLS(), route
	if bc, ok := ctx.Conn().(*bridgeConn); ok {
		e.Proto = bc.proto
	}
	f.fill(e)
	e.SetMethod(ctx.Method())
	e.SetURI(ctx.RequestURI())
	e.SetUserAgent(ctx.Request.Header.Peek(nameUserAgent))
	e.SetReferer(ctx.Request.Header.Peek(nameReferer))
	s.alog.Commit(e)
}

// logBadRequest logs a request fasthttp could not read (requestError has
// answered it): the peer as the client, since no header of it is
// trusted, and no method or target, which may be anything.
func (s *Server) logBadRequest(ctx *fasthttp.RequestCtx) {
	status := ctx.Response.StatusCode()
	if !s.alog.Sampled(status, 0) {
		return
	}
	e := s.alog.Reserve()
	if e == nil {
		return
	}
	e.Time, e.Status, e.Bytes = time.Now(), status, int64(len(ctx.Response.Body()))
	e.Proto, e.TLS, e.Route = accesslog.H1, ctx.IsTLS(), "bad_request"
	e.ClientIP, e.IPSource = peerAddr(ctx), accesslog.IPRemote
	s.alog.Commit(e)
}

// setCache records where an image answer came from (nil f: nothing).
func (f *reqFacts) setCache(c accesslog.Cache) {
	if f != nil {
		f.cache = c
	}
}
