package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/edgegate/edgegate/geo"
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

// errWouldBlock is decide's answer when req.noWait is set and an
// existence check is not cached: the caller asks again where it may wait.
var errWouldBlock = &Error{Status: http.StatusServiceUnavailable, Msg: "would block"}

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
	for _, p := range prefixes {
		obj := req.objectKey(p)
		if req.noWait {
			m, hit := s.cachedHead(d.Bucket, obj)
			if !hit {
				return d, errWouldBlock
			}
			if m.Exists {
				d.ObjectKey = obj
				return d, nil
			}
			continue
		}
		ok, hit, err := s.exists(ctx, d.Bucket, obj)
		if tr != nil {
			ep := ExplainPrefix{Prefix: p, Checked: true, Exists: ok, Cached: hit}
			if err != nil {
				ep.Error = err.Error()
			}
			tr.Fallback = append(tr.Fallback, ep)
		}
		if err != nil {
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

// existKey names one object for the existence cache.
type existKey struct{ bucket, key string }

// exists answers from the cache, or with one coalesced HEAD request whose
// answer (positive or negative) is cached.
func (s *Server) exists(ctx context.Context, bucket, key string) (ok, hit bool, err error) {
	m, hit, err := s.head(ctx, bucket, key)
	return m.Exists, hit, err
}

// head returns an object's metadata from the cache, or from one coalesced
// HEAD request whose answer (found: exists.ttl, missing: exists.negative_ttl)
// is cached. An answer whose time is up is still used, for up to exists.ttl
// more, while one background HEAD refreshes it (stale-while-revalidate):
// a hot key never makes requests wait on S3 when its entry expires. key
// may alias a request buffer: it is cloned before the cache keeps it.
func (s *Server) head(ctx context.Context, bucket, key string) (m store.Meta, hit bool, err error) {
	if m, ok := s.cachedHead(bucket, key); ok {
		return m, true, nil
	}
	key = strings.Clone(key)
	return s.existCache.GetOrLoad(ctx, existKey{bucket, key}, func(ctx context.Context) (store.Meta, time.Duration, error) {
		return s.loadHead(ctx, bucket, key)
	})
}

// cachedHead is head from memory only, as the event loops need it: ok is
// false when nothing usable is cached. A stale answer starts its refresh.
func (s *Server) cachedHead(bucket, key string) (store.Meta, bool) {
	m, fresh, ok := s.existCache.GetStale(existKey{bucket, key}, s.cfg.Exists.TTL)
	if ok && !fresh {
		s.refreshHead(bucket, key)
	}
	return m, ok
}

// refreshHead re-asks S3 about a stale entry in the background, once per
// key at a time. On failure the stale answer stays until it is too old.
func (s *Server) refreshHead(bucket, key string) {
	k := existKey{bucket, strings.Clone(key)}
	if _, busy := s.refreshing.LoadOrStore(k, struct{}{}); busy {
		return
	}
	s.writeWG.Add(1)
	go func() {
		defer s.writeWG.Done()
		defer s.refreshing.Delete(k)
		m, ttl, err := s.loadHead(context.Background(), k.bucket, k.key)
		if err != nil {
			s.log.Warn("existence refresh failed; the last answer stays for now", "bucket", k.bucket, "key", k.key, "err", err)
			return
		}
		s.existCache.Set(k, m, ttl)
	}()
}

// loadHead asks S3 and says how long its answer may be kept.
func (s *Server) loadHead(ctx context.Context, bucket, key string) (store.Meta, time.Duration, error) {
	s.metrics.s3Heads.Inc()
	m, err := s.store.Head(ctx, bucket, key)
	if err != nil {
		return store.Meta{}, 0, err
	}
	if m.Exists {
		return m, s.cfg.Exists.TTL, nil
	}
	return m, s.cfg.Exists.NegativeTTL, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
