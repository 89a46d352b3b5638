package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
	"github.com/edgegate/edgegate/store"
)

// The ACME tests run one after another (no t.Parallel): certmagic keeps
// the challenges being solved in process-wide state keyed by name, and
// they all use "localhost" (which Pebble resolves to 127.0.0.1).

// events collects certmagic's events of the Managers under test.
type events struct {
	mu  sync.Mutex
	all []string // "event name"
	ch  chan struct{}
}

func newEvents() *events { return &events{ch: make(chan struct{}, 1)} }

func (e *events) hook(ev string, data map[string]any) {
	name, _ := data["identifier"].(string)
	if sans, ok := data["sans"].([]string); ok && name == "" {
		name = strings.Join(sans, ",")
	}
	if r, _ := data["renewal"].(bool); r {
		ev += "/renewal"
	}
	e.mu.Lock()
	e.all = append(e.all, ev+" "+name)
	e.mu.Unlock()
	select {
	case e.ch <- struct{}{}:
	default:
	}
}

func (e *events) count(ev string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, x := range e.all {
		if strings.HasPrefix(x, ev+" ") {
			n++
		}
	}
	return n
}

// waitCount waits until ev has happened at least n times.
func (e *events) waitCount(t *testing.T, ev string, n int) {
	t.Helper()
	deadline := time.After(wait)
	for e.count(ev) < n {
		select {
		case <-e.ch:
		case <-deadline:
			e.mu.Lock()
			defer e.mu.Unlock()
			t.Fatalf("timed out waiting for %d %q events; events: %q", n, ev, e.all)
		}
	}
}

// logBuffer is an slog handler target tests can search.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// acmeEnv is a Pebble with challenge ports, and what a Manager needs to
// use it.
type acmeEnv struct {
	pebble            *testenv.Pebble
	httpPort, tlsPort int
	httpAddr, tlsAddr string
	events            *events
	logs              *logBuffer
	log               *slog.Logger
}

func newACMEEnv(t *testing.T, validity time.Duration) *acmeEnv {
	t.Helper()
	return newACMEEnvWith(t, testenv.PebbleOptions{Validity: validity})
}

// newACMEEnvWith starts Pebble with o and challenge ports of its own.
func newACMEEnvWith(t *testing.T, o testenv.PebbleOptions) *acmeEnv {
	t.Helper()
	e := &acmeEnv{httpPort: testenv.FreePort(t), tlsPort: testenv.FreePort(t), events: newEvents(), logs: &logBuffer{}}
	e.httpAddr = "127.0.0.1:" + strconv.Itoa(e.httpPort)
	e.tlsAddr = "127.0.0.1:" + strconv.Itoa(e.tlsPort)
	o.HTTPPort, o.TLSPort = e.httpPort, e.tlsPort
	e.pebble = testenv.NewPebble(t, o)
	e.log = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return e
}

func (e *acmeEnv) config(challenges []string, storage StorageConfig) Config {
	return Config{ACME: ACMEConfig{Names: []string{"localhost"}, CA: e.pebble.Directory, CARoot: e.pebble.CARootFile,
		Email: "ops@example.com", Challenges: challenges, Storage: storage}}
}

