package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"
	"github.com/miekg/dns"
)

// acmeState is a Manager's certmagic side. Safe for concurrent use.
type acmeState struct {
	magic     *certmagic.Config
	cache     *certmagic.Cache
	issuer    *certmagic.ACMEIssuer
	http01    bool
	tlsalpn01 bool
	alpnNames map[string]bool // names as TLS-ALPN-01 sends them (IPs reversed)

	mu       sync.Mutex
	failures map[string]string    // name → last ACME error, cleared on success
	activity map[string]time.Time // name → time of its last certmagic event
}

// Bounds of the interval at which supervise manages again a name that has
// neither a certificate nor any ACME activity; it doubles each time.
const (
	defaultRecheck = time.Minute
	maxRecheck     = time.Hour
)

func newACME(ctx context.Context, m *Manager) (*acmeState, error) {
	c := m.cfg.ACME
	a := &acmeState{failures: map[string]string{}, activity: map[string]time.Time{}, alpnNames: map[string]bool{}}
	a.http01, a.tlsalpn01 = c.challenges()
	for _, n := range m.acmeList {
		a.alpnNames[n] = true
		if ip := net.ParseIP(n); ip != nil {
			if rev, err := dns.ReverseAddr(n); err == nil {
				a.alpnNames[strings.TrimSuffix(rev, ".")] = true
			}
		}
	}
	var storage certmagic.Storage
	switch s := c.Storage; {
	case s.Bucket != "":
		if m.opt.Store == nil {
			return nil, fmt.Errorf("certs: acme.storage.bucket %q needs the gateway's S3 store", s.Bucket)
		}
		prefix := s.Prefix
		if prefix == "" {
			prefix = DefaultStoragePrefix
		}
		storage = newS3Storage(m.opt.Store, s.Bucket, prefix, m.log, m.opt.lockLease, m.opt.lockPoll)
	default:
		if err := os.MkdirAll(s.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("certs: acme.storage.dir: %w", err)
		}
		storage = &certmagic.FileStorage{Path: s.Dir}
	}
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if c.CARoot != "" {
		b, err := os.ReadFile(c.CARoot)
		if err != nil {
			return nil, fmt.Errorf("certs: acme.ca_root: %w", err)
		}
		if !roots.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("certs: acme.ca_root %s: no PEM certificate", c.CARoot)
		}
	}
	zl := zapToSlog(m.log)
	ratio := c.RenewalWindowRatio
	if ratio == 0 {
		ratio = DefaultRenewalWindowRatio
	}
	var magic *certmagic.Config
	a.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return magic, nil },
		RenewCheckInterval: m.opt.renewCheck,
		OCSPCheckInterval:  m.opt.renewCheck,
		Logger:             zl,
	})
	magic = certmagic.New(a.cache, certmagic.Config{
		RenewalWindowRatio: ratio,
		Storage:            storage,
		Logger:             zl,
		OnEvent:            func(ctx context.Context, ev string, data map[string]any) error { a.onEvent(m, ev, data); return nil },
		// Building the per-handshake event costs; no one listens to it.
		ShouldEmitFunc: func(ev string) bool { return ev != "tls_get_certificate" },
	})
	ca := c.CA
	if ca == "" {
		ca = DefaultCA
	}
	a.issuer = certmagic.NewACMEIssuer(magic, certmagic.ACMEIssuer{
		CA:                      ca,
		Email:                   c.Email,
		Agreed:                  true,
		DisableHTTPChallenge:    !a.http01,
		DisableTLSALPNChallenge: !a.tlsalpn01,
		AltHTTPPort:             m.opt.HTTPPort,
		AltTLSALPNPort:          m.opt.TLSPort,
		TrustedRoots:            roots,
		Logger:                  zl,
		NewAccountFunc: func(_ context.Context, _ *certmagic.ACMEIssuer, acct acme.Account) (acme.Account, error) {
			acct.Contact = dropPlaceholderContacts(acct.Contact)
			return acct, nil
		},
	})
	magic.Issuers = []certmagic.Issuer{a.issuer}
	a.magic = magic
	return a, nil
}

// dropPlaceholderContacts removes certmagic's "mailto:default": with no
// acme.email and several names registering at once on fresh storage, a
// second account can pick up the placeholder certmagic keeps for "no
// email" as its contact, which CAs refuse (invalidContact), delaying
// that name's certificate by a retry.
func dropPlaceholderContacts(contacts []string) []string {
	out := contacts[:0:0]
	for _, c := range contacts {
		if !strings.EqualFold(c, "mailto:default") {
			out = append(out, c)
		}
	}
	return out
}

