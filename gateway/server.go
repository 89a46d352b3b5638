// Package gateway wires edgegate's packages to the network: the public
// fasthttp listener (/r/ route answers), the admin listener (health,
// readiness, metrics, debug and reload), configuration loading and
// graceful shutdown.
//
// It owns HTTP: status codes, headers, JSON bodies, the order in which a
// request's region is decided. It delegates every decision it can to the
// leaf packages (rules, store, presign), which never import gateway.
package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/edgegate/edgegate/cache"
	"github.com/edgegate/edgegate/geo"
	"github.com/edgegate/edgegate/internal/evloop"
	"github.com/edgegate/edgegate/presign"
	"github.com/edgegate/edgegate/resize"
	"github.com/edgegate/edgegate/rules"
	"github.com/edgegate/edgegate/store"
)

// Server is one gateway instance. Create it with New, run it with Serve.
type Server struct {
	cfg     Config
	log     *slog.Logger
	rules   *rules.Store
	store   *store.Store
	signer  *presign.Signer
	metrics *metrics
	ipres   *geo.IPResolver
	geodb   *geo.DB

	existCache *cache.Cache[existKey, store.Meta]

	images    *resize.Processor
	admission *resize.Admission
	variants  *cache.Cache[variantKey, *variant]
	writeBackState
	eventQueue chan eventJob
	eagerGlobs []rules.Glob

	public *fasthttp.Server
	admin  *http.Server

	shuttingDown atomic.Bool

	scratch sync.Pool // *scratch
	clock   *coarseClock
	date    atomic.Pointer[httpDate]      // the event loops' Date header
	loops   atomic.Pointer[evloop.Server] // while serving with event loops

	// testHookRoute, when set by a test, runs in serveRoute before signing.
	testHookRoute func()
}

// New validates cfg, loads the rules and prepares the S3 clients. It does
// not listen yet.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, metrics: newMetrics()}
	s.scratch.New = func() any { return new(scratch) }
	s.clock = newCoarseClock(2 * time.Millisecond)
	ok := false
	defer func() { // on a failed New, release what was started
		if ok {
			return
		}
		s.clock.Stop()
		if s.signer != nil {
			s.signer.Close()
		}
		if s.geodb != nil {
			s.geodb.Close()
		}
	}()
	st, err := store.New(ctx, cfg.S3)
	if err != nil {
		return nil, err
	}
	s.store = st
	if s.signer, err = presign.New(st, withClock(cfg.Presign, s.clock.Now)); err != nil {
		return nil, err
	}
	rs, err := rules.NewStore(cfg.Rules, rules.StoreOptions{
		Logger: log,
		OnReload: func(t *rules.Table, err error) {
			s.metrics.rulesReloaded(err, time.Now())
		},
	})
	if err != nil {
		return nil, err
	}
	s.metrics.rulesReloaded(nil, time.Now())
	s.rules = rs
	if s.ipres, err = geo.NewIPResolver(cfg.Geo); err != nil {
		return nil, err
	}
	db, err := geo.OpenDB(cfg.Geo.Databases, geo.DBOptions{
		Logger: log,
		OnReload: func(err error) {
			if err != nil {
				s.metrics.geoReloadSuccess.Set(0)
			} else {
				s.metrics.geoReloadSuccess.Set(1)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	s.geodb = db
	s.metrics.geoReloadSuccess.Set(1)
	if s.existCache, err = cache.New[existKey, store.Meta](cache.Options{MaxEntries: cfg.Exists.MaxEntries, Now: s.clock.Now}); err != nil {
		return nil, err
	}
	if s.images, err = resize.New(cfg.Images.Config); err != nil {
		return nil, err
	}
	s.admission = s.images.NewAdmission()
	cacheBytes := cfg.Images.CacheBytes
	if cacheBytes == 0 {
		cacheBytes = 1 // every variant is over budget: nothing is kept
	}
	if s.variants, err = cache.NewSized[variantKey, *variant](cache.Options{
		MaxEntries: 100000, MaxBytes: cacheBytes, Now: s.clock.Now,
	}, variantSize); err != nil {
		return nil, err
	}
	s.writeSlots = make(chan struct{}, 64)
	s.eventQueue = make(chan eventJob, cfg.Events.Queue)
	for _, p := range cfg.Events.Eager {
		g, err := rules.CompileGlob(p)
		if err != nil {
			return nil, err
		}
		s.eagerGlobs = append(s.eagerGlobs, g)
	}
	s.metrics.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgegate_image_cache_bytes",
			Help: "Bytes of rendered variants held in the in-process cache."},
			func() float64 { return float64(s.variants.Stats().Bytes) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgegate_image_cache_entries",
			Help: "Rendered variants held in the in-process cache."},
			func() float64 { return float64(s.variants.Stats().Entries) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "edgegate_loop_handoffs_total",
			Help: "Connections the event loops gave to fasthttp (not /r/, a body, HTTP/1.0, ...)."},
			func() float64 { return float64(s.loopStats().Handoffs) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "edgegate_loop_blocked_total",
			Help: "Route requests the event loops answered off-loop (an existence check had to ask S3)."},
			func() float64 { return float64(s.loopStats().Blocked) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgegate_image_admission_megapixels_in_use",
			Help: "Megapixels of images being decoded or resized now."},
			func() float64 { mp, _ := s.admission.InUse(); return float64(mp) }),
	)
	s.public = &fasthttp.Server{
		Handler:                       s.Handler(),
		Name:                          "edgegate",
		ReadTimeout:                   cfg.ReadTimeout,
		WriteTimeout:                  cfg.WriteTimeout,
		IdleTimeout:                   60 * time.Second,
		DisableHeaderNamesNormalizing: false,
		NoDefaultDate:                 false,
		NoDefaultContentType:          true,
		ReduceMemoryUsage:             false,
		CloseOnShutdown:               true,
	}
	s.admin = &http.Server{
		Handler:           s.AdminHandler(),
		ReadHeaderTimeout: 5 * time.Second,
	}
	ok = true
	return s, nil
}

