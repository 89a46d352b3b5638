package gateway

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"github.com/edgegate/edgegate/geo"
	"github.com/edgegate/edgegate/internal/evloop"
)

// Canonical header names, as fasthttp stores them after parsing.
var (
	hdrXFF          = []byte(geo.HeaderXForwardedFor)
	hdrCFConnecting = []byte("Cf-Connecting-Ip")
	hdrCFViewerAddr = []byte("Cloudfront-Viewer-Address")
	hdrXRealIP      = []byte("X-Real-Ip")
	hdrCFVCountry   = []byte("Cloudfront-Viewer-Country")
	hdrCFVRegion    = []byte("Cloudfront-Viewer-Country-Region")
	hdrCFVCity      = []byte("Cloudfront-Viewer-City")
	hdrCFIPCountry  = []byte("Cf-Ipcountry")
	hdrAccept       = []byte("Accept")
	hdrTraceparent  = []byte("Traceparent")
	hdrTracestate   = []byte("Tracestate")
)

// reqHeaders reads the request headers the route path needs in one pass
// over the parsed headers, instead of one normalising lookup per name. It
// implements geo.Headers, and it is the one reader of these headers for
// /r/ (either transport) and /img/, so that one request gets one region.
// Several X-Forwarded-For lines are one list (RFC 9110 section 5.3): they
// are joined in order with ", ", as nginx's $proxy_add_x_forwarded_for and
// net/http do. Of any other repeated header the last line wins: that is
// the one the nearest proxy wrote. Names match ASCII case-insensitively,
// so it reads fasthttp's normalised names and raw event-loop names alike.
// Not safe for concurrent use; one per request (pooled in scratch).
type reqHeaders struct {
	src                                                 headerPeeker
	xff, cfConnecting, cfViewerAddr, xRealIP            []byte
	cfvCountry, cfvRegion, cfvCity, cfIPCountry, accept []byte
	traceparent, tracestate                             []byte // W3C trace context, for telemetry
	nxff                                                int
	xffBuf                                              []byte // joined X-Forwarded-For lines; kept across requests
}

// reset forgets the request (keeping the join buffer) and reads src next.
func (r *reqHeaders) reset(src headerPeeker) {
	buf := r.xffBuf[:0]
	if cap(buf) > 8<<10 {
		buf = nil
	}
	*r = reqHeaders{src: src, xffBuf: buf}
}

// headerPeeker looks up any other header: *fasthttp.RequestHeader, or the
// event loop's request.
type headerPeeker interface{ Peek(key string) []byte }

func (r *reqHeaders) load(h *fasthttp.RequestHeader) {
	r.reset(h)
	for k, v := range h.All() {
		r.see(k, v)
	}
}

// loadLoop reads an event-loop request's headers.
func (r *reqHeaders) loadLoop(req *evloop.Request) {
	r.reset(loopPeeker{req})
	for i := range req.NumHeaders() {
		r.see(req.HeaderAt(i))
	}
}

type loopPeeker struct{ r *evloop.Request }

func (p loopPeeker) Peek(key string) []byte { return p.r.Header(key) }

// see records one header line if the route path wants it.
func (r *reqHeaders) see(k, v []byte) {
	switch len(k) {
	case len(hdrXFF): // 15; no other name we want has 15 bytes
		if bytes.EqualFold(k, hdrXFF) {
			r.addXFF(v)
		}
	case len(hdrCFConnecting):
		if bytes.EqualFold(k, hdrCFConnecting) {
			r.cfConnecting = v
		}
	case len(hdrCFViewerAddr): // 25: also Cloudfront-Viewer-Country
		if bytes.EqualFold(k, hdrCFViewerAddr) {
			r.cfViewerAddr = v
		} else if bytes.EqualFold(k, hdrCFVCountry) {
			r.cfvCountry = v
		}
	case len(hdrXRealIP):
		if bytes.EqualFold(k, hdrXRealIP) {
			r.xRealIP = v
		}
	case len(hdrCFVRegion):
		if bytes.EqualFold(k, hdrCFVRegion) {
			r.cfvRegion = v
		}
	case len(hdrCFVCity):
		if bytes.EqualFold(k, hdrCFVCity) {
			r.cfvCity = v
		}
	case len(hdrCFIPCountry):
		if bytes.EqualFold(k, hdrCFIPCountry) {
			r.cfIPCountry = v
		}
	case len(hdrAccept):
		if bytes.EqualFold(k, hdrAccept) {
			r.accept = v
		}
	case len(hdrTraceparent):
		if bytes.EqualFold(k, hdrTraceparent) {
			r.traceparent = v
		}
	case len(hdrTracestate):
		if bytes.EqualFold(k, hdrTracestate) {
			r.tracestate = v
		}
	}
}

// addXFF appends one X-Forwarded-For line to the list; only a second line
// copies (into xffBuf, reused, so the route path stays allocation-free).
func (r *reqHeaders) addXFF(v []byte) {
	r.nxff++
	switch r.nxff {
	case 1:
		r.xff = v
		return
	case 2:
		r.xffBuf = append(r.xffBuf[:0], r.xff...)
	}
	r.xffBuf = append(append(r.xffBuf, ", "...), v...)
	r.xff = r.xffBuf
}

// Peek implements geo.Headers.
func (r *reqHeaders) Peek(key string) []byte {
	switch key {
	case geo.HeaderXForwardedFor:
		return r.xff
	case geo.HeaderCFConnectingIP:
		return r.cfConnecting
	case geo.HeaderCloudFrontViewerAddress:
		return r.cfViewerAddr
	case geo.HeaderXRealIP:
		return r.xRealIP
	case geo.HeaderCloudFrontViewerCountry:
		return r.cfvCountry
	case geo.HeaderCloudFrontViewerCountryRegion:
		return r.cfvRegion
	case geo.HeaderCloudFrontViewerCity:
		return r.cfvCity
	case geo.HeaderCFIPCountry:
		return r.cfIPCountry
	case "Accept":
		return r.accept
	case "Traceparent":
		return r.traceparent
	case "Tracestate":
		return r.tracestate
	}
	return r.src.Peek(key)
}