// onEvent counts certmagic's results and remembers the last failure per
// name.
func (a *acmeState) onEvent(m *Manager, ev string, data map[string]any) {
	name, _ := data["identifier"].(string)
	now := time.Now()
	a.mu.Lock()
	if name != "" {
		a.activity[normalize(name)] = now
	}
	if sans, ok := data["sans"].([]string); ok {
		for _, n := range sans {
			a.activity[normalize(n)] = now
		}
	}
	a.mu.Unlock()
	op := "obtain"
	if r, _ := data["renewal"].(bool); r {
		op = "renew"
	}
	switch ev {
	case "cert_obtained":
		m.met.acme.WithLabelValues(op, "ok").Inc()
		a.mu.Lock()
		delete(a.failures, name)
		a.mu.Unlock()
	case "cert_failed":
		m.met.acme.WithLabelValues(op, "error").Inc()
		msg := fmt.Sprint(data["error"])
		a.mu.Lock()
		a.failures[name] = msg
		a.mu.Unlock()
		m.log.Error("certs: ACME "+op+" failed; certmagic retries with backoff", "name", name, "err", msg)
	case "cert_ocsp_revoked":
		m.met.revoked.Inc()
		m.log.Warn("certs: OCSP says the certificate is revoked; replacing it now",
			"names", data["subjects"], "reason", data["reason"], "revoked_at", data["revoked_at"])
	}
	if m.opt.onEvent != nil {
		m.opt.onEvent(ev, data)
	}
}

// challengeCert answers a TLS-ALPN-01 validation handshake for one of our
// names; anything else offering only acme-tls/1 fails.
func (a *acmeState) challengeCert(m *Manager, hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := normalize(hello.ServerName)
	if a == nil || !a.tlsalpn01 || !a.alpnNames[name] {
		return nil, fmt.Errorf("%w: %q (acme-tls/1)", ErrUnknownName, name)
	}
	return a.magic.GetCertificate(hello)
}

// cert returns the managed certificate for a configured name from
// certmagic's cache (it never loads or obtains during a handshake).
func (a *acmeState) cert(hello *tls.ClientHelloInfo, name string) (*tls.Certificate, error) {
	var best *certmagic.Certificate
	for _, c := range a.cache.AllMatchingCertificates(name) {
		if c.Leaf == nil || hello.SupportsCertificate(&c.Certificate) != nil {
			continue
		}
		if best == nil || c.Leaf.NotAfter.After(best.Leaf.NotAfter) {
			best = &c
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoCertificate, name)
	}
	return &best.Certificate, nil
}

func (a *acmeState) status(names []string) []CertStatus {
	var out []CertStatus
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, n := range names {
		st := CertStatus{Names: []string{n}, Source: SourceACME, Error: a.failures[n]}
		var best *certmagic.Certificate
		for _, c := range a.cache.AllMatchingCertificates(n) {
			if c.Leaf != nil && (best == nil || c.Leaf.NotAfter.After(best.Leaf.NotAfter)) {
				best = &c
			}
		}
		if best != nil {
			st.Names = append([]string(nil), best.Names...)
			st.Issuer = best.Leaf.Issuer.String()
			st.NotBefore, st.NotAfter = best.Leaf.NotBefore, best.Leaf.NotAfter
		} else if st.Error == "" {
			st.Error = "not obtained yet"
		}
		out = append(out, st)
	}
	return out
}

// HTTPChallenge answers an ACME HTTP-01 validation request
// (/.well-known/acme-challenge/...) for one of the configured names and
// returns true; it returns false for any other request, which the plain
// listener then redirects or serves. Safe for concurrent use.
func (m *Manager) HTTPChallenge(w http.ResponseWriter, r *http.Request) bool {
	if m.acme == nil || !m.acme.http01 || !certmagic.LooksLikeHTTPChallenge(r) {
		return false
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if !m.acmeNames[normalize(strings.Trim(host, "[]"))] {
		return false
	}
	return m.acme.issuer.HandleHTTPChallenge(w, r)
}

// supervise manages a name again when it has no certificate and certmagic
// has done nothing for it for a while: certmagic gives up, with a log line,
// on a name whose start failed before any order (storage unreachable),
// and retries only failed orders itself. The interval starts at a minute
// and doubles up to an hour per name (a gateway waiting on another's lock
// also looks idle: it then adds one more waiter, which finds the
// certificate in storage once the lock is free). It runs until ctx is
// done.
func (a *acmeState) supervise(ctx context.Context, m *Manager) {
	first := m.opt.recheck
	if first <= 0 {
		first = defaultRecheck
	}
	start := time.Now()
	next := map[string]time.Duration{}
	t := time.NewTicker(first / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, n := range m.acmeList {
			if len(a.cache.AllMatchingCertificates(n)) > 0 {
				delete(next, n)
				continue
			}
			a.mu.Lock()
			last, ok := a.activity[n]
			a.mu.Unlock()
			if !ok || last.Before(start) {
				last = start
			}
			wait := next[n]
			if wait == 0 {
				wait = first
			}
			if time.Since(last) < wait {
				continue
			}
			m.log.Warn("certs: no certificate and no ACME activity; managing the name again", "name", n, "idle", time.Since(last).Round(time.Second))
			a.mu.Lock()
			a.activity[n] = time.Now()
			a.mu.Unlock()
			next[n] = min(2*wait, maxRecheck)
			if err := a.magic.ManageAsync(ctx, []string{n}); err != nil {
				m.log.Error("certs: managing a name again", "name", n, "err", err)
			}
		}
	}
}

func (a *acmeState) close() {
	a.cache.Stop()
}
