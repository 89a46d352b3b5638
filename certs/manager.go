package certs

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgegate/edgegate/internal/filewatch"
	"github.com/edgegate/edgegate/store"
)

// Options are what a Manager needs besides its Config.
type Options struct {
	// Store reaches the bucket of acme.storage.bucket (required then).
	Store *store.Store
	// Log receives reloads, ACME progress (certmagic's logs) and failures.
	// Default: discard.
	Log *slog.Logger
	// Registerer gets the metrics; Close unregisters them. Default: a
	// private registry.
	Registerer prometheus.Registerer
	// HTTPPort and TLSPort are the ports of the gateway's listeners that
	// answer the HTTP-01 challenge (the plain one, calling HTTPChallenge)
	// and the TLS-ALPN-01 challenge (the TLS one, with TLSConfig). Before
	// each challenge certmagic tries to bind them itself and, finding them
	// taken, leaves the challenge to those listeners: Start only once they
	// are bound. Default: 80 and 443.
	HTTPPort, TLSPort int
	// Now is the clock of file load times. Default: time.Now.
	Now func() time.Time

	// Test hooks: file watch timing, certmagic's maintenance interval, the
	// S3 lock's timing, the supervisor's first interval, and callbacks
	// after each file reload and each certmagic event.
	debounce, poll time.Duration
	renewCheck     time.Duration
	lockPoll       time.Duration
	lockLease      time.Duration
	recheck        time.Duration
	onReload       func(ok, failed int)
	onEvent        func(event string, data map[string]any)
}

// Manager serves the certificates of a Config: files (watched and
// reloaded) and ACME names (obtained and renewed by certmagic once Start
// is called). Safe for concurrent use.
type Manager struct {
	cfg         Config
	opt         Options
	log         *slog.Logger
	met         *metrics
	files       atomic.Pointer[fileSet]
	acmeNames   map[string]bool // normalized
	acmeList    []string        // normalized, config order
	defaultName string
	tlsTmpl     *tls.Config

	acme *acmeState // nil without ACME names

	ctx       context.Context // cancelled by Close
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	startOnce sync.Once
	closeOnce sync.Once
}

// New validates c, loads the certificate files (an error if one cannot be
// loaded), starts watching them, and prepares ACME (reading acme.ca_root;
// nothing is contacted before Start). ctx bounds only New's own work.
func New(ctx context.Context, c Config, o Options) (*Manager, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if !c.Enabled() {
		return nil, errors.New("certs: no certificates: set certificates or acme.names")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTPPort == 0 {
		o.HTTPPort = 80
	}
	if o.TLSPort == 0 {
		o.TLSPort = 443
	}
	m := &Manager{cfg: c, opt: o, log: o.Log, acmeNames: map[string]bool{}}
	for _, n := range c.ACME.Names {
		n = normalize(n)
		m.acmeNames[n] = true
		m.acmeList = append(m.acmeList, n)
	}
	set, _, _, err := loadFiles(c.Certificates, nil, o.Now())
	if err != nil {
		return nil, err
	}
	m.files.Store(set)
	switch {
	case c.DefaultName != "":
		m.defaultName = normalize(c.DefaultName)
	case set.first != "":
		m.defaultName = set.first
	case len(m.acmeList) > 0:
		m.defaultName = m.acmeList[0]
	}
	if m.met, err = newMetrics(o.Registerer, m); err != nil {
		return nil, err
	}
	if len(m.acmeList) > 0 {
		if m.acme, err = newACME(ctx, m); err != nil {
			m.met.unregister()
			return nil, err
		}
	}
	m.tlsTmpl = m.buildTLSConfig()
	m.ctx, m.cancel = context.WithCancel(context.Background())
	if len(c.Certificates) > 0 {
		m.wg.Go(m.watchFiles)
	}
	return m, nil
}

// watchFiles reloads the files on change until Close.
func (m *Manager) watchFiles() {
	var paths []string
	for _, p := range m.cfg.Certificates {
		paths = append(paths, p.CertFile, p.KeyFile)
	}
	err := filewatch.Run(m.ctx, paths, filewatch.Config{Debounce: m.opt.debounce, PollInterval: m.opt.poll, Logger: m.log},
		func() { m.reloadFiles() })
	if err != nil {
		m.log.Error("certs: watching certificate files", "err", err)
	}
}

// reloadFiles loads the pairs again, keeping the old one of each pair that
// fails, and swaps the new set in.
func (m *Manager) reloadFiles() {
	prev := m.files.Load()
	set, changed, failed, _ := loadFiles(m.cfg.Certificates, prev, m.opt.Now())
	m.files.Store(set)
	for _, fc := range set.certs {
		if fc.lastErr != nil {
			m.log.Error("certs: certificate reload failed; the previous pair keeps serving",
				"cert_file", fc.pair.CertFile, "key_file", fc.pair.KeyFile, "err", fc.lastErr)
		}
	}
	if changed > 0 {
		m.log.Info("certs: certificate files reloaded", "pairs", changed)
	}
	m.met.reloads.WithLabelValues("ok").Add(float64(changed))
	m.met.reloads.WithLabelValues("error").Add(float64(failed))
	if m.opt.onReload != nil {
		m.opt.onReload(changed, failed)
	}
}

// Modern TLS 1.2 suites (AEAD with forward secrecy, ECDSA first); TLS 1.3
// suites are not configurable and all good.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// ACMETLS1Protocol is the ALPN protocol of the TLS-ALPN-01 challenge.
const ACMETLS1Protocol = "acme-tls/1"

func (m *Manager) buildTLSConfig() *tls.Config {
	protos := []string{"h2", "http/1.1"}
	if m.acme != nil && m.acme.tlsalpn01 {
		protos = append(protos, ACMETLS1Protocol)
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   tls12Suites,
		NextProtos:     protos,
		GetCertificate: m.getCertificate,
	}
}

// TLSConfig returns a new tls.Config for the public TLS listener: TLS 1.2
// and 1.3 only, modern suites, ECDSA certificates preferred, ALPN "h2" and
// "http/1.1" (and "acme-tls/1" when TLS-ALPN-01 is on: a connection that
// negotiates it is a challenge, answered during the handshake, and the
// listener closes it), and GetCertificate choosing by SNI: certificate
// files (exact name, then wildcard), then ACME names. A server name no one
// configured fails the handshake with ErrUnknownName (nothing is ever
// issued for it); a client without SNI gets a certificate holding the IP
// address it dialled, else DefaultName's. The caller may change the
// returned Config.
func (m *Manager) TLSConfig() *tls.Config { return m.tlsTmpl.Clone() }

func (m *Manager) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == ACMETLS1Protocol {
		return m.acme.challengeCert(m, hello)
	}
	set := m.files.Load()
	name := normalize(hello.ServerName)
	if name == "" {
		if ip, ok := localIP(hello); ok {
			if cs := set.ips[ip]; len(cs) > 0 {
				return pick(hello, cs), nil
			}
			if m.acmeNames[ip.String()] {
				return m.acme.cert(hello, ip.String())
			}
		}
		name = m.defaultName
	}
	if cs := set.lookup(name); len(cs) > 0 {
		return pick(hello, cs), nil
	}
	if ip, err := netip.ParseAddr(name); err == nil {
		if cs := set.ips[ip.Unmap()]; len(cs) > 0 {
			return pick(hello, cs), nil
		}
	}
	if m.acmeNames[name] {
		return m.acme.cert(hello, name)
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownName, name)
}

