package gateway

// The fasthttp adapter: connections the event loops hand off (anything
// but a plain /r/ request), or every connection when the loops are off.

import (
	"bytes"
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
	return func(ctx *fasthttp.RequestCtx) {
		start := time.Now()
		route := "other"
		path := rawPath(ctx.RequestURI())
		switch {
		case bytes.HasPrefix(path, prefixRoute):
			route = "route"
			s.serveRoute(ctx, path[len(prefixRoute):])
		case bytes.HasPrefix(path, prefixImage):
			route = "image"
			s.serveImage(ctx, path, path[len(prefixImage):])
		default:
			writeError(ctx, errorf(http.StatusNotFound, "not found; try /r/{key}?region=NAME or /img/{preset}/{key}"))
		}
		s.metrics.observe(route, ctx.Response.StatusCode(), time.Since(start))
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
func (s *Server) serveRoute(ctx *fasthttp.RequestCtx, rawKey []byte) {
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
	out, _ := s.route(sc, &in)
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
