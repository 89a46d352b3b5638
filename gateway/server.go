package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgegate/edgegate/accesslog"
	"github.com/edgegate/edgegate/cache"
	"github.com/edgegate/edgegate/certs"
	"github.com/edgegate/edgegate/geo"
	"github.com/edgegate/edgegate/imgproxy"
	"github.com/edgegate/edgegate/internal/evloop"
	"github.com/edgegate/edgegate/internal/glob"
	"github.com/edgegate/edgegate/presign"
	"github.com/edgegate/edgegate/queue"
	"github.com/edgegate/edgegate/resize"
	"github.com/edgegate/edgegate/rules"
	"github.com/edgegate/edgegate/store"
	"github.com/edgegate/edgegate/telemetry"
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
	heads   *headCache // existence checks and source metadata
	ready   *readiness // /readyz: the background S3 checks' outcome

	images    *resize.Processor
	imgproxy  *imgproxy.Parser // nil unless imgproxy.enabled
	admission *resize.Admission
	variants  *cache.Cache[variantKey, *variant]
	sources   // image sources being downloaded or used, their budget and refusals
	writeBacks
	// sqs: the events.sqs consumers (sqs.go), started by ServeOn.
	sqs        []*queue.Consumer
	eventQueue chan eventJob
	eagerGlobs []*glob.Glob
	gcm        *gcMetrics   // stored variants removed (gc.go)
	sns        *snsEndpoint // POST /events/sns (sns.go)

	// tracing: OpenTelemetry traces (package telemetry); nil: off.
	tracing *telemetry.Tracing

	// watermarks: watermark images by bucket, key and ETag (watermark.go).
	watermarks watermarkCache

	public *fasthttp.Server
	admin  *http.Server
	conns  *connLimit // the public listener's connection limits

	// HTTPS (listen_tls): certificates, HTTP/1.1 and HTTP/2, HTTP/3; nil
	// without it. plainRedirect: the plain listener only redirects (and
	// answers ACME challenges), so the event loops do not run.
	certs         *certs.Manager
	tls           *tlsServer
	h3            *h3Server
	plainRedirect bool

	shuttingDown atomic.Bool
	// delayCut is closed, once, to end the shutdown delay early
	// (EndShutdownDelay).
	delayCut     chan struct{}
	delayCutOnce sync.Once
	// adminLoopback: admin_listen and the admin listener are loopback-only,
	// so reload and JSON events may go without a token. Set before the
	// admin listener serves; read-only after.
	adminLoopback bool

	scratch sync.Pool // *scratch
	clock   *coarseClock
	date    atomic.Pointer[httpDate]      // the event loops' Date header
	altSvc  atomic.Pointer[string]        // Alt-Svc of HTTPS answers, when HTTP/3 is on
	loops   atomic.Pointer[evloop.Server] // while serving with event loops
	offLoop atomic.Int64                  // loop requests waiting off-loop (exists.max_waiting)

	// The access log (nil: off), the request id generator (nil: neither
	// the log nor access_log.request_id), and whether answers echo the id.
	alog   *accesslog.Logger
	ids    *accesslog.IDs
	echoID bool
	// tail keeps the access log's last lines for the console
	// (/debug/access-log, consoleapi.go); nil when the log is off.
	tail *accesslog.Tail

	// testHookRoute, when set by a test, runs in route before signing.
	testHookRoute func()
}

// Option adjusts a Server beyond its Config: what the binary knows of
// itself rather than what a config file says.
type Option func(*options)

type options struct {
	version, revision string
}

// WithVersion sets the version edgegate_build_info reports (cmd/edgegate's,
// stamped at build time). Default: the main module's version.
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

// WithRevision sets the VCS revision edgegate_build_info reports
// (cmd/edgegate's commit, stamped at build time). Default: the one the Go
// toolchain recorded, if any.
func WithRevision(r string) Option { return func(o *options) { o.revision = r } }