func localIP(hello *tls.ClientHelloInfo) (netip.Addr, bool) {
	if hello.Conn == nil {
		return netip.Addr{}, false
	}
	ta, ok := hello.Conn.LocalAddr().(*net.TCPAddr)
	if !ok {
		ap, err := netip.ParseAddrPort(hello.Conn.LocalAddr().String())
		if err != nil {
			return netip.Addr{}, false
		}
		return ap.Addr().Unmap(), true
	}
	a, ok := netip.AddrFromSlice(ta.IP)
	return a.Unmap(), ok
}

// Start begins managing the ACME names: each is loaded from storage or
// obtained, then renewed in the background (certmagic's retries with
// backoff, OCSP stapling) until Close or ctx is done. It returns at once;
// progress is logged and counted. Files need no Start. Calling it again
// does nothing.
func (m *Manager) Start(ctx context.Context) error {
	if m.acme == nil {
		return nil
	}
	var err error
	m.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(m.ctx, cancel)
		m.wg.Go(func() {
			<-ctx.Done()
			stop()
		})
		err = m.acme.magic.ManageAsync(ctx, m.acmeList)
		if err == nil {
			m.wg.Go(func() { m.acme.supervise(ctx, m) })
		}
	})
	return err
}

// Source of a CertStatus.
const (
	SourceFile = "file"
	SourceACME = "acme"
)

// CertStatus describes one certificate serving now (for /debug/tls), or
// an ACME name that has none yet (NotAfter zero, Error saying why).
type CertStatus struct {
	Names     []string  `json:"names"`
	Issuer    string    `json:"issuer,omitempty"`
	NotBefore time.Time `json:"not_before,omitzero"`
	NotAfter  time.Time `json:"not_after,omitzero"`
	Source    string    `json:"source"`
	// File is the certificate file of a file pair.
	File string `json:"file,omitempty"`
	// LoadedAt is when a file pair was loaded.
	LoadedAt time.Time `json:"loaded_at,omitzero"`
	// Error is the last reload failure of a file pair (the pair shown
	// still serves), or the last ACME failure for a name.
	Error string `json:"error,omitempty"`
}

// Status lists the certificates serving now: the file pairs in config
// order, then one per ACME name in config order.
func (m *Manager) Status() []CertStatus {
	var out []CertStatus
	for _, fc := range m.files.Load().certs {
		st := CertStatus{Names: leafNames(fc.cert), Issuer: fc.cert.Leaf.Issuer.String(),
			NotBefore: fc.cert.Leaf.NotBefore, NotAfter: fc.cert.Leaf.NotAfter, Source: SourceFile,
			File: fc.pair.CertFile, LoadedAt: fc.loadedAt}
		if fc.lastErr != nil {
			st.Error = fc.lastErr.Error()
		}
		out = append(out, st)
	}
	if m.acme != nil {
		out = append(out, m.acme.status(m.acmeList)...)
	}
	return out
}

func leafNames(c *tls.Certificate) []string {
	names := append([]string(nil), c.Leaf.DNSNames...)
	for _, ip := range c.Leaf.IPAddresses {
		names = append(names, ip.String())
	}
	sort.Strings(names)
	return names
}

// Close stops watching files and managing ACME names, and unregisters the
// metrics. Handshakes still work with what is loaded. Safe to call more
// than once.
func (m *Manager) Close() error {
	m.closeOnce.Do(func() {
		m.cancel()
		if m.acme != nil {
			m.acme.close()
		}
		m.wg.Wait()
		m.met.unregister()
	})
	return nil
}
