package gateway

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/edgegate/edgegate/certs"
	"github.com/edgegate/edgegate/geo"
	"github.com/edgegate/edgegate/resize"
	"github.com/edgegate/edgegate/rules"
)

// CheckReport is what Check loaded.
type CheckReport struct {
	Rules     string // the rules file
	Regions   int
	Routes    int
	Hash      string // the rules table's hash, as X-Edge-Rules sends it
	Databases int    // GeoIP database files opened
	// Warnings: settings that work but may not do what was meant (a
	// route's cache: public while regions can come from the client's
	// location).
	Warnings []string
}

// Check validates cfg and everything it names, offline, as New would load
// it: the config itself, the rules file (every problem at once, each with
// file:line:col: the error is then a *rules.Error), the GeoIP databases
// and the image settings. It contacts no server.
func Check(cfg Config) (CheckReport, error) {
	if err := cfg.Validate(); err != nil {
		return CheckReport{}, err
	}
	t, err := rules.LoadFile(cfg.Rules)
	if err != nil {
		return CheckReport{}, err
	}
	db, err := geo.OpenDB(cfg.Geo.Databases, geo.DBOptions{})
	if err != nil {
		return CheckReport{}, err
	}
	db.Close()
	if _, err := resize.New(cfg.Images.Config); err != nil {
		return CheckReport{}, err
	}
	if cfg.ListenTLS != "" {
		if err := certs.Check(cfg.TLS.Config, time.Time{}); err != nil {
			return CheckReport{}, fmt.Errorf("config: tls: %w", err)
		}
	}
	return CheckReport{Rules: t.Source(), Regions: len(t.Regions()), Routes: len(t.Routes()),
		Hash: t.Hash(), Databases: len(cfg.Geo.Databases), Warnings: publicCacheWarnings(cfg, t)}, nil
}

// publicCacheWarnings warns of routes with cache: public when the region
// can come from the client's location (GeoIP or CDN geo headers): a
// shared cache then keeps an answer that differs by region, and a CDN
// that ignores Vary (CloudFront) serves one region's answer to everyone
// unless its cache key holds the geo headers.
func publicCacheWarnings(cfg Config, t *rules.Table) []string {
	if len(t.Regions()) < 2 || (len(cfg.Geo.Databases) == 0 && !cfg.Geo.CDNHeaders) {
		return nil
	}
	var out []string
	for _, r := range t.Routes() {
		if r.PublicCache {
			out = append(out, fmt.Sprintf("%s:%d: route %q has cache: public while regions can come from GeoIP or CDN geo headers: "+
				"put CloudFront-Viewer-Country, CloudFront-Viewer-Country-Region and CloudFront-Viewer-City (or your CDN's "+
				"equivalents) in the CDN's cache key, or one region's answer is served to everyone (CloudFront ignores Vary; see docs/cloudfront.md)",
				t.Source(), r.Line, r.Name))
		}
	}
	return out
}

// ErrNoSigningKey is Sign's error when the config has no image signing key.
var ErrNoSigningKey = errors.New("gateway: no image signing key configured (images.signing_keys or EDGEGATE_IMG_SIGNING_KEYS)")

// Sign returns path with the ?sig= that /img/ checks for custom sizes
// (path like /img/300x200-cover/photos/a.jpg, without a query), signed
// with the first of cfg's image signing keys.
func Sign(cfg Config, path string) (string, error) {
	if !strings.HasPrefix(path, string(prefixImage)) || strings.Contains(path, "?") {
		return "", fmt.Errorf("gateway: sign %q: want a path like /img/300x200-cover/photos/a.jpg, without a query", path)
	}
	p, err := resize.New(cfg.Images.Config)
	if err != nil {
		return "", err
	}
	sig, ok := p.Sign(path)
	if !ok {
		return "", ErrNoSigningKey
	}
	return path + "?sig=" + sig, nil
}