// New validates cfg, loads the rules and the GeoIP databases and prepares
// the S3 clients, the caches and the image processor. It does not listen
// yet.
func New(ctx context.Context, cfg Config, log *slog.Logger, opts ...Option) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	maxConns, err := connectionLimit(cfg)
	if err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	s := &Server{cfg: cfg, log: log, metrics: newMetrics(), delayCut: make(chan struct{})}
	s.metrics.registerBuildInfo(o.version, o.revision)
	s.scratch.New = func() any { return new(scratch) }
	s.clock = newCoarseClock(2 * time.Millisecond)
	if err := s.open(ctx); err != nil {
		s.clock.Stop()
		if s.signer != nil {
			s.signer.Close()
		}
		if s.geodb != nil {
			s.geodb.Close()
		}
		return nil, err
	}
	s.conns = newConnLimit(maxConns, cfg.MaxConnectionsPerIP, s.ipres.Trusted)
	s.metrics.registerServer(s)
	s.ready = newReadiness(cfg.Readiness, s.checkS3, s.metrics, s.log)
	s.public = &fasthttp.Server{
		Handler:              s.Handler(),
		Name:                 "edgegate",
		ReadTimeout:          cfg.ReadTimeout,
		WriteTimeout:         cfg.WriteTimeout,
		IdleTimeout:          60 * time.Second,
		NoDefaultContentType: true,
		// The event loops' head limit (evloop.Config.MaxHeaderBytes): a
		// head of up to 8 KiB is answered, a longer one gets 431, on both.
		ReadBufferSize:  8 << 10,
		CloseOnShutdown: true,
		// connLimit bounds the connections; fasthttp's own bound (503
		// past Concurrency) must not bite first. fasthttp counts a
		// connection until its goroutine ends, which can be after
		// connLimit closed it (evicted as idle) and admitted another: at
		// most maxConns such, so twice the limit never bites.
		Concurrency: 2 * maxConns,
		ConnState:   s.conns.connState,
		// What fasthttp cannot read gets the JSON error body too; its
		// log lines quote no request bytes and go to the debug level.
		ErrorHandler:          s.requestError,
		Logger:                publicLogger{s.log},
		SecureErrorLogMessage: true,
		// No public path takes a form: a body is never parsed (a multipart
		// one would be, into memory and temporary files), and it is held
		// in memory only up to max_body_bytes (413 past it).
		DisablePreParseMultipartForm: true,
		MaxRequestBodySize:           cfg.MaxBodyBytes,
	}
	s.adminLoopback = loopbackOnly(cfg.AdminListen)
	s.admin = &http.Server{
		Handler:           s.AdminHandler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       cfg.Admin.ReadTimeout,
		WriteTimeout:      cfg.Admin.WriteTimeout,
		IdleTimeout:       cfg.Admin.IdleTimeout,
		ConnState:         s.metrics.adminConnState,
	}
	if err := s.openTLS(ctx); err != nil {
		s.clock.Stop()
		s.signer.Close()
		s.geodb.Close()
		return nil, err
	}
	if cfg.AccessLog.Enabled {
		s.tail = accesslog.NewTail(consoleTailBytes)
	}
	if err := s.openAccessLog(); err != nil {
		s.clock.Stop()
		s.signer.Close()
		s.geodb.Close()
		return nil, err
	}
	s.metrics.registerAccessLog(s.alog)
	// Last: its batch processor runs a goroutine, and nothing after it fails.
	if s.tracing, err = telemetry.New(ctx, cfg.Tracing, o.version); err != nil {
		s.clock.Stop()
		s.signer.Close()
		s.geodb.Close()
		return nil, err
	}
	s.registerTracingMetrics()
	return s, nil
}

