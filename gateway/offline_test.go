package gateway

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgegate/edgegate/resize"
	"github.com/edgegate/edgegate/rules"
)

func exampleConfig(t *testing.T) Config {
	t.Helper()
	cfg, err := LoadConfig("../examples/edgegate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestCheckLoadsWhatNewWould(t *testing.T) {
	r, err := Check(exampleConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := rules.LoadFile("../examples/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if r.Regions != len(tbl.Regions()) || r.Routes != len(tbl.Routes()) || r.Hash != tbl.Hash() || r.Rules != tbl.Source() {
		t.Fatalf("Check = %+v; the rules file has %d regions, %d routes, hash %s", r, len(tbl.Regions()), len(tbl.Routes()), tbl.Hash())
	}
}

func TestCheckFindsProblems(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "rules.yaml")
	os.WriteFile(bad, []byte("default_region: nowhere\nregions:\n  a: {prefix: a/}\n"), 0o644)

	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"rules file with file:line:col", func(c *Config) { c.Rules = bad }, bad + ":1:"},
		{"missing rules file", func(c *Config) { c.Rules = filepath.Join(dir, "none.yaml") }, "none.yaml"},
		{"missing GeoIP database", func(c *Config) { c.Geo.Databases = []string{filepath.Join(dir, "none.mmdb")} }, "none.mmdb"},
		{"invalid config", func(c *Config) { c.Exists.TTL = -1 }, "exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := exampleConfig(t)
			tt.mutate(&cfg)
			_, err := Check(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Check: %v; want an error naming %q", err, tt.want)
			}
		})
	}
	cfg := exampleConfig(t)
	cfg.Rules = bad
	var re *rules.Error
	if _, err := Check(cfg); !errors.As(err, &re) {
		t.Fatalf("a bad rules file: %T, want a *rules.Error (every problem with its position)", err)
	}
}

func TestSign(t *testing.T) {
	cfg := exampleConfig(t)
	path := "/img/300x200-cover/photos/sample.jpg"
	signed, err := Sign(cfg, path)
	if err != nil {
		t.Fatal(err)
	}
	p, sig, ok := strings.Cut(signed, "?sig=")
	keys, _ := resize.DecodeKeys(cfg.Images.SigningKeys)
	if !ok || p != path || !resize.Verify(keys, path, sig) {
		t.Fatalf("Sign = %q: does not verify for %s", signed, path)
	}
	for _, bad := range []string{"photos/a.jpg", "/r/photos/a.jpg", "/img/300x200/a.jpg?x=1"} {
		if s, err := Sign(cfg, bad); err == nil {
			t.Errorf("Sign(%q) = %q; want an error", bad, s)
		}
	}
	cfg.Images.SigningKeys = nil
	if _, err := Sign(cfg, path); !errors.Is(err, ErrNoSigningKey) {
		t.Fatalf("no keys: %v, want ErrNoSigningKey", err)
	}
}

// A route with cache: public whose answers can be decided by the client's
// location (GeoIP databases, CDN geo headers) draws a warning, not an
// error: a CDN that ignores Vary would serve one region's answer to all.
func TestCheckWarnsPublicCacheWithGeo(t *testing.T) {
	dir := t.TempDir()
	public := filepath.Join(dir, "public.yaml")
	os.WriteFile(public, []byte(`default_region: a
regions:
  a: {prefix: a/, country: EG}
  b: {prefix: b/, country: GB}
routes:
  - {name: private, match: "p/**", bucket: edge-demo, delivery: presign, ttl: 1h}
  - {name: shared, match: "**", bucket: edge-demo, delivery: presign, ttl: 1h, cache: public}
`), 0o644)
	tests := []struct {
		name   string
		mutate func(*Config)
		warn   bool
	}{
		{"GeoIP databases", func(c *Config) { c.Rules = public }, true},
		{"CDN geo headers only", func(c *Config) { c.Rules = public; c.Geo.Databases = nil; c.Geo.CDNHeaders = true }, true},
		{"region only from ?region=", func(c *Config) { c.Rules = public; c.Geo.Databases = nil; c.Geo.CDNHeaders = false }, false},
		{"no route with cache: public", func(c *Config) {}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := exampleConfig(t)
			tc.mutate(&cfg)
			r, err := Check(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(r.Warnings) > 0; got != tc.warn {
				t.Fatalf("warnings %q, want some: %v", r.Warnings, tc.warn)
			}
			if tc.warn && (len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], `"shared"`) ||
				!strings.Contains(r.Warnings[0], "CloudFront-Viewer-Country")) {
				t.Fatalf("warning %q should name the route and the headers for the cache key", r.Warnings)
			}
		})
	}
}
