package telemetry

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strings"
)

// Protocols of the OTLP exporter.
const (
	ProtocolHTTP = "http" // OTLP/HTTP, protobuf body, POST {endpoint}/v1/traces
	ProtocolGRPC = "grpc" // OTLP/gRPC
)

// Accept values: whose incoming traceparent parents a request's span.
const (
	AcceptTrusted = "trusted" // only from geo.trusted_proxies peers (default)
	AcceptAny     = "any"     // from any client
	AcceptNever   = "never"   // never: every request is a new trace
)

// Config is the `tracing:` section. It is read once and not modified
// after Validate.
type Config struct {
	// Enabled turns tracing on. Default false: no exporter, no spans, and
	// the request paths pay nothing.
	Enabled bool `yaml:"enabled"`
	// Endpoint is the OTLP collector's URL: http://host:port or
	// https://host:port, for OTLP/HTTP with an optional path (default
	// /v1/traces), for gRPC without one. Required when enabled.
	Endpoint string `yaml:"endpoint"`
	// Protocol is http (default: OTLP/HTTP protobuf) or grpc.
	Protocol string `yaml:"protocol"`
	// Headers are sent with every export (an API key, a tenant).
	Headers map[string]string `yaml:"headers"`
	// Insecure allows a plaintext (http://) endpoint that is not a
	// loopback address. Default false: plaintext only to a collector on
	// this host (127.0.0.0/8, ::1, localhost), TLS anywhere else.
	Insecure bool `yaml:"insecure"`
	// SampleRatio is the fraction of new traces recorded, 0..1; a request
	// whose accepted traceparent says sampled (or not) is recorded (or
	// not) whatever the ratio. Default 0.01 (one request in a hundred).
	SampleRatio float64 `yaml:"sample_ratio"`
	// ServiceName is the service.name resource attribute. Default edgegate.
	ServiceName string `yaml:"service_name"`
	// AcceptTraceparent says whose W3C traceparent header parents a
	// request's span (its trace id and sampled flag): trusted (default:
	// peers in geo.trusted_proxies, such as the load balancer or CDN in
	// front), any (every client; a client can then ask for its requests
	// to be recorded whatever sample_ratio says), or never.
	AcceptTraceparent string `yaml:"accept_traceparent"`
	// MaxQueue bounds the ended spans waiting to be exported, in spans:
	// past it (the collector is slow or down) a span is dropped, never
	// waited for, and counted (edgegate_tracing_spans_total{outcome=
	// "dropped"}). Default 2048; 1..1048576.
	MaxQueue int `yaml:"max_queue"`
}

// DefaultConfig returns the documented defaults (tracing off).
func DefaultConfig() Config {
	return Config{Protocol: ProtocolHTTP, SampleRatio: 0.01, ServiceName: "edgegate", AcceptTraceparent: AcceptTrusted, MaxQueue: 2048}
}

// Validate reports every mistake at once. A disabled section is still
// checked, so that turning it on later does not meet a surprise.
func (c Config) Validate() error {
	var errs []error
	switch c.Protocol {
	case ProtocolHTTP, ProtocolGRPC:
	default:
		errs = append(errs, fmt.Errorf("telemetry: tracing.protocol %q: want http or grpc", c.Protocol))
	}
	switch c.AcceptTraceparent {
	case AcceptTrusted, AcceptAny, AcceptNever:
	default:
		errs = append(errs, fmt.Errorf("telemetry: tracing.accept_traceparent %q: want trusted, any or never", c.AcceptTraceparent))
	}
	if math.IsNaN(c.SampleRatio) || c.SampleRatio < 0 || c.SampleRatio > 1 {
		errs = append(errs, fmt.Errorf("telemetry: tracing.sample_ratio must be 0..1, not %v", c.SampleRatio))
	}
	if c.MaxQueue < 1 || c.MaxQueue > 1<<20 {
		errs = append(errs, fmt.Errorf("telemetry: tracing.max_queue must be 1..1048576 spans, not %d", c.MaxQueue))
	}
	if strings.TrimSpace(c.ServiceName) == "" {
		errs = append(errs, errors.New("telemetry: tracing.service_name must not be empty"))
	}
	for k, v := range c.Headers {
		if !validHeaderName(k) {
			errs = append(errs, fmt.Errorf("telemetry: tracing.headers: %q is not a header name", k))
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			errs = append(errs, fmt.Errorf("telemetry: tracing.headers: the value of %q has a line break or NUL", k))
		}
	}
	if c.Endpoint == "" {
		if c.Enabled {
			errs = append(errs, errors.New("telemetry: tracing.endpoint is required when tracing.enabled is true"))
		}
		return errors.Join(errs...)
	}
	if _, err := c.endpoint(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// target is a parsed endpoint.
type target struct {
	host      string // host:port
	path      string // OTLP/HTTP only
	plaintext bool
}

// endpoint parses and checks Endpoint against Protocol and Insecure.
func (c Config) endpoint() (target, error) {
	u, err := url.Parse(c.Endpoint)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return target{}, fmt.Errorf("telemetry: tracing.endpoint %q: want http://host:port or https://host:port[/path]", c.Endpoint)
	}
	t := target{host: u.Host, path: u.Path, plaintext: u.Scheme == "http"}
	if u.Port() == "" {
		port := "4318"
		if c.Protocol == ProtocolGRPC {
			port = "4317"
		}
		t.host = net.JoinHostPort(u.Hostname(), port)
	}
	if c.Protocol == ProtocolGRPC && strings.Trim(t.path, "/") != "" {
		return target{}, fmt.Errorf("telemetry: tracing.endpoint %q: a gRPC endpoint has no path", c.Endpoint)
	}
	if t.path == "" || t.path == "/" {
		t.path = "/v1/traces"
	}
	if t.plaintext && !c.Insecure && !loopback(u.Hostname()) {
		return target{}, fmt.Errorf("telemetry: tracing.endpoint %q: plaintext http:// to a host that is not loopback; use https:// or set tracing.insecure: true", c.Endpoint)
	}
	return t, nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