// open builds every part New needs, in order; New releases what was
// started when it fails.
func (s *Server) open(ctx context.Context) error {
	cfg := s.cfg
	st, err := store.New(ctx, cfg.S3, store.WithObserver(s.metrics))
	if err != nil {
		return err
	}
	s.store = st
	if s.signer, err = presign.New(st, withClock(cfg.Presign, s.clock.Now)); err != nil {
		return err
	}
	if s.rules, err = rules.NewStore(cfg.Rules, rules.StoreOptions{
		Logger:   s.log,
		OnReload: func(_ *rules.Table, err error) { s.metrics.rulesReloaded(err, time.Now()) },
	}); err != nil {
		return err
	}
	s.metrics.rulesReloaded(nil, time.Now())
	if s.ipres, err = geo.NewIPResolver(cfg.Geo); err != nil {
		return err
	}
	if s.geodb, err = geo.OpenDB(cfg.Geo.Databases, geo.DBOptions{
		Logger:   s.log,
		OnReload: s.metrics.geoReloaded,
	}); err != nil {
		return err
	}
	s.metrics.geoReloaded(nil)
	if s.heads, err = newHeadCache(cfg.Exists, s.clock.Now, st.Head, s.metrics.s3Heads.Inc, s.metrics.existsStale.Inc, s.log); err != nil {
		return err
	}
	if err := s.openImages(); err != nil {
		return err
	}
	return s.openSQS()
}

// openImages prepares /img/ and upload events: the processor, its
// admission, the variant cache, write-back and the event queue.
func (s *Server) openImages() error {
	cfg := s.cfg
	var err error
	if s.images, err = resize.New(cfg.Images.Config); err != nil {
		return err
	}
	s.admission = s.images.NewAdmission()
	if err := s.openImgproxy(); err != nil {
		return err
	}
	if err := s.openSources(); err != nil {
		return err
	}
	cacheBytes := cfg.Images.CacheBytes
	if cacheBytes == 0 {
		cacheBytes = 1 // every variant is over budget: nothing is kept
	}
	if s.variants, err = cache.NewSized[variantKey, *variant](cache.Options{
		MaxEntries: 100000, MaxBytes: cacheBytes, Now: s.clock.Now,
	}, variantSize); err != nil {
		return err
	}
	s.writeBacks.slots = make(chan struct{}, 64)
	s.eventQueue = make(chan eventJob, cfg.Events.Queue)
	s.gcm = newGCMetrics(s.metrics.reg)
	if s.sns, err = newSNSEndpoint(cfg.Events.SNS); err != nil {
		return err
	}
	for _, p := range cfg.Events.Eager {
		g, err := glob.Compile(p)
		if err != nil {
			return err
		}
		s.eagerGlobs = append(s.eagerGlobs, g)
	}
	return nil
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
	l := Listeners{Public: pub, Admin: adm}
	if l.TLS, l.QUIC, err = s.listenTLS(); err != nil {
		pub.Close()
		adm.Close()
		return err
	}
	return s.ServeOn(ctx, l)
}

// ServeListeners serves plain HTTP and admin on the given listeners: see
// ServeOn.
func (s *Server) ServeListeners(ctx context.Context, pub, adm net.Listener) error {
	return s.ServeOn(ctx, Listeners{Public: pub, Admin: adm})
}

// Listeners are the sockets a Server serves on. TLS is required when
// listen_tls is set; QUIC serves HTTP/3 when tls.http3 is on too (none: no
// HTTP/3).
type Listeners struct {
	Public, Admin, TLS net.Listener
	QUIC               net.PacketConn
}

