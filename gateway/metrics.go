package gateway

import (
	"cmp"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/edgegate/edgegate/accesslog"
	"github.com/edgegate/edgegate/resize"
	"github.com/edgegate/edgegate/store"
)

// metrics holds the gateway's Prometheus collectors on its own registry
// (no global state: two gateways in one process do not collide).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	// observers caches the label-resolved collectors per (route, status) so
	// the hot path does not hash label values on every request. The map is
	// copied on write (rare: a new route/status pair) and read lock-free.
	mu        sync.Mutex
	observers atomic.Pointer[map[obsKey]observer]

	rulesReloadSuccess prometheus.Gauge
	rulesReloads       *prometheus.CounterVec
	rulesLoadedAt      prometheus.Gauge
	geoReloadSuccess   prometheus.Gauge
	s3Heads            prometheus.Counter
	existsStale        prometheus.Counter // answers served past their window while S3 failed
	ready              prometheus.Gauge   // /readyz: 1 ready, 0 not
	readinessChecks    *prometheus.CounterVec
	offLoopShed        prometheus.Counter // registered by registerServer
	imageCache         *prometheus.CounterVec
	imagesRendered     prometheus.Counter
	variantsStored     prometheus.Counter
	storeConflicts     prometheus.Counter // write-backs another gateway's conditional write beat
	eventsProcessed    prometheus.Counter
	eventsRefused      *prometheus.CounterVec
	sqsMessages        *prometheus.CounterVec
	adminRefused       *prometheus.CounterVec

	imageSourceGets     *prometheus.CounterVec // by op: full, stopped
	imageSourcesRefused *prometheus.CounterVec // by reason

	badRequests *prometheus.CounterVec // requests fasthttp could not read, by reason

	s3Latency *prometheus.HistogramVec // by operation and bucket (store.Observer)
	s3Errors  *prometheus.CounterVec   // by operation and bucket

	adminAccepted prometheus.Counter // admin listener connections taken in
	adminOpen     prometheus.Gauge   // and open now

	renderTime    *prometheus.HistogramVec // libvips time by output format and preset ("custom" for custom sizes)
	sourceBytes   prometheus.Counter       // image source bytes downloaded
	admissionWait prometheus.Histogram     // time waiting for resize.Admission
}

type obsKey struct {
	route  string
	status int
}

