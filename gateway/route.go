package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/edgegate/edgegate/accesslog"
	"github.com/edgegate/edgegate/geo"
	"github.com/edgegate/edgegate/presign"
	"github.com/edgegate/edgegate/rules"
	"github.com/edgegate/edgegate/store"
)

// Region sources reported in answers and explain output.
const (
	SourceQuery   = "query"
	SourceHeader  = "header"
	SourceGeoIP   = "geoip"
	SourceDefault = "default"
)

// Decision is everything the gateway decided for one request: the region
// and why, the route, and the object to hand out.
type Decision struct {
	Table        *rules.Table
	Region       *rules.Region
	RegionSource string
	Route        *rules.Route
	Bucket       string
	// ObjectKey is the full key in the bucket: the chosen prefix + the key.
	ObjectKey string

	// existsCache: with `fallback: exists`, whether every existence check
	// was answered from memory (CacheHit) or one waited for S3 (CacheMiss);
	// for the access log.
	existsCache accesslog.Cache
}

// request is what the gateway knows of a request when deciding.
type request struct {
	key     string
	region  []byte // ?region= value; nil when absent
	peer    netip.Addr
	headers geo.Headers
	// buf, when set, holds object keys built by objectKey (the hot path
	// reuses it across requests); nil allocates each key.
	buf *[]byte
	// noWait: decide from memory only; a miss returns errWouldBlock.
	noWait bool
}

// routeIn is a /r/ request, whichever server parsed it.
type routeIn struct {
	method   []byte
	rawKey   []byte // after "/r/", not decoded
	region   []byte // decoded ?region=; nil when absent
	wantJSON bool
	peer     netip.Addr
	// noWait: answer only from memory; a cache miss that needs S3 returns
	// blocked instead of waiting (the event loop then asks again off-loop).
	noWait bool
	// ctx, when set, is what S3 calls carry (the request id, their time:
	// store.RequestContext); nil: context.Background().
	ctx context.Context
}

// routeOut is a /r/ answer, whichever server sends it. Its slices alias
// the scratch it was built in.
type routeOut struct {
	status int
	err    *Error // a JSON error answer; nothing else below applies but rules
	rules  string // X-Edge-Rules; empty when the answer predates the rules
	cache  []byte // Cache-Control
	vary   []byte
	loc    string // Location, written verbatim
	body   []byte // the JSON answer

	dec     Decision // what was decided, as far as it got (for the access log)
	rid     []byte   // X-Request-Id to echo; nil: none
	bodyLen int      // body bytes sent, set by the adapter that wrote it
}

// scratch is per-request working memory, pooled: decoded keys, object
// keys and header values are built here instead of allocated.
type scratch struct {
	key, obj, hdr  []byte
	region, format []byte // decoded query arguments (event loop)
	hdrs           reqHeaders
	facts          reqFacts // the access log's and the request id's (accesslog.go)
}

// routeAnswer is the JSON form of a /r/ answer.
type routeAnswer struct {
	URL          string `json:"url"`
	Region       string `json:"region"`
	RegionSource string `json:"region_source"`
	Rule         string `json:"rule"`
	Bucket       string `json:"bucket"`
	Key          string `json:"key"`
	Delivery     string `json:"delivery"`
	ExpiresAt    string `json:"expires_at"`
}

// valVaryCDN names the request headers a public, header-decided answer
// depends on.
var valVaryCDN = []byte("Accept, " + geo.HeaderCloudFrontViewerCountry + ", " + geo.HeaderCloudFrontViewerCountryRegion +
	", " + geo.HeaderCloudFrontViewerCity + ", " + geo.HeaderCFIPCountry)

// errWouldBlock is decide's answer when req.noWait is set and an
// existence check is not cached: the caller asks again where it may wait.
var errWouldBlock = &Error{Status: http.StatusServiceUnavailable, Msg: "would block"}

// errS3Busy answers a request shed because s3.max_concurrent S3 requests
// were in flight for all of s3.queue_wait (store.ErrBusy).
var errS3Busy = &Error{Status: http.StatusServiceUnavailable, RetryAfter: 1,
	Msg: "object storage is busy; retry shortly"}

// errTooManyWaiting answers a loop request shed because exists.max_waiting
// requests were already waiting off the event loops for object storage.
var errTooManyWaiting = &Error{Status: http.StatusServiceUnavailable, RetryAfter: 1,
	Msg: "too many requests are waiting for object storage; retry shortly"}

