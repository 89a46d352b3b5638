package imgproxy

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Config configures the imgproxy-compatible path. The zero values of its
// fields are not all defaults: start from DefaultConfig.
type Config struct {
	// Enabled serves /imgproxy/{signature}/{options}/... on the public
	// listener. Default false.
	Enabled bool `yaml:"enabled"`
	// Keys are imgproxy's IMGPROXY_KEYS (or IMGPROXY_KEY): hex-encoded,
	// each paired with the salt at the same position; a signature made
	// with any pair verifies, so keys can be rotated. Default: none.
	Keys []string `yaml:"keys"`
	// Salts are imgproxy's IMGPROXY_SALTS (or IMGPROXY_SALT): hex-encoded,
	// one per key. Default: none.
	Salts []string `yaml:"salts"`
	// SignatureSize is imgproxy's IMGPROXY_SIGNATURE_SIZE: how many bytes
	// of the HMAC-SHA256 the signature carries, 1–32. Default 32.
	SignatureSize int `yaml:"signature_size"`
	// AllowInsecure serves unsigned URLs (any signature segment, as
	// imgproxy does without a key: "insecure", "_", "unsafe") when no keys
	// are configured. Default false: without keys every request is refused
	// with 403. It cannot be combined with keys.
	AllowInsecure bool `yaml:"allow_insecure"`
	// SourcePrefixes map source URLs to object keys: a source that starts
	// with one of them (the longest wins) names the key that follows it,
	// percent-decoded, routed through the rules like /img/{spec}/{key}
	// ("https://img.example.com/photos/a.jpg" with prefix
	// "https://img.example.com/" is key "photos/a.jpg"). Each ends in "/".
	// A source no prefix matches is refused with 404; nothing is fetched
	// from the URL itself. Default: none.
	SourcePrefixes []string `yaml:"source_prefixes"`
	// BaseURL is imgproxy's IMGPROXY_BASE_URL: prepended to every source
	// that does not already start with it, before the prefixes are
	// matched. Default "".
	BaseURL string `yaml:"base_url"`
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{SignatureSize: 32}
}

// Validate reports every problem in c at once, or nil.
func (c Config) Validate() error {
	var errs []error
	if len(c.Keys) != len(c.Salts) {
		errs = append(errs, fmt.Errorf("imgproxy: keys and salts come in pairs: %d keys, %d salts", len(c.Keys), len(c.Salts)))
	}
	for i, k := range c.Keys {
		if _, err := decodeHex(k); err != nil {
			errs = append(errs, fmt.Errorf("imgproxy: keys[%d]: %w", i, err))
		}
	}
	for i, s := range c.Salts {
		if _, err := decodeHex(s); err != nil {
			errs = append(errs, fmt.Errorf("imgproxy: salts[%d]: %w", i, err))
		}
	}
	if c.SignatureSize < 1 || c.SignatureSize > 32 {
		errs = append(errs, fmt.Errorf("imgproxy: signature_size must be 1–32 bytes, not %d", c.SignatureSize))
	}
	if c.AllowInsecure && len(c.Keys) > 0 {
		errs = append(errs, errors.New("imgproxy: allow_insecure is for running without keys; remove it or the keys"))
	}
	seen := map[string]bool{}
	for i, p := range c.SourcePrefixes {
		switch {
		case !strings.HasSuffix(p, "/"):
			errs = append(errs, fmt.Errorf("imgproxy: source_prefixes[%d] %q must end in \"/\"", i, p))
		case !strings.Contains(p, "://"):
			errs = append(errs, fmt.Errorf("imgproxy: source_prefixes[%d] %q is not a URL prefix (want scheme://...: https://img.example.com/, s3://bucket/, local:///)", i, p))
		case strings.ContainsAny(p, "?#"):
			errs = append(errs, fmt.Errorf("imgproxy: source_prefixes[%d] %q must not contain a query or fragment", i, p))
		case seen[p]:
			errs = append(errs, fmt.Errorf("imgproxy: source_prefixes[%d] %q is listed twice", i, p))
		}
		seen[p] = true
	}
	if c.BaseURL != "" {
		if _, err := url.Parse(c.BaseURL); err != nil {
			errs = append(errs, fmt.Errorf("imgproxy: base_url: %w", err))
		}
	}
	if c.Enabled && len(c.SourcePrefixes) == 0 {
		errs = append(errs, errors.New("imgproxy: enabled needs source_prefixes: the source URLs that name objects of the rules' buckets"))
	}
	return errors.Join(errs...)
}

// decodeHex decodes a hex key or salt (either case), which must not be
// empty.
func decodeHex(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty; want hex")
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not hex: %w", err)
	}
	return b, nil
}