func (e *acmeEnv) manager(t *testing.T, cfg Config, st *store.Store) *Manager {
	t.Helper()
	m, err := New(context.Background(), cfg, Options{Store: st, Log: e.log, Registerer: prometheus.NewRegistry(),
		HTTPPort: e.httpPort, TLSPort: e.tlsPort, renewCheck: 500 * time.Millisecond,
		lockPoll: 200 * time.Millisecond, onEvent: e.events.hook})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// serveHTTPChallenges is the plain listener: HTTPChallenge first (spread
// over the Managers, as a load balancer would), else 404.
func serveHTTPChallenges(t *testing.T, addr string, ms ...*Manager) *atomic.Int64 {
	t.Helper()
	var served atomic.Int64
	var next atomic.Uint64
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := ms[next.Add(1)%uint64(len(ms))]
		if m.HTTPChallenge(w, r) {
			served.Add(1)
			return
		}
		http.NotFound(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &served
}

// verify handshakes with SNI localhost and checks the chain against
// Pebble's root with a real crypto/tls client; it returns the serial.
func (e *acmeEnv) verify(t *testing.T, addr string, roots *x509.CertPool) string {
	t.Helper()
	st, err := dial(addr, "localhost", roots, nil)
	if err != nil {
		t.Fatalf("handshake with the issued certificate: %v", err)
	}
	if len(st.VerifiedChains) == 0 {
		t.Fatal("no verified chain")
	}
	return leafOf(st).SerialNumber.String()
}

// HTTP-01: the plain listener answers the challenge through HTTPChallenge;
// the certificate is served and verifies against Pebble's root; unknown
// names fail the handshake and cause no issuance.
func TestACMEHTTP01(t *testing.T) {
	e := newACMEEnv(t, 0)
	m := e.manager(t, e.config([]string{ChallengeHTTP01}, StorageConfig{Dir: t.TempDir()}), nil)
	served := serveHTTPChallenges(t, e.httpAddr, m)
	srv := serveTLS(t, m, "")
	if st, err := dial(srv.addr, "localhost", nil, nil); err == nil {
		t.Fatalf("handshake before issuance succeeded: %v", st)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.events.waitCount(t, "cached_managed_cert", 1)
	e.verify(t, srv.addr, e.pebble.Roots(t))
	if served.Load() == 0 {
		t.Error("the HTTP-01 challenge was not answered through HTTPChallenge")
	}
	if got := e.pebble.Issued(); got != 1 {
		t.Errorf("Pebble issued %d certificates, want 1", got)
	}
	if got := counter(t, m.met.acme.WithLabelValues("obtain", "ok")); got != 1 {
		t.Errorf("acme_total{obtain,ok} = %v, want 1", got)
	}
	if got := counter(t, m.met.handshakeErrors.WithLabelValues(ReasonNoCertificate)); got != 1 {
		t.Errorf("handshake_errors{no_certificate} = %v, want 1 (the handshake before issuance)", got)
	}
	st := m.Status()
	if len(st) != 1 || st[0].Source != SourceACME || st[0].NotAfter.IsZero() || st[0].Error != "" ||
		!strings.Contains(st[0].Issuer, "Pebble") {
		t.Errorf("Status = %+v", st)
	}
	if n := testutil.CollectAndCount(m.met.expiry); n != 1 {
		t.Errorf("expiry gauge has %d series, want 1", n)
	}

	// Names nobody configured: the handshake fails, nothing is issued.
	for _, sni := range []string{"vm", "unknown.example.com", "127.0.0.1.nip.io"} {
		if _, err := dial(srv.addr, sni, e.pebble.Roots(t), func(c *tls.Config) { c.InsecureSkipVerify = true }); err == nil {
			t.Errorf("SNI %q: handshake succeeded", sni)
		}
	}
	if _, err := dial(srv.addr, "vm", nil, func(c *tls.Config) {
		c.InsecureSkipVerify, c.NextProtos = true, []string{ACMETLS1Protocol}
	}); err == nil {
		t.Error("an acme-tls/1 handshake for a name not configured (and TLS-ALPN-01 off) succeeded")
	}
	// (The acme-tls/1 one fails earlier: TLS-ALPN-01 is off, so the
	// protocol is not offered.)
	waitFor(t, "unknown names counted", func() bool {
		return counter(t, m.met.handshakeErrors.WithLabelValues(ReasonUnknownSNI)) == 3
	})
	if got := e.pebble.Issued(); got != 1 {
		t.Errorf("Pebble issued %d certificates after unknown names, want still 1", got)
	}
	if got := e.events.count("cert_obtaining"); got != 1 {
		t.Errorf("%d cert_obtaining events, want 1", got)
	}
	// HTTPChallenge leaves other requests and other hosts to the caller.
	for _, target := range []string{"http://localhost/r/x", "http://vm/.well-known/acme-challenge/abc"} {
		r, _ := http.NewRequest(http.MethodGet, target, nil)
		if m.HTTPChallenge(nopWriter{}, r) {
			t.Errorf("HTTPChallenge took %s", target)
		}
	}
}

type nopWriter struct{}

func (nopWriter) Header() http.Header         { return http.Header{} }
func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (nopWriter) WriteHeader(int)             {}

// TLS-ALPN-01: the TLS listener with TLSConfig answers the challenge in
// the handshake; no plain listener at all.
func TestACMETLSALPN01(t *testing.T) {
	e := newACMEEnv(t, 0)
	m := e.manager(t, e.config([]string{ChallengeTLSALPN01}, StorageConfig{Dir: t.TempDir()}), nil)
	if !strings.Contains(strings.Join(m.TLSConfig().NextProtos, ","), ACMETLS1Protocol) {
		t.Fatalf("NextProtos %q lack acme-tls/1", m.TLSConfig().NextProtos)
	}
	srv := serveTLS(t, m, e.tlsAddr)
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.events.waitCount(t, "cached_managed_cert", 1)
	e.verify(t, srv.addr, e.pebble.Roots(t))
	// acme-tls/1 handshakes with no challenge under way, for our name or
	// another, get no certificate and start nothing.
	for _, sni := range []string{"localhost", "vm"} {
		if _, err := dial(srv.addr, sni, nil, func(c *tls.Config) {
			c.InsecureSkipVerify, c.NextProtos = true, []string{ACMETLS1Protocol}
		}); err == nil {
			t.Errorf("acme-tls/1 handshake for %s without a challenge succeeded", sni)
		}
	}
	if got := e.pebble.Issued(); got != 1 {
		t.Errorf("Pebble issued %d certificates, want 1", got)
	}
	if got := e.events.count("cert_obtaining"); got != 1 {
		t.Errorf("%d cert_obtaining events, want 1", got)
	}
}

// A short-lived certificate is renewed in the background and the new one
// served.
func TestACMERenewal(t *testing.T) {
	e := newACMEEnv(t, 12*time.Second)
	cfg := e.config([]string{ChallengeHTTP01}, StorageConfig{Dir: t.TempDir()})
	cfg.ACME.RenewalWindowRatio = 0.6
	m := e.manager(t, cfg, nil)
	serveHTTPChallenges(t, e.httpAddr, m)
	srv := serveTLS(t, m, "")
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.events.waitCount(t, "cached_managed_cert", 1)
	roots := e.pebble.Roots(t)
	first := e.verify(t, srv.addr, roots)
	e.events.waitCount(t, "cert_obtained/renewal", 1)
	waitFor(t, "the renewed certificate served", func() bool { return e.verify(t, srv.addr, roots) != first })
	if got := counter(t, m.met.acme.WithLabelValues("renew", "ok")); got < 1 {
		t.Errorf("acme_total{renew,ok} = %v", got)
	}
}

// A failed issuance (the HTTP-01 challenge server accepts and drops every
// connection) is reported, counted and scheduled for a retry; handshakes
// for the name fail cleanly meanwhile and Close stops the retries.
func TestACMEFailedIssuance(t *testing.T) {
	e := newACMEEnv(t, 0)
	m := e.manager(t, e.config([]string{ChallengeHTTP01}, StorageConfig{Dir: t.TempDir()}), nil)
	ln, err := net.Listen("tcp", e.httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	srv := serveTLS(t, m, "")
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.events.waitCount(t, "cert_failed", 1)
	waitFor(t, "the retry scheduled", func() bool { return strings.Contains(e.logs.String(), "will retry") })
	if got := counter(t, m.met.acme.WithLabelValues("obtain", "error")); got < 1 {
		t.Errorf("acme_total{obtain,error} = %v", got)
	}
	if st := m.Status(); len(st) != 1 || st[0].Error == "" || !st[0].NotAfter.IsZero() {
		t.Errorf("Status = %+v, want the failure", st)
	}
	if _, err := dial(srv.addr, "localhost", nil, func(c *tls.Config) { c.InsecureSkipVerify = true }); err == nil {
		t.Error("handshake without a certificate succeeded")
	}
	if got := e.pebble.Issued(); got != 0 {
		t.Errorf("Pebble issued %d certificates", got)
	}
	done := make(chan struct{})
	go func() { m.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("Close did not return")
	}
}

// Three gateways sharing the S3 bucket start together: one issuance, and
// all three serve the same certificate.
func TestACMEFleetSharesOneIssuance(t *testing.T) {
	e := newACMEEnv(t, 0)
	endpoint := testenv.S3(t)
	st, err := store.New(context.Background(), store.Config{Endpoint: endpoint, Region: demo.Region, PathStyle: true,
		AccessKey: demo.AccessKey, SecretKey: demo.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("test/certs/%s-%d/", t.Name(), time.Now().UnixNano())
	cfg := e.config([]string{ChallengeHTTP01}, StorageConfig{Bucket: demo.Bucket, Prefix: prefix})
	var ms []*Manager
	for range 3 {
		ms = append(ms, e.manager(t, cfg, st))
	}
	serveHTTPChallenges(t, e.httpAddr, ms...)
	var addrs []string
	for _, m := range ms {
		addrs = append(addrs, serveTLS(t, m, "").addr)
	}
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Go(func() {
			if err := m.Start(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	e.events.waitCount(t, "cached_managed_cert", 3)
	roots := e.pebble.Roots(t)
	serials := map[string]bool{}
	for _, a := range addrs {
		serials[e.verify(t, a, roots)] = true
	}
	if len(serials) != 1 {
		t.Errorf("the gateways serve %d different certificates, want 1", len(serials))
	}
	if got := e.pebble.Issued(); got != 1 {
		t.Errorf("Pebble issued %d certificates for 3 gateways, want 1", got)
	}
	if got := e.events.count("cert_obtaining"); got != 1 {
		t.Errorf("%d cert_obtaining events, want 1", got)
	}
}

// An IP address name (the demo's 127.0.0.1) over TLS-ALPN-01, whose
// validation handshake names the address reversed (RFC 8738); a client
// dialling the address without SNI gets that certificate.
func TestACMEIPAddress(t *testing.T) {
	e := newACMEEnv(t, 0)
	cfg := e.config([]string{ChallengeTLSALPN01}, StorageConfig{Dir: t.TempDir()})
	cfg.ACME.Names = []string{"127.0.0.1"}
	m := e.manager(t, cfg, nil)
	srv := serveTLS(t, m, e.tlsAddr)
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.events.waitCount(t, "cached_managed_cert", 1)
	st, err := dial(srv.addr, "", e.pebble.Roots(t), nil)
	if err != nil {
		t.Fatalf("handshake without SNI: %v", err)
	}
	if ips := leafOf(st).IPAddresses; len(ips) != 1 || ips[0].String() != "127.0.0.1" {
		t.Errorf("served IP SANs %v", ips)
	}
}

// A gateway whose S3 storage is unreachable at Start (certmagic gives up
// on such a name with a log line) manages the name again once the storage
// is back, without a restart.
func TestACMEStorageDownAtStart(t *testing.T) {
	e := newACMEEnv(t, 0)
	s3Addr := testenv.FreeAddr(t)
	st, err := store.New(context.Background(), store.Config{Endpoint: "http://" + s3Addr, Region: demo.Region, PathStyle: true,
		AccessKey: demo.AccessKey, SecretKey: demo.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.config([]string{ChallengeHTTP01}, StorageConfig{Bucket: demo.Bucket})
	m, err := New(context.Background(), cfg, Options{Store: st, Log: e.log, Registerer: prometheus.NewRegistry(),
		HTTPPort: e.httpPort, TLSPort: e.tlsPort, lockPoll: 200 * time.Millisecond, recheck: 300 * time.Millisecond,
		onEvent: e.events.hook})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	serveHTTPChallenges(t, e.httpAddr, m)
	srv := serveTLS(t, m, "")
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the storage failure logged", func() bool { return strings.Contains(e.logs.String(), "connection refused") })
	testenv.NewS3(t, s3Addr)
	e.events.waitCount(t, "cached_managed_cert", 1)
	e.verify(t, srv.addr, e.pebble.Roots(t))
}