// objectKey returns prefix+key. With a buffer, the result aliases it and
// is valid until the next call or the end of the request.
func (r *request) objectKey(prefix string) string {
	if r.buf == nil {
		return prefix + r.key
	}
	b := append(append((*r.buf)[:0], prefix...), r.key...)
	*r.buf = b
	return b2s(b)
}

// route decides and signs one /r/ request. blocked reports that in.noWait
// was set and the answer needs the network.
func (s *Server) route(sc *scratch, in *routeIn) (out routeOut, blocked bool) {
	if string(in.method) != http.MethodGet && string(in.method) != http.MethodHead {
		e := errorf(http.StatusMethodNotAllowed, "method %s not allowed; use GET or HEAD", truncate(string(in.method), 16))
		e.Allow = "GET, HEAD"
		return routeOut{status: e.Status, err: e}, false
	}
	key, kerr := parseKeyInto(&sc.key, in.rawKey)
	if kerr != nil {
		return routeOut{status: kerr.Status, err: kerr}, false
	}
	req := request{key: key, region: in.region, headers: &sc.hdrs, peer: in.peer, buf: &sc.obj, noWait: in.noWait}
	t := s.rules.Table()
	// Not the request's context: fasthttp cancels it when shutdown begins,
	// and an in-flight request must still finish. Store calls carry their
	// own timeouts.
	bg := context.Background()
	if in.ctx != nil {
		bg = in.ctx // also never cancelled: it carries the request id
	}
	rs := s.traceRoute(bg, sc, in) // nothing unless tracing is on and the request sampled
	d, derr := s.decide(rs.context(bg), t, req, nil)
	if derr == errWouldBlock {
		return routeOut{}, true
	}
	if rs.dec.Sampled() {
		defer s.endRouteSpan(&rs, in, &d, &out)
	}
	out.dec = d
	if derr != nil {
		return routeOut{status: derr.Status, err: derr, rules: t.Hash(), dec: d}, false
	}
	if s.testHookRoute != nil {
		s.testHookRoute()
	}
	var u presign.URL
	var err error
	if d.Route.Delivery == rules.CDN {
		u, err = s.signer.SignCDN(bg, presign.CDNRequest{Base: d.Route.CDN, Key: d.ObjectKey, TTL: d.Route.TTL, Wildcard: d.Route.CDNWildcard})
	} else {
		u, err = s.signer.Sign(bg, presign.Request{
			Bucket:             d.Bucket,
			Key:                d.ObjectKey,
			TTL:                d.Route.TTL,
			ContentDisposition: d.Route.ContentDisposition,
			ContentType:        d.Route.ContentType,
		})
	}
	if err != nil {
		s.log.Error("sign failed", "bucket", d.Bucket, "key", d.ObjectKey, "err", err)
		e := &Error{Status: http.StatusBadGateway, Msg: "could not sign a URL for this object", Err: err}
		return routeOut{status: e.Status, err: e, dec: d}, false
	}
	out.rules = t.Hash()
	// A cache may keep the answer only while the URL in it still has the
	// route's whole TTL left: at most the signing window (see presign).
	maxAge := int64((u.Expires.Sub(s.clock.Now()) - d.Route.TTL) / time.Second)
	if maxAge < 0 {
		maxAge = 0
	}
	public := d.Route.PublicCache && (d.RegionSource == SourceQuery || d.RegionSource == SourceHeader)
	cc := sc.hdr[:0]
	if public {
		cc = append(cc, "public, max-age="...)
	} else {
		cc = append(cc, "private, max-age="...)
	}
	cc = strconv.AppendInt(cc, maxAge, 10)
	sc.hdr = cc
	out.cache = cc
	if public && d.RegionSource == SourceHeader {
		out.vary = valVaryCDN
	} else {
		out.vary = hdrAccept
	}
	if in.wantJSON {
		var body bytes.Buffer
		enc := json.NewEncoder(&body)
		enc.SetEscapeHTML(false)
		enc.Encode(routeAnswer{
			URL: u.URL, Region: d.Region.Name, RegionSource: d.RegionSource, Rule: d.Route.Name,
			Bucket: d.Bucket, Key: d.ObjectKey, Delivery: d.Route.Delivery.String(),
			ExpiresAt: u.Expires.UTC().Format(time.RFC3339),
		})
		out.status, out.body = http.StatusOK, body.Bytes()
		return out, false
	}
	out.status, out.loc = http.StatusFound, u.URL
	return out, false
}

