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
		Hash: t.Hash(), Databases: len(cfg.Geo.Databases)}, nil
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
