package gateway

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/edgegate/edgegate/certs"
)

// TLSConfig configures the HTTPS listener (listen_tls): its transports,
// handshakes, and what the plain listener does once HTTPS is on.
type TLSConfig struct {
	// Certificates (files, picked by SNI) and ACME-managed names, with
	// default_name: see package certs.
	certs.Config `yaml:",inline"`
	// HTTP3 also serves HTTP/3 (QUIC) on listen_tls's UDP port and
	// advertises it with Alt-Svc. Default false.
	HTTP3 bool `yaml:"http3"`
	// PlainHTTP is what the plain listener (listen) does when HTTPS is
	// on: "redirect" (default) answers ACME HTTP-01 challenges and sends
	// everything else a 308 to https://; "serve" keeps serving plain HTTP
	// (behind a CDN that talks HTTP to its origin).
	PlainHTTP string `yaml:"plain_http"`
	// HandshakeTimeout bounds one TLS handshake. Default 10s.
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
}

// validateTLS checks listen_tls and the tls section.
func (c Config) validateTLS() []error {
	var errs []error
	if c.ListenTLS == "" && c.TLS.Enabled() {
		errs = append(errs, errors.New("config: tls names certificates but listen_tls is empty"))
	}
	if c.ListenTLS != "" {
		if !c.TLS.Enabled() {
			errs = append(errs, errors.New("config: listen_tls needs tls.certificates or tls.acme.names"))
		} else if err := c.TLS.Config.Validate(); err != nil {
			errs = append(errs, err)
		}
		if _, _, err := net.SplitHostPort(c.ListenTLS); err != nil {
			errs = append(errs, fmt.Errorf("config: listen_tls %q: %w", c.ListenTLS, err))
		}
		if c.ListenTLS == c.Listen || c.ListenTLS == c.AdminListen {
			errs = append(errs, fmt.Errorf("config: listen_tls %q must differ from listen and admin_listen", c.ListenTLS))
		}
	}
	switch c.TLS.PlainHTTP {
	case "", "redirect", "serve":
	default:
		errs = append(errs, fmt.Errorf("config: tls.plain_http must be redirect or serve, not %q", c.TLS.PlainHTTP))
	}
	if c.TLS.HandshakeTimeout < 0 || c.TLS.HandshakeTimeout > time.Minute {
		errs = append(errs, fmt.Errorf("config: tls.handshake_timeout must be 0 (default 10s) to 1m, not %s", c.TLS.HandshakeTimeout))
	}
	return errs
}

// TLSHandshakeTimeout is tls.handshake_timeout or its default.
func (c Config) TLSHandshakeTimeout() time.Duration {
	if c.TLS.HandshakeTimeout > 0 {
		return c.TLS.HandshakeTimeout
	}
	return 10 * time.Second
}

// resolveTLSPaths makes the tls section's file paths absolute against
// the config file's directory.
func (c *Config) resolveTLSPaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	for i := range c.TLS.Certificates {
		abs(&c.TLS.Certificates[i].CertFile)
		abs(&c.TLS.Certificates[i].KeyFile)
	}
	abs(&c.TLS.ACME.CARoot)
	abs(&c.TLS.ACME.Storage.Dir)
}
