package certs

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Handshake error reasons (the reason label of
// edgegate_tls_handshake_errors_total); the set is closed.
const (
	ReasonUnknownSNI      = "unknown_sni"      // a server name no certificate is configured for
	ReasonNoCertificate   = "no_certificate"   // a configured ACME name whose certificate is not there yet
	ReasonNoSharedCipher  = "no_shared_cipher" // no cipher suite, curve or signature scheme in common
	ReasonNoALPN          = "no_alpn"          // no application protocol (ALPN) in common
	ReasonProtocolVersion = "protocol_version" // the client offers only TLS versions below 1.2
	ReasonBadCertificate  = "bad_certificate"  // the client rejected our certificate
	ReasonEOF             = "eof"              // the client closed or reset the connection
	ReasonTimeout         = "timeout"          // the handshake deadline passed
	ReasonNotTLS          = "not_tls"          // the bytes are not a TLS record (plain HTTP on the TLS port)
	ReasonOversized       = "oversized"        // a record or handshake message over TLS's limits
	ReasonOther           = "other"
)

var reasons = []string{ReasonUnknownSNI, ReasonNoCertificate, ReasonNoSharedCipher, ReasonNoALPN, ReasonProtocolVersion,
	ReasonBadCertificate, ReasonEOF, ReasonTimeout, ReasonNotTLS, ReasonOversized, ReasonOther}

// metrics are a Manager's collectors, registered on Options.Registerer and
// unregistered by Close.
type metrics struct {
	reg             prometheus.Registerer
	handshakes      prometheus.Counter
	handshakeErrors *prometheus.CounterVec // by reason
	quicHandshakes  prometheus.Counter
	quicErrors      *prometheus.CounterVec // by reason
	reloads         *prometheus.CounterVec // by result: ok|error
	acme            *prometheus.CounterVec // by op (obtain|renew) and result (ok|error)
	revoked         prometheus.Counter
	expiry          *expiryCollector
	all             []prometheus.Collector
}

func newMetrics(reg prometheus.Registerer, m *Manager) (*metrics, error) {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	mt := &metrics{
		reg: reg,
		handshakes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "edgegate_tls_handshakes_total",
			Help: "TLS handshakes on the public TLS listener, finished or failed.",
		}),
		handshakeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgegate_tls_handshake_errors_total",
			Help: "TLS handshakes that failed, by reason (unknown_sni, no_certificate, no_shared_cipher, no_alpn, protocol_version, bad_certificate, eof, timeout, not_tls, oversized, other).",
		}, []string{"reason"}),
		quicHandshakes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "edgegate_quic_handshakes_total",
			Help: "QUIC (HTTP/3) handshakes on the TLS listener's UDP port, finished or failed.",
		}),
		quicErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgegate_quic_handshake_errors_total",
			Help: "QUIC (HTTP/3) handshakes that failed, by the reasons of edgegate_tls_handshake_errors_total.",
		}, []string{"reason"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgegate_tls_certificate_reloads_total",
			Help: "Certificate file pairs reloaded after a change, by result (ok: the new pair serves; error: it failed to load and the old pair keeps serving).",
		}, []string{"result"}),
		acme: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgegate_tls_acme_total",
			Help: "ACME certificate orders by this gateway, by op (obtain|renew) and result (ok|error); certmagic retries failures with backoff.",
		}, []string{"op", "result"}),
		revoked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "edgegate_tls_certificates_revoked_total",
			Help: "Times the OCSP status of a managed certificate came back Revoked; certmagic then replaces it at once (a forced renewal, counted in edgegate_tls_acme_total{op=\"renew\"}).",
		}),
		expiry: &expiryCollector{m: m, desc: prometheus.NewDesc("edgegate_tls_certificate_expiry_seconds",
			"Unix time the certificate serving each configured name expires (notAfter).", []string{"name"}, nil)},
	}
	for _, r := range reasons {
		mt.handshakeErrors.WithLabelValues(r)
		mt.quicErrors.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "error"} {
		mt.reloads.WithLabelValues(r)
		mt.acme.WithLabelValues("obtain", r)
		mt.acme.WithLabelValues("renew", r)
	}
	mt.all = []prometheus.Collector{mt.handshakes, mt.handshakeErrors, mt.quicHandshakes, mt.quicErrors, mt.reloads, mt.acme, mt.revoked, mt.expiry}
	for i, c := range mt.all {
		if err := reg.Register(c); err != nil {
			for _, r := range mt.all[:i] {
				reg.Unregister(r)
			}
			return nil, errors.Join(errors.New("certs: register metrics"), err)
		}
	}
	return mt, nil
}

func (mt *metrics) unregister() {
	for _, c := range mt.all {
		mt.reg.Unregister(c)
	}
}

// expiryCollector reports the expiry of what serves each name now, read
// from Status at scrape time (names are bounded by the config).
type expiryCollector struct {
	m    *Manager
	desc *prometheus.Desc
}

func (c *expiryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *expiryCollector) Collect(ch chan<- prometheus.Metric) {
	latest := map[string]float64{}
	for _, st := range c.m.Status() {
		if st.NotAfter.IsZero() {
			continue
		}
		for _, n := range st.Names {
			if v := float64(st.NotAfter.Unix()); v > latest[n] {
				latest[n] = v
			}
		}
	}
	for n, v := range latest {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, n)
	}
}