type observer struct {
	count prometheus.Counter
	hist  prometheus.Observer
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgegate_requests_total",
			Help: "Public requests answered, by route and HTTP status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "edgegate_request_duration_seconds",
			Help:    "Time to answer a public request, by route and HTTP status code.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "code"}),
		rulesReloadSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "edgegate_rules_reload_success",
			Help: "1 if the last rules (re)load succeeded, 0 if it failed (the previous rules keep serving).",
		}),
		rulesReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgegate_rules_reloads_total",
			Help: "Rules reload attempts by result (success|failure).",
		}, []string{"result"}),
		rulesLoadedAt: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "edgegate_rules_loaded_timestamp_seconds",
			Help: "Unix time the serving rules were loaded.",
		}),
		geoReloadSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "edgegate_geoip_reload_success",
			Help: "1 if the last GeoIP database (re)load succeeded, 0 if it failed (the previous databases keep serving).",
		}),
		s3Heads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "edgegate_s3_head_requests_total",
			Help: "HEAD requests sent to S3 for existence checks (cache misses).",
		}),
		existsStale: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "edgegate_exists_stale_served_total",
			Help: "Existence answers served from the cache past their stale-while-revalidate window because S3 was failing (exists.stale_if_error).",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "edgegate_ready",
			Help: "1 if /readyz answers ready (the background S3 checks pass, readiness.failures in a row make it 0), else 0.",
		}),
		readinessChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgegate_readiness_checks_total",
			Help: "Background readiness checks (a HEAD of each routed bucket), by result: success, failure.",
		}, []string{"result"}),
		offLoopShed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "edgegate_loop_shed_total",
			Help: "Route requests the event loops answered 503 at once because exists.max_waiting were already waiting off-loop for S3.",
		}),
	}
	m.imageCache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgegate_image_requests_total",
		Help: "Image answers by where the variant came from: hit (in-process cache), stored (S3 write-back tier), miss (rendered).",
	}, []string{"result"})
	m.imagesRendered = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "edgegate_images_rendered_total", Help: "Variants rendered with libvips.",
	})
	m.imageSourceGets = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgegate_image_source_gets_total",
		Help: "S3 GETs of image sources, by op: full (read whole, to render), stopped (refused from the size or the first bytes, the rest never read).",
	}, []string{"op"})
	m.imageSourcesRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgegate_image_sources_refused_total",
		Help: "Image sources refused before rendering, by reason: type (HEAD's Content-Type), size (HEAD's size over max_source_bytes), probe (the first bytes), cached (an earlier refusal of the same version), budget (source_bytes_in_flight).",
	}, []string{"reason"})
	m.reg.MustRegister(m.imageSourceGets, m.imageSourcesRefused)
	m.variantsStored = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "edgegate_variants_stored_total", Help: "Variants written back to S3.",
	})
	m.storeConflicts = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "edgegate_image_store_conflicts_total",
		Help: "Variant write-backs not stored because another gateway stored the same variant first (the S3 conditional write answered 412): renders the fleet did twice, one copy written.",
	})
	m.reg.MustRegister(m.storeConflicts)
	m.eventsProcessed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "edgegate_upload_events_processed_total",
		Help: "Queued upload events whose eager renders have finished (rendered, skipped or failed).",
	})
	m.eventsRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgegate_events_refused_total",
		Help: "Upload event posts refused, by reason: unauthorized, no_token, content_type, cross_origin, bucket (not one the rules name), body, queue_full.",
	}, []string{"reason"})
	m.adminRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgegate_admin_refused_total",
		Help: "Admin requests refused, by reason: host (not an admin host: DNS rebinding), cross_origin, unauthorized, no_token. Events count in edgegate_events_refused_total.",
	}, []string{"reason"})
	m.reg.MustRegister(m.eventsRefused, m.adminRefused)
	m.sqsMessages = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgegate_sqs_messages_total",
		Help: "SQS messages (events.sqs) by queue (its name) and outcome: done (rendered and stored, then deleted), test_event (deleted), failed (left for redelivery), dead_letter (failed at the queue's maxReceiveCount: its redrive policy moves it to the dead-letter queue), malformed (not an envelope edgegate reads; left for the dead-letter queue), released (given back at shutdown), delete_failed, receive_error (a failed receive, not a message).",
	}, []string{"queue", "outcome"})
	m.reg.MustRegister(m.sqsMessages)
	m.badRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgegate_bad_requests_total",
		Help: "Public requests refused before routing because they could not be read, by reason: not_http (bytes that cannot start an HTTP request, answered by fasthttp; the event loops count theirs in edgegate_loop_not_http_total), head_too_large (431), body_too_large (413), timeout (408), malformed (400).",
	}, []string{"reason"})
	for _, r := range []string{"not_http", "head_too_large", "body_too_large", "timeout", "malformed"} {
		m.badRequests.WithLabelValues(r) // 0 until the first: rate() and alerts see the series
	}
	m.reg.MustRegister(m.badRequests)
	m.s3Latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "edgegate_s3_request_duration_seconds",
		Help:    "S3 operations by operation (HeadObject, GetObject, PutObject, DeleteObject, ListObjectsV2, HeadBucket) and bucket: time until the answer's headers (a GET's body streams after), retries included, whatever the outcome.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"operation", "bucket"})
	m.s3Errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgegate_s3_request_errors_total",
		Help: "S3 operations that failed (refused, failed or timed out; a missing object or a failed write condition is an answer, not an error), by operation and bucket.",
	}, []string{"operation", "bucket"})
	m.reg.MustRegister(m.s3Latency, m.s3Errors)
	m.renderTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "edgegate_image_render_duration_seconds",
		Help:    "Time libvips took to render a variant, by output format (jpeg, png, webp, avif) and preset (its name; custom for every custom size).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"format", "preset"})
	m.sourceBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "edgegate_image_source_bytes_total",
		Help: "Bytes of image sources downloaded from S3 to render (the first bytes of a refused source included).",
	})
	m.admissionWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "edgegate_image_admission_wait_seconds",
		Help:    "Time a render waited for image admission (images.max_megapixels_in_flight), admitted or refused.",
		Buckets: []float64{.0001, .001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	})
	m.reg.MustRegister(m.renderTime, m.sourceBytes, m.admissionWait)
	m.adminAccepted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "edgegate_admin_connections_accepted_total", Help: "Admin listener connections taken in.",
	})
	m.adminOpen = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "edgegate_admin_connections", Help: "Admin listener connections open now.",
	})
	m.reg.MustRegister(m.adminAccepted, m.adminOpen)
	m.observers.Store(&map[obsKey]observer{})
	m.reg.MustRegister(m.requests, m.latency, m.rulesReloadSuccess, m.rulesReloads, m.rulesLoadedAt,
		m.geoReloadSuccess, m.s3Heads, m.existsStale, m.ready, m.readinessChecks, m.imageCache, m.imagesRendered, m.variantsStored, m.eventsProcessed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// registerBuildInfo adds edgegate_build_info: 1, labelled with the build
// (buildLabels).
func (m *metrics) registerBuildInfo(version, revision string) {
	bi, _ := debug.ReadBuildInfo()
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "edgegate_build_info",
		Help:        "Always 1, labelled with the build: version (stamped at build time, else the main module's), goversion, revision (the VCS revision, -modified when the tree had changes).",
		ConstLabels: buildLabels(version, revision, bi),
	}, func() float64 { return 1 }))
}