// Rules returns the hot-reloading rules store.
func (s *Server) Rules() *rules.Store { return s.rules }

// Serve listens on the configured addresses and serves until ctx is done,
// then shuts down gracefully.
func (s *Server) Serve(ctx context.Context) error {
	pub, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("gateway: listen: %w", err)
	}
	adm, err := net.Listen("tcp", s.cfg.AdminListen)
	if err != nil {
		pub.Close()
		return fmt.Errorf("gateway: admin listen: %w", err)
	}
	return s.ServeListeners(ctx, pub, adm)
}

// ServeListeners serves on the given listeners until ctx is done, then
// stops accepting, lets in-flight requests finish (bounded by
// ShutdownTimeout) and returns nil on a clean shutdown.
func (s *Server) ServeListeners(ctx context.Context, pub, adm net.Listener) error {
	s.log.Info("edgegate listening", "public", pub.Addr().String(), "admin", adm.Addr().String(),
		"rules", s.cfg.Rules, "rules_hash", s.rules.Table().Hash())
	errc := make(chan error, 3)
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	go func() {
		if err := s.rules.Watch(watchCtx); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("rules watcher stopped", "err", err)
		}
	}()
	go func() {
		if err := s.geodb.Watch(watchCtx); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("GeoIP watcher stopped", "err", err)
		}
	}()
	for range s.cfg.Events.Workers {
		go s.eventWorker(watchCtx)
	}
	loops, err := s.startLoops()
	if err != nil {
		pub.Close()
		adm.Close()
		return err
	}
	if loops != nil {
		go func() {
			if err := loops.Serve(pub); err != nil {
				errc <- err
			}
		}()
		go func() { errc <- s.public.Serve(loops.Handoffs()) }()
	} else {
		go func() { errc <- s.public.Serve(pub) }()
	}
	go func() {
		if err := s.admin.Serve(adm); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("gateway: serve: %w", err)
	case <-ctx.Done():
	}
	s.shuttingDown.Store(true)
	s.log.Info("shutting down", "timeout", s.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if loops != nil {
		if err := loops.Shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("gateway: event loops shutdown: %w", err))
		}
	}
	if err := s.public.ShutdownWithContext(sctx); err != nil {
		errs = append(errs, fmt.Errorf("gateway: public shutdown: %w", err))
	}
	if err := s.admin.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("gateway: admin shutdown: %w", err))
	}
	if err := s.geodb.Close(); err != nil {
		errs = append(errs, err)
	}
	s.writeWG.Wait() // pending write-backs and existence refreshes (each bounded by the S3 timeout)
	s.signer.Close()
	s.clock.Stop()
	return errors.Join(errs...)
}

