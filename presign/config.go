package presign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

// Defaults for the zero fields of [Config].
const (
	DefaultWindow            = 60 * time.Second
	DefaultCacheEntries      = 100_000
	DefaultCredentialRefresh = 5 * time.Minute
)

// MaxWindow bounds [Config.Window]: the window is added to every URL's
// validity, and a long one would make 7-day URLs lose too much.
const MaxWindow = time.Hour

// Config configures a [Signer]. The zero value is usable: every zero field
// means its documented default. Config is data: after [New] it is not
// modified.
type Config struct {
	// Window is the signing-time granularity: X-Amz-Date (and CloudFront
	// expiry) is the current time floored to a multiple of Window since the
	// Unix epoch, and URLs are valid for TTL + Window. Whole seconds,
	// between 1s and MaxWindow. Default 60s.
	Window time.Duration `yaml:"window"`
	// CacheEntries bounds the signed-URL cache (LRU). Default 100000.
	CacheEntries int `yaml:"cache_entries"`
	// CredentialRefresh is how long before temporary credentials expire
	// the background refresher fetches new ones. Default 5m.
	CredentialRefresh time.Duration `yaml:"credential_refresh"`
	// CloudFront configures CloudFront URL signing for CDN delivery.
	// Without keys, CDN URLs are unsigned.
	CloudFront CloudFrontConfig `yaml:"cloudfront"`

	// Now returns the current time; nil means time.Now. Tests inject a
	// fake clock here.
	Now func() time.Time `yaml:"-"`
	// OnCredentialRefresh, if set, is called after each background
	// credential refresh with its outcome (nil on success), so failures
	// can be logged and counted.
	OnCredentialRefresh func(error) `yaml:"-"`
}

// CloudFrontConfig holds the CloudFront key pairs. Several keys may be
// configured so they can be rotated (all of them in the distribution's key
// group); URLs are signed with the one marked active.
type CloudFrontConfig struct {
	Keys []CloudFrontKey `yaml:"keys"`
}

// CloudFrontKey is one CloudFront key pair.
type CloudFrontKey struct {
	// ID is the CloudFront public key ID (Key-Pair-Id), e.g. K2JCJMDEHXQW5F.
	ID string `yaml:"id"`
	// PrivateKeyFile is a PEM file holding an RSA (PKCS#1 or PKCS#8) or
	// ECDSA (SEC 1 or PKCS#8) private key.
	PrivateKeyFile string `yaml:"private_key_file"`
	// Active marks the key new URLs are signed with. Exactly one key must
	// be active when any are configured.
	Active bool `yaml:"active"`
}

// withDefaults returns c with zero fields replaced by their defaults.
func (c Config) withDefaults() Config {
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.CacheEntries == 0 {
		c.CacheEntries = DefaultCacheEntries
	}
	if c.CredentialRefresh == 0 {
		c.CredentialRefresh = DefaultCredentialRefresh
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports configuration mistakes, all of them. It reads and parses
// the CloudFront key files.
func (c Config) Validate() error {
	var errs []error
	if c.Window != 0 && (c.Window < time.Second || c.Window > MaxWindow || c.Window%time.Second != 0) {
		errs = append(errs, fmt.Errorf("presign: window %s must be whole seconds between 1s and %s", c.Window, MaxWindow))
	}
	if c.CacheEntries < 0 {
		errs = append(errs, fmt.Errorf("presign: cache_entries %d must not be negative", c.CacheEntries))
	}
	if c.CredentialRefresh < 0 {
		errs = append(errs, fmt.Errorf("presign: credential_refresh %s must not be negative", c.CredentialRefresh))
	}
	if _, err := c.CloudFront.load(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// cfKey is a loaded CloudFront key.
type cfKey struct {
	id     string
	signer crypto.Signer
}

// load reads and parses every key and returns the active one (nil when no
// keys are configured).
func (c CloudFrontConfig) load() (*cfKey, error) {
	if len(c.Keys) == 0 {
		return nil, nil
	}
	var errs []error
	var active *cfKey
	nActive := 0
	seen := map[string]bool{}
	for i, k := range c.Keys {
		if k.ID == "" {
			errs = append(errs, fmt.Errorf("presign: cloudfront key %d: missing id", i))
		} else if seen[k.ID] {
			errs = append(errs, fmt.Errorf("presign: cloudfront key %d: duplicate id %q", i, k.ID))
		}
		seen[k.ID] = true
		s, err := loadPrivateKey(k.PrivateKeyFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("presign: cloudfront key %q: %w", k.ID, err))
		}
		if k.Active {
			nActive++
			active = &cfKey{id: k.ID, signer: s}
		}
	}
	if nActive != 1 {
		errs = append(errs, fmt.Errorf("presign: cloudfront: exactly one key must be active, %d are", nActive))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return active, nil
}

// loadPrivateKey reads an RSA or ECDSA private key from a PEM file.
func loadPrivateKey(file string) (crypto.Signer, error) {
	if file == "" {
		return nil, errors.New("missing private_key_file")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return parsePrivateKey(data)
}

func parsePrivateKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("unsupported PEM block %q (want RSA PRIVATE KEY, EC PRIVATE KEY or PRIVATE KEY)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", block.Type, err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("unsupported key type %T (want RSA or ECDSA)", key)
}
