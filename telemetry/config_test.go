package telemetry

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	with := func(f func(*Config)) Config {
		c := DefaultConfig()
		f(&c)
		return c
	}
	cases := []struct {
		name string
		cfg  Config
		want string // "" = valid
	}{
		{"defaults (off)", DefaultConfig(), ""},
		{"on over OTLP/HTTP to loopback", with(func(c *Config) { c.Enabled, c.Endpoint = true, "http://127.0.0.1:4318" }), ""},
		{"on over gRPC to localhost", with(func(c *Config) { c.Enabled, c.Endpoint, c.Protocol = true, "http://localhost:4317", ProtocolGRPC }), ""},
		{"TLS anywhere", with(func(c *Config) { c.Enabled, c.Endpoint = true, "https://otel.example.com/otlp/v1/traces" }), ""},
		{"plaintext elsewhere with insecure", with(func(c *Config) { c.Enabled, c.Endpoint, c.Insecure = true, "http://10.0.0.7:4318", true }), ""},
		{"ratio 0 and 1", with(func(c *Config) { c.SampleRatio = 0 }), ""},
		{"on without endpoint", with(func(c *Config) { c.Enabled = true }), "tracing.endpoint is required"},
		{"plaintext to a remote host", with(func(c *Config) { c.Enabled, c.Endpoint = true, "http://10.0.0.7:4318" }), "not loopback"},
		{"no scheme", with(func(c *Config) { c.Endpoint = "127.0.0.1:4318" }), "want http://host:port"},
		{"grpc with a path", with(func(c *Config) { c.Endpoint, c.Protocol = "http://127.0.0.1:4317/v1/traces", ProtocolGRPC }), "gRPC endpoint has no path"},
		{"unknown protocol", with(func(c *Config) { c.Protocol = "udp" }), "tracing.protocol"},
		{"ratio over 1", with(func(c *Config) { c.SampleRatio = 1.5 }), "sample_ratio must be 0..1"},
		{"negative ratio", with(func(c *Config) { c.SampleRatio = -0.1 }), "sample_ratio must be 0..1"},
		{"no service name", with(func(c *Config) { c.ServiceName = " " }), "service_name"},
		{"no queue", with(func(c *Config) { c.MaxQueue = 0 }), "max_queue must be 1..1048576"},
		{"bad accept", with(func(c *Config) { c.AcceptTraceparent = "all" }), "accept_traceparent"},
		{"bad header name", with(func(c *Config) { c.Headers = map[string]string{"x key": "v"} }), "not a header name"},
		{"header value with a line break", with(func(c *Config) { c.Headers = map[string]string{"x-key": "a\r\nb: c"} }), "line break"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate = %v, want an error with %q", err, tc.want)
			case err != nil && !strings.HasPrefix(err.Error(), "telemetry: "):
				t.Fatalf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestEndpointDefaults(t *testing.T) {
	cases := []struct {
		endpoint, protocol, host, path string
	}{
		{"http://127.0.0.1", ProtocolHTTP, "127.0.0.1:4318", "/v1/traces"},
		{"http://127.0.0.1:9999/", ProtocolHTTP, "127.0.0.1:9999", "/v1/traces"},
		{"https://c.example/custom/traces", ProtocolHTTP, "c.example:4318", "/custom/traces"},
		{"http://[::1]", ProtocolGRPC, "[::1]:4317", "/v1/traces"},
	}
	for _, tc := range cases {
		c := DefaultConfig()
		c.Endpoint, c.Protocol = tc.endpoint, tc.protocol
		tg, err := c.endpoint()
		if err != nil || tg.host != tc.host || tg.path != tc.path {
			t.Errorf("%s %s: %+v, %v; want host %s path %s", tc.protocol, tc.endpoint, tg, err, tc.host, tc.path)
		}
	}
}