// decide resolves region, route and object key for req. Region
// precedence: a valid ?region= (unknown → 400), then a trusted CDN geo
// header, then GeoIP of the client IP, then the rules' default region.
// tr, when non-nil, records every step for explain; the hot path passes nil.
func (s *Server) decide(ctx context.Context, t *rules.Table, req request, tr *Explanation) (Decision, *Error) {
	d := Decision{Table: t}
	switch {
	case req.region != nil:
		r := t.RegionBytes(req.region)
		if r == nil {
			return d, errorf(http.StatusBadRequest, "unknown region %q", truncate(string(req.region), 64))
		}
		d.Region, d.RegionSource = r, SourceQuery
		if tr != nil {
			tr.candidate(SourceQuery, r, "?region="+string(req.region))
		}
	default:
		d.Region, d.RegionSource = s.regionFromClient(t, req, tr)
	}
	if tr != nil {
		tr.Region, tr.RegionSource = d.Region.Name, d.RegionSource
	}

	d.Route = t.Route(req.key)
	if tr != nil {
		for _, rt := range t.Routes() { // first match wins: the ones before it did not match
			tr.Routes = append(tr.Routes, ExplainRoute{Name: rt.Name, Match: rt.Match, Matched: rt == d.Route})
			if rt == d.Route {
				break
			}
		}
	}
	if d.Route == nil {
		return d, errorf(http.StatusNotFound, "no route matches key %q", truncate(req.key, 256))
	}
	if tr != nil {
		tr.Rule = d.Route.Name
	}
	d.Bucket = d.Route.Bucket
	prefixes := d.Route.Prefixes(d.Region)
	if !d.Route.FallbackExists {
		d.ObjectKey = req.objectKey(prefixes[0])
		if tr != nil {
			tr.Fallback = append(tr.Fallback, ExplainPrefix{Prefix: prefixes[0], Checked: false})
		}
		return d, nil
	}
	d.existsCache = accesslog.CacheHit
	for _, p := range prefixes {
		obj := req.objectKey(p)
		if req.noWait {
			m, hit := s.heads.cached(d.Bucket, obj)
			if !hit {
				return d, errWouldBlock
			}
			if m.Exists {
				d.ObjectKey = obj
				return d, nil
			}
			continue
		}
		m, hit, err := s.heads.get(ctx, d.Bucket, obj)
		if !hit {
			d.existsCache = accesslog.CacheMiss
		}
		ok := m.Exists
		if tr != nil {
			ep := ExplainPrefix{Prefix: p, Checked: true, Exists: ok, Cached: hit}
			if err != nil {
				ep.Error = err.Error()
			}
			tr.Fallback = append(tr.Fallback, ep)
		}
		if err != nil {
			if errors.Is(err, store.ErrBusy) { // shed: s3.max_concurrent requests in flight
				return d, errS3Busy
			}
			s.log.Warn("existence check failed", "bucket", d.Bucket, "key", obj, "err", err)
			status := http.StatusBadGateway
			if errors.Is(err, context.DeadlineExceeded) {
				status = http.StatusGatewayTimeout
			}
			return d, &Error{Status: status, Msg: "object storage did not answer the existence check", Err: err}
		}
		if ok {
			d.ObjectKey = obj
			return d, nil
		}
	}
	return d, &Error{Status: http.StatusNotFound,
		Msg: "key " + quote(truncate(req.key, 256)) + " not found under any prefix tried: " + joinQuoted(prefixes)}
}

// regionFromClient applies the CDN header, then GeoIP, then the default.
func (s *Server) regionFromClient(t *rules.Table, req request, tr *Explanation) (*rules.Region, string) {
	if req.peer.IsValid() {
		if loc, ok := s.ipres.HeaderLocation(req.peer, req.headers); ok {
			r := t.RegionFor(loc)
			if tr != nil {
				l := loc // a copy, so that loc itself does not escape on the hot path
				tr.HeaderLocation = &l
				tr.candidate(SourceHeader, r, "CDN geo header")
			}
			if r != nil {
				return r, SourceHeader
			}
		}
		ip, src := s.ipres.ClientIP(req.peer, req.headers)
		if tr != nil {
			tr.ClientIP, tr.ClientIPSource = ip.String(), src.String()
		}
		if loc, file, ok := s.geodb.Lookup(ip); ok {
			r := t.RegionFor(loc)
			if tr != nil {
				l := loc
				tr.GeoIPLocation, tr.GeoIPDatabase = &l, file
				tr.candidate(SourceGeoIP, r, "GeoIP "+file)
			}
			if r != nil {
				return r, SourceGeoIP
			}
		} else if tr != nil {
			tr.candidate(SourceGeoIP, nil, "no GeoIP location for "+ip.String())
		}
	}
	r := t.DefaultRegion()
	if tr != nil {
		tr.candidate(SourceDefault, r, "default_region")
	}
	return r, SourceDefault
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
