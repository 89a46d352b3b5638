package gateway

import (
	"strings"
	"testing"
	"time"
)

// Config fields are read from YAML by their documented names and their
// bounds are checked by Validate, naming the field.
func TestConfigFieldBounds(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, wantErr string
		check               func(Config) bool
	}{
		{"max_unsent_bytes default", "", "", func(c Config) bool { return c.MaxUnsentBytes == 64<<10 }},
		{"max_unsent_bytes set", "max_unsent_bytes: 8192", "", func(c Config) bool { return c.MaxUnsentBytes == 8192 }},
		{"max_unsent_bytes lowest", "max_unsent_bytes: 4096", "", nil},
		{"max_unsent_bytes highest", "max_unsent_bytes: 67108864", "", nil},
		{"max_unsent_bytes too small", "max_unsent_bytes: 4095", "max_unsent_bytes", nil},
		{"max_body_bytes default", "", "", func(c Config) bool { return c.MaxBodyBytes == 16<<10 }},
		{"max_body_bytes set", "max_body_bytes: 1", "", func(c Config) bool { return c.MaxBodyBytes == 1 }},
		{"max_body_bytes highest", "max_body_bytes: 67108864", "", nil},
		{"max_body_bytes zero", "max_body_bytes: 0", "max_body_bytes", nil},
		{"max_body_bytes too large", "max_body_bytes: 67108865", "max_body_bytes", nil},
		{"max_unsent_bytes too big", "max_unsent_bytes: 67108865", "max_unsent_bytes", nil},
		{"max_unsent_bytes 0", "max_unsent_bytes: 0", "max_unsent_bytes", nil},
		{"event_loops off", "event_loops: -1", "", func(c Config) bool { return c.EventLoops == -1 }},
		{"event_loops below -1", "event_loops: -2", "event_loops", nil},
		{"unknown field", "max_unsent: 4096", `max_unsent: unknown field (did you mean "max_unsent_bytes"?)`, nil},
		{"exists.stale_if_error default", "", "", func(c Config) bool { return c.Exists.StaleIfError == time.Hour }},
		{"exists.stale_if_error off", "exists: {stale_if_error: 0s}", "", func(c Config) bool { return c.Exists.StaleIfError == 0 }},
		{"exists.stale_if_error negative", "exists: {stale_if_error: -1s}", "exists.stale_if_error", nil},
		{"readiness default", "", "", func(c Config) bool {
			return c.Readiness == ReadinessConfig{Interval: 5 * time.Second, Timeout: 2 * time.Second, Failures: 3}
		}},
		{"readiness set", "readiness: {interval: 1s, timeout: 500ms, failures: 1}", "", func(c Config) bool { return c.Readiness.Failures == 1 }},
		{"readiness failures 0", "readiness: {failures: 0}", "readiness.failures", nil},
		{"readiness interval too short", "readiness: {interval: 1ms}", "readiness.interval", nil},
		{"readiness timeout 0", "readiness: {timeout: 0s}", "readiness.timeout", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig("test.yaml", []byte("rules: rules.yaml\n"+tc.yaml+"\n"))
			if err == nil {
				err = cfg.Validate()
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("%q: %v", tc.yaml, err)
				}
				if tc.check != nil && !tc.check(cfg) {
					t.Fatalf("%q: read as %+v", tc.yaml, cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("%q: error %v, want one naming %q", tc.yaml, err, tc.wantErr)
			}
		})
	}
}