// ServeOn serves on the given listeners until ctx is done, then answers
// /readyz 503 while still serving for ShutdownDelay, stops accepting,
// lets in-flight requests finish (bounded by ShutdownTimeout) and returns
// nil on a clean shutdown.
func (s *Server) ServeOn(ctx context.Context, l Listeners) error {
	pub, adm := l.Public, l.Admin
	if s.tls != nil && l.TLS == nil {
		pub.Close()
		adm.Close()
		return errors.New("gateway: listen_tls is set but no TLS listener was given")
	}
	if l.TLS != nil {
		s.conns.markTLS(l.TLS) // before any listener is wrapped
	}
	s.log.Info("edgegate listening", "public", pub.Addr().String(), "admin", adm.Addr().String(),
		"rules", s.cfg.Rules, "rules_hash", s.rules.Table().Hash())
	if a, ok := adm.Addr().(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
		s.adminLoopback = false
	}
	if !s.adminLoopback && s.cfg.Admin.Token == "" {
		s.log.Warn("the admin listener is not loopback-only and admin.token is not set: POST /-/reload and /events/s3 answer 403",
			"admin", adm.Addr().String())
	}
	errc := make(chan error, 5)
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	stopReadiness := s.ready.start()
	defer stopReadiness()
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
	s.startSQS()
	if s.cfg.GC.Schedule > 0 {
		go s.gcLoop(watchCtx)
	}
	loops, err := s.startLoops()
	if err != nil {
		pub.Close()
		adm.Close()
		return err
	}
	if loops != nil && !s.plainRedirect {
		go func() {
			if err := loops.Serve(pub); err != nil {
				errc <- err
			}
		}()
		go func() { errc <- s.public.Serve(loops.Handoffs()) }()
	} else {
		go func() { errc <- s.public.Serve(notHTTPListener{s.conns.listener(pub)}) }()
	}
	go func() {
		if err := s.admin.Serve(adm); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	s.serveTLSListeners(watchCtx, l, errc)
	select {
	case err := <-errc:
		return fmt.Errorf("gateway: serve: %w", err)
	case <-ctx.Done():
	}
	s.delay()
	return s.shutdown(loops)
}

// delay marks the server shutting down, so /readyz answers 503, and keeps
// serving for ShutdownDelay or until EndShutdownDelay, so that load
// balancers stop sending before the listeners close.
func (s *Server) delay() {
	s.shuttingDown.Store(true)
	if s.cfg.ShutdownDelay <= 0 {
		return
	}
	s.log.Info("shutdown delay: /readyz answers 503, still serving", "delay", s.cfg.ShutdownDelay)
	t := time.NewTimer(s.cfg.ShutdownDelay)
	defer t.Stop()
	select {
	case <-t.C:
		s.log.Info("shutdown delay over")
	case <-s.delayCut:
		s.log.Info("shutdown delay cut short")
	}
}

// EndShutdownDelay ends the shutdown delay now (a second SIGTERM): the
// listeners close at once. Called before shutdown begins, it makes the
// delay none. Safe for concurrent use.
func (s *Server) EndShutdownDelay() {
	s.delayCutOnce.Do(func() { close(s.delayCut) })
}

// shutdown stops accepting, lets in-flight requests finish (bounded by
// ShutdownTimeout), waits for background S3 work and releases the rest.
func (s *Server) shutdown(loops *evloop.Server) error {
	s.log.Info("shutting down: listeners closed, finishing in-flight requests", "timeout", s.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	sqsStopped := s.stopSQS(sctx) // no more receives; messages in flight finish or are released
	if s.tls != nil {
		s.tls.closeListener() // no new HTTPS connection for the loops
	}
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
	errs = append(errs, s.shutdownTLS(sctx)...)
	if err := s.geodb.Close(); err != nil {
		errs = append(errs, err)
	}
	<-sqsStopped
	s.writeBacks.wg.Wait() // pending write-backs, each bounded by the S3 timeout
	s.heads.wait()         // background existence refreshes, likewise
	// The spans of all that, sent within what is left of shutdown_timeout.
	if err := s.tracing.Shutdown(sctx); err != nil {
		errs = append(errs, err)
	}
	// After the last request, so that its line is written.
	if err := s.alog.Close(); err != nil {
		errs = append(errs, fmt.Errorf("gateway: access log: %w", err))
	}
	s.signer.Close()
	s.clock.Stop()
	return errors.Join(errs...)
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

// withClock returns cfg with its clock set (presign.Config is a value).
func withClock(cfg presign.Config, now func() time.Time) presign.Config {
	cfg.Now = now
	return cfg
}
