package gateway

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/edgegate/edgegate/certs"
	"github.com/edgegate/edgegate/internal/h2serve"
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
	// HTTP2 bounds each HTTP/2 connection (internal/h2serve).
	HTTP2 HTTP2Config `yaml:"http2"`
}

// HTTP2Config holds the HTTP/2 server's limits against hostile clients;
// a field left 0 takes its default. Its timeouts are the gateway's
// (read_timeout, write_timeout, idle_timeout, tls.handshake_timeout) and
// its output bound max_unsent_bytes.
type HTTP2Config struct {
	// MaxConcurrentStreams is the streams a connection may have open at
	// once; past it a stream is refused (RST_STREAM REFUSED_STREAM). A
	// reset stream whose answer is still being made keeps its slot.
	// Default 128 (nginx's), 1..1000.
	MaxConcurrentStreams int `yaml:"max_concurrent_streams"`
	// MaxHeaderBytes bounds a request's header list in bytes, decoded and
	// raw (HEADERS plus CONTINUATION); past it the request gets a 431,
	// past twice it the connection GOAWAY. Default 8192, 1024..1048576.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// ResetBudget is the stream resets (RST_STREAM from the client, and
	// streams the server refused or reset) a connection may cause per 10 s
	// before GOAWAY ENHANCE_YOUR_CALM (rapid reset). Default 200, 1..1000000.
	ResetBudget int `yaml:"reset_budget"`
	// ControlBudget is the SETTINGS, PING, PRIORITY, empty DATA and
	// unknown frames a connection may send per 10 s before GOAWAY
	// ENHANCE_YOUR_CALM. Default 1000, 1..1000000.
	ControlBudget int `yaml:"control_budget"`
}

// h2serveConfig is the HTTP/2 server's configuration.
func (c Config) h2serveConfig(idle time.Duration) h2serve.Config {
	return h2serve.Config{
		MaxConcurrentStreams: c.TLS.HTTP2.MaxConcurrentStreams,
		MaxHeaderBytes:       c.TLS.HTTP2.MaxHeaderBytes,
		ResetBudget:          c.TLS.HTTP2.ResetBudget,
		ControlBudget:        c.TLS.HTTP2.ControlBudget,
		HandshakeTimeout:     c.TLSHandshakeTimeout(),
		ReadTimeout:          c.ReadTimeout,
		WriteTimeout:         c.WriteTimeout,
		IdleTimeout:          idle,
		MaxUnsentBytes:       c.MaxUnsentBytes,
	}
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
	h2 := c.TLS.HTTP2
	for _, f := range []struct {
		name   string
		v, max int
	}{{"max_concurrent_streams", h2.MaxConcurrentStreams, 1000}, {"max_header_bytes", h2.MaxHeaderBytes, 1 << 20},
		{"reset_budget", h2.ResetBudget, 1e6}, {"control_budget", h2.ControlBudget, 1e6}} {
		lo := 1
		if f.name == "max_header_bytes" {
			lo = 1024
		}
		if f.v != 0 && (f.v < lo || f.v > f.max) {
			errs = append(errs, fmt.Errorf("config: tls.http2.%s must be 0 (default) or %d..%d, not %d", f.name, lo, f.max, f.v))
		}
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