// buildLabels are edgegate_build_info's labels: version (the given one,
// else the main module's), the Go version and the VCS revision (the given
// one, stamped at build time, else the toolchain's); "unknown" for what
// the build does not say.
func buildLabels(version, revision string, bi *debug.BuildInfo) prometheus.Labels {
	l := buildLabelsOf(version, bi)
	if revision != "" {
		l["revision"] = revision
	}
	return l
}

func buildLabelsOf(version string, bi *debug.BuildInfo) prometheus.Labels {
	l := prometheus.Labels{"version": version, "goversion": runtime.Version(), "revision": "unknown"}
	if bi == nil {
		if version == "" {
			l["version"] = "unknown"
		}
		return l
	}
	if version == "" {
		l["version"] = cmp.Or(bi.Main.Version, "unknown")
	}
	l["goversion"] = cmp.Or(bi.GoVersion, l["goversion"])
	modified := false
	for _, st := range bi.Settings {
		switch st.Key {
		case "vcs.revision":
			l["revision"] = st.Value
		case "vcs.modified":
			modified = st.Value == "true"
		}
	}
	if modified && l["revision"] != "unknown" {
		l["revision"] += "-modified"
	}
	return l
}

// rendered records one libvips render of a variant: its output format and
// its preset, custom sizes (unbounded: W x H x fit) all under "custom".
func (m *metrics) rendered(f resize.Format, tr resize.Transform, took time.Duration) {
	preset := tr.Preset
	if tr.Custom() {
		preset = "custom"
	}
	m.renderTime.WithLabelValues(f.String(), preset).Observe(took.Seconds())
}

// ObserveS3 records one S3 operation (store.Observer). Buckets are the
// ones the config and the rules name, a bounded set.
func (m *metrics) ObserveS3(op, bucket string, took time.Duration, result store.Result) {
	m.s3Latency.WithLabelValues(op, bucket).Observe(took.Seconds())
	errs := m.s3Errors.WithLabelValues(op, bucket) // 0 from the first operation on: rate() sees the series
	if result == store.ResultError {
		errs.Inc()
	}
}

// observe records one request.
func (m *metrics) observe(route string, status int, d time.Duration) {
	k := obsKey{route, status}
	o, ok := (*m.observers.Load())[k]
	if !ok {
		s := strconv.Itoa(status)
		o = observer{m.requests.WithLabelValues(route, s), m.latency.WithLabelValues(route, s)}
		m.mu.Lock()
		old := *m.observers.Load()
		next := make(map[obsKey]observer, len(old)+1)
		for kk, vv := range old {
			next[kk] = vv
		}
		next[k] = o
		m.observers.Store(&next)
		m.mu.Unlock()
	}
	o.count.Inc()
	o.hist.Observe(d.Seconds())
}

func (m *metrics) rulesReloaded(err error, at time.Time) {
	if err != nil {
		m.rulesReloadSuccess.Set(0)
		m.rulesReloads.WithLabelValues("failure").Inc()
		return
	}
	m.rulesReloadSuccess.Set(1)
	m.rulesReloads.WithLabelValues("success").Inc()
	m.rulesLoadedAt.Set(float64(at.UnixNano()) / 1e9)
}

func (m *metrics) geoReloaded(err error) {
	if err != nil {
		m.geoReloadSuccess.Set(0)
		return
	}
	m.geoReloadSuccess.Set(1)
}

// registerAccessLog exports what the access log wrote and dropped (both 0
// while it is off).
func (m *metrics) registerAccessLog(l *accesslog.Logger) {
	stats := func() accesslog.Stats {
		if l == nil {
			return accesslog.Stats{}
		}
		return l.Stats()
	}
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "edgegate_access_log_lines_total",
			Help: "Access log lines written."},
			func() float64 { return float64(stats().Written) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "edgegate_access_log_dropped_total",
			Help: "Access log lines dropped because the writer fell behind (access_log.buffer full) or a write failed."},
			func() float64 { st := stats(); return float64(st.Dropped + st.Lost) }),
	)
}

