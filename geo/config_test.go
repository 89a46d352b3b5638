package geo

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring; "" means valid
	}{
		{"zero value is valid", Config{}, ""},
		{"cidrs and bare ips", Config{TrustedProxies: []string{"10.0.0.0/8", "192.0.2.1", "2001:db8::/32", "::ffff:10.1.0.0/112", " 172.16.0.1 "}}, ""},
		{"every client ip header", Config{TrustedProxies: []string{"10.0.0.0/8"}, ClientIPHeader: "cloudfront-viewer-address"}, ""},
		{"xff header without proxies is harmless", Config{ClientIPHeader: "X-Forwarded-For"}, ""},
		{"cdn headers with proxies", Config{TrustedProxies: []string{"10.0.0.1"}, CDNHeaders: true}, ""},
		{"databases", Config{Databases: []string{"a.mmdb", "b.mmdb"}}, ""},
		{"bad cidr", Config{TrustedProxies: []string{"10.0.0.0/33"}}, "geo: trusted_proxies[0]: invalid CIDR"},
		{"bad ip", Config{TrustedProxies: []string{"10.0.0.1", "nope"}}, "geo: trusted_proxies[1]: invalid IP"},
		{"zone", Config{TrustedProxies: []string{"fe80::1%eth0"}}, "zones are not allowed"},
		{"empty proxy", Config{TrustedProxies: []string{""}}, "trusted_proxies[0]"},
		{"unknown header", Config{TrustedProxies: []string{"10.0.0.1"}, ClientIPHeader: "True-Client-IP"}, `geo: client_ip_header "True-Client-IP"`},
		{"single-value header without proxies", Config{ClientIPHeader: "CF-Connecting-IP"}, "without trusted_proxies"},
		{"cdn headers without proxies", Config{CDNHeaders: true}, "cdn_headers has no effect"},
		{"empty database path", Config{Databases: []string{"a.mmdb", " "}}, "geo: databases[1]: empty path"},
		{"duplicate database", Config{Databases: []string{"a.mmdb", "a.mmdb"}}, "already listed at databases[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "geo: ") {
				t.Fatalf("error %q lacks the geo: prefix", err)
			}
		})
	}
}

func TestNewIPResolverRejectsInvalidConfig(t *testing.T) {
	if _, err := NewIPResolver(Config{TrustedProxies: []string{"x"}}); err == nil {
		t.Fatal("NewIPResolver accepted an invalid config")
	}
}