// startLoops starts the event loops that answer /r/, or returns nil when
// they are off or unavailable here (fasthttp then serves everything).
func (s *Server) startLoops() (*evloop.Server, error) {
	if s.cfg.EventLoops < 0 {
		return nil, nil
	}
	loops, err := evloop.New(loopHandler{s}, evloop.Config{
		Loops:        s.cfg.EventLoops,
		ReadTimeout:  s.cfg.ReadTimeout,
		WriteTimeout: s.cfg.WriteTimeout,
		IdleTimeout:  s.public.IdleTimeout,
	})
	if errors.Is(err, evloop.ErrUnsupported) {
		s.log.Info("event loops unavailable here; fasthttp serves every request")
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gateway: event loops: %w", err)
	}
	s.loops.Store(loops)
	return loops, nil
}

// loopStats reads the event loops' counters (zero without loops).
func (s *Server) loopStats() evloop.Stats {
	if l := s.loops.Load(); l != nil {
		return l.Stats()
	}
	return evloop.Stats{}
}

// Reload re-reads the rules file, and the GeoIP databases whose files
// changed (SIGHUP and POST /-/reload). Each keeps serving its old state if
// its reload fails; the returned error joins both failures.
func (s *Server) Reload() error {
	var errs []error
	if err := s.rules.Reload(); err != nil {
		errs = append(errs, err)
	}
	if _, err := s.geodb.ReloadIfChanged(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

var (
	prefixRoute   = []byte("/r/")
	strJSON       = []byte("application/json")
	strJSONFormat = []byte("json")
	strAccept     = []byte("Accept")
	strFormat     = []byte("format")
	strRegion     = []byte("region")
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

// rawPath returns the request-target's path exactly as sent, without the
// query: fasthttp's parsed Path() is normalised ("a/../b" -> "b").
func rawPath(uri []byte) []byte {
	if i := bytes.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	if i := bytes.IndexByte(uri, '#'); i >= 0 {
		uri = uri[:i]
	}
	return uri
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

// scratch is per-request working memory, pooled: decoded keys, object
// keys and header values are built here instead of allocated.
type scratch struct {
	key, obj, hdr  []byte
	region, format []byte // decoded query arguments (event loop)
	hdrs           reqHeaders
}

// varyCDN names the request headers a public, header-decided answer
// depends on.
var valVaryCDN = []byte("Accept, " + geo.HeaderCloudFrontViewerCountry + ", " + geo.HeaderCloudFrontViewerCountryRegion +
	", " + geo.HeaderCloudFrontViewerCity + ", " + geo.HeaderCFIPCountry)

// Canonical response header names, set without normalisation.
var (
	hdrXEdgeRules   = []byte("X-Edge-Rules")
	hdrCacheControl = []byte("Cache-Control")
	hdrVary         = []byte("Vary")
	hdrLocation     = []byte("Location")
)

// withClock returns cfg with its clock set (presign.Config is a value).
func withClock(cfg presign.Config, now func() time.Time) presign.Config {
	cfg.Now = now
	return cfg
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
	d, derr := s.decide(bg, t, req, nil)
	if derr == errWouldBlock {
		return routeOut{}, true
	}
	if derr != nil {
		return routeOut{status: derr.Status, err: derr, rules: t.Hash()}, false
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
		return routeOut{status: e.Status, err: e}, false
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

// serveRoute answers /r/ on fasthttp: connections the event loops handed
// off, or every connection when the loops are off.
func (s *Server) serveRoute(ctx *fasthttp.RequestCtx, rawKey []byte) {
	sc := s.scratch.Get().(*scratch)
	defer s.scratch.Put(sc)
	sc.hdrs.load(&ctx.Request.Header)
	defer func() { sc.hdrs = reqHeaders{} }() // keep no request memory in the pool
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
	ctx.SetStatusCode(out.status)
}

// peerAddr is the TCP peer's address, or the zero Addr.
func peerAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	ip, _ := netip.AddrFromSlice(ctx.RemoteIP())
	return ip.Unmap()
}