// connCollector exports what each public listener's admission decided
// (connLimit.byListener), read at scrape time.
type connCollector struct {
	cl                *connLimit
	accepted, refused *prometheus.Desc
}

func newConnCollector(cl *connLimit) *connCollector {
	return &connCollector{cl: cl,
		accepted: prometheus.NewDesc("edgegate_connections_accepted_total",
			"Public connections taken in, by listener: plain (event loops and fasthttp), tls (HTTPS: HTTP/1.1 and HTTP/2), quic (HTTP/3).",
			[]string{"listener"}, nil),
		refused: prometheus.NewDesc("edgegate_connections_refused_total",
			"Public connections closed at once, by listener (plain, tls, quic) and reason: per_ip (the address held max_connections_per_ip), full (max_connections reached, none idle to close).",
			[]string{"listener", "reason"}, nil),
	}
}

func (c *connCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.accepted; ch <- c.refused }

func (c *connCollector) Collect(ch chan<- prometheus.Metric) {
	for l, n := range c.cl.byListener() {
		ch <- prometheus.MustNewConstMetric(c.accepted, prometheus.CounterValue, float64(n.accepted), l)
		ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(n.refusedPeer), l, "per_ip")
		ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(n.refusedFull), l, "full")
	}
}

// adminConnState is the admin server's ConnState hook: it counts the
// admin listener's connections (none are refused: it has no limit).
func (m *metrics) adminConnState(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		m.adminAccepted.Inc()
		m.adminOpen.Inc()
	case http.StateClosed, http.StateHijacked:
		m.adminOpen.Dec()
	}
}

// registerServer adds the gauges read from the server's parts at scrape
// time: the variant cache, the event loops and the image admission.
func (m *metrics) registerServer(s *Server) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgegate_image_cache_bytes",
			Help: "Bytes of rendered variants held in the in-process cache."},
			func() float64 { return float64(s.variants.Stats().Bytes) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgegate_image_cache_entries",
			Help: "Rendered variants held in the in-process cache."},
			func() float64 { return float64(s.variants.Stats().Entries) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "edgegate_loop_not_http_total",
			Help: "Connections the event loops answered 400 and closed at once: bytes that cannot start an HTTP request (a TLS handshake, binary). fasthttp's count in edgegate_bad_requests_total{reason=\"not_http\"}."},
			func() float64 { return float64(s.loopStats().NotHTTP) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "edgegate_loop_handoffs_total",
			Help: "Connections the event loops gave to fasthttp (not /r/, a body, HTTP/1.0, ...)."},
			func() float64 { return float64(s.loopStats().Handoffs) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgegate_loop_connections",
			Help: "Connections the event loops hold now (handed-off ones are fasthttp's)."},
			func() float64 { return float64(s.loopStats().Open) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "edgegate_loop_paused_total",
			Help: "Times the event loops stopped reading a connection whose unread answers were over max_unsent_bytes."},
			func() float64 { return float64(s.loopStats().Paused) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "edgegate_loop_blocked_total",
			Help: "Route requests the event loops answered off-loop (an existence check had to ask S3)."},
			func() float64 { return float64(s.loopStats().Blocked) }),
		newConnCollector(s.conns),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "edgegate_connections_evicted_total",
			Help: "Idle public connections closed to make room for new ones (max_connections reached)."},
			func() float64 { return float64(s.conns.lim.Stats().Evicted) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgegate_connections",
			Help: "Public connections open now (event loops and fasthttp)."},
			func() float64 { return float64(s.conns.lim.Open()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgegate_connections_max",
			Help: "The public connection limit in force (max_connections, or its default from the open-file limit)."},
			func() float64 { return float64(s.conns.total) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "edgegate_exists_cache_hits_total",
			Help: "Existence checks answered from memory (positive or negative, stale ones included); those that asked S3 count in edgegate_s3_head_requests_total."},
			func() float64 { return float64(s.heads.hits()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgegate_image_admission_megapixels_in_use",
			Help: "Megapixels of images being decoded or resized now."},
			func() float64 { mp, _ := s.admission.InUse(); return float64(mp) }),
	)
	m.reg.MustRegister(m.offLoopShed,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "edgegate_s3_shed_total",
			Help: "S3 requests (HEAD, GET, PUT) refused because s3.max_concurrent were in flight for all of s3.queue_wait (answered 503)."},
			func() float64 { return float64(s.store.Shed()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgegate_s3_requests_in_flight",
			Help: "S3 requests (HEAD, GET, PUT) in flight now, at most s3.max_concurrent."},
			func() float64 { return float64(s.store.InFlight()) }),
	)
}
