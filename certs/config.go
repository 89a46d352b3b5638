package certs

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// Challenge types an ACMEConfig may list.
const (
	ChallengeHTTP01    = "http-01"
	ChallengeTLSALPN01 = "tls-alpn-01"
)

// DefaultCA is the ACME directory used when ACMEConfig.CA is empty: Let's
// Encrypt's production CA.
const DefaultCA = "https://acme-v02.api.letsencrypt.org/directory"

// DefaultRenewalWindowRatio is the part of a certificate's lifetime, at its
// end, in which it is renewed (certmagic's default): a 90-day certificate
// is renewed 30 days before it expires.
const DefaultRenewalWindowRatio = 1.0 / 3

// DefaultStoragePrefix is the key prefix of ACME data in a storage bucket.
const DefaultStoragePrefix = "edgegate/acme/"

// Config is the `tls:` section's certificates: PEM files, ACME-managed
// names, or both. It is validated once (Validate) and not modified after;
// the zero Config has no certificates (TLS off).
type Config struct {
	// Certificates are PEM certificate/key file pairs, picked by SNI (exact
	// name first, then a wildcard). The certificate file holds the leaf
	// first, then its intermediates. Files are reloaded when they change;
	// a pair that fails to load keeps the previous one serving.
	Certificates []FilePair `yaml:"certificates"`
	// ACME has certificates obtained and renewed for the listed names.
	ACME ACMEConfig `yaml:"acme"`
	// DefaultName is the name whose certificate answers a client that sends
	// no SNI (a client that dialled an IP address) when no certificate
	// holds the address it dialled. Default: the first name of the first
	// certificate file, else the first ACME name.
	DefaultName string `yaml:"default_name"`
}

// FilePair is one certificate and its private key, PEM files.
type FilePair struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// ACMEConfig says which names get ACME certificates, from which CA, and
// where they are stored. Using it means agreeing to the CA's terms of
// service.
type ACMEConfig struct {
	// Names are the hostnames and IP addresses to obtain certificates for
	// (one certificate per name). Only these are ever issued: a ClientHello
	// for another name never causes an issuance. No wildcards (HTTP-01 and
	// TLS-ALPN-01 cannot validate them).
	Names []string `yaml:"names"`
	// Email is given to the CA for expiry notices. Default: none.
	Email string `yaml:"email"`
	// CA is the ACME directory URL (https). Default: DefaultCA.
	CA string `yaml:"ca"`
	// CARoot is a PEM file with the root that signs the ACME server's own
	// HTTPS certificate, trusted besides the system roots (a private CA
	// such as Pebble). Default: the system roots only.
	CARoot string `yaml:"ca_root"`
	// Challenges are the challenge types offered, among "http-01" (the
	// plain listener, port 80 to the CA) and "tls-alpn-01" (the TLS
	// listener, port 443). Default: both.
	Challenges []string `yaml:"challenges"`
	// Storage is where certificates, keys, account data and locks live.
	// Required with Names.
	Storage StorageConfig `yaml:"storage"`
	// RenewalWindowRatio is the part of a certificate's lifetime, at its
	// end, in which it is renewed, in (0, 1). Default:
	// DefaultRenewalWindowRatio (1/3).
	RenewalWindowRatio float64 `yaml:"renewal_window_ratio"`
}

// StorageConfig is one of: a bucket (shared by a fleet: one issuance per
// name, and the lock that ensures it, in S3) or a local directory.
type StorageConfig struct {
	// Bucket is an S3 bucket reached through the gateway's s3 settings.
	Bucket string `yaml:"bucket"`
	// Prefix is the key prefix in Bucket. Default: DefaultStoragePrefix.
	Prefix string `yaml:"prefix"`
	// Dir is a local directory (one gateway, or a shared file system).
	Dir string `yaml:"dir"`
}

// Enabled reports whether c configures any certificate.
func (c Config) Enabled() bool { return len(c.Certificates) > 0 || len(c.ACME.Names) > 0 }

// Validate reports every configuration mistake at once, each naming its
// field. It reads no file (Check does).
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf("certs: "+format, a...)) }
	for i, p := range c.Certificates {
		if p.CertFile == "" {
			add("certificates[%d].cert_file is empty", i)
		}
		if p.KeyFile == "" {
			add("certificates[%d].key_file is empty", i)
		}
	}
	a := c.ACME
	if len(a.Names) == 0 {
		if a.Email != "" || a.CA != "" || a.CARoot != "" || len(a.Challenges) > 0 ||
			a.Storage != (StorageConfig{}) || a.RenewalWindowRatio != 0 {
			add("acme: names is empty, so the other acme settings do nothing")
		}
	} else {
		seen := map[string]bool{}
		for i, n := range a.Names {
			if err := checkName(n, false); err != nil {
				add("acme.names[%d] %q: %v", i, n, err)
				continue
			}
			if k := normalize(n); seen[k] {
				add("acme.names[%d] %q: listed twice", i, n)
			} else {
				seen[k] = true
			}
		}
		if a.CA != "" {
			if u, err := url.Parse(a.CA); err != nil || u.Scheme != "https" || u.Host == "" {
				add("acme.ca %q: not an https URL", a.CA)
			}
		}
		if a.Email != "" && !strings.Contains(a.Email, "@") {
			add("acme.email %q: not an email address", a.Email)
		}
		seenCh := map[string]bool{}
		for i, ch := range a.Challenges {
			switch {
			case ch != ChallengeHTTP01 && ch != ChallengeTLSALPN01:
				add("acme.challenges[%d] %q: want %q or %q", i, ch, ChallengeHTTP01, ChallengeTLSALPN01)
			case seenCh[ch]:
				add("acme.challenges[%d] %q: listed twice", i, ch)
			}
			seenCh[ch] = true
		}
		s := a.Storage
		switch {
		case s.Bucket == "" && s.Dir == "":
			add("acme.storage: set bucket (shared by a fleet) or dir")
		case s.Bucket != "" && s.Dir != "":
			add("acme.storage: set bucket or dir, not both")
		case s.Dir != "" && s.Prefix != "":
			add("acme.storage.prefix is for a bucket, not a dir")
		}
		if strings.HasPrefix(s.Prefix, "/") {
			add("acme.storage.prefix %q: must not start with /", s.Prefix)
		}
		if a.RenewalWindowRatio < 0 || a.RenewalWindowRatio >= 1 {
			add("acme.renewal_window_ratio %v: want a number in (0, 1); 0 means the default %.3f",
				a.RenewalWindowRatio, DefaultRenewalWindowRatio)
		}
	}
	if c.DefaultName != "" {
		if err := checkName(c.DefaultName, true); err != nil {
			add("default_name %q: %v", c.DefaultName, err)
		}
		if len(c.Certificates) == 0 && !containsName(a.Names, c.DefaultName) {
			add("default_name %q: not one of acme.names", c.DefaultName)
		}
	}
	return errors.Join(errs...)
}

// checkName reports whether n is a hostname (letters, digits, hyphens;
// labels of 1-63 bytes; at most 253 bytes) or an IP address; a leading
// "*." label is allowed when wildcard is true.
func checkName(n string, wildcard bool) error {
	if n == "" {
		return errors.New("empty")
	}
	if _, err := netip.ParseAddr(n); err == nil {
		return nil
	}
	h := strings.TrimSuffix(n, ".")
	if strings.HasPrefix(h, "*.") {
		if !wildcard {
			return errors.New("a wildcard needs the DNS-01 challenge, which edgegate does not do; use a certificate file")
		}
		h = h[2:]
	}
	if len(h) > 253 {
		return errors.New("longer than 253 bytes")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return errors.New("not a hostname (empty label or one over 63 bytes)")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("not a hostname (a label starts or ends with '-')")
		}
		for i := 0; i < len(label); i++ {
			b := label[i]
			if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-') {
				return fmt.Errorf("not a hostname (byte %q)", b)
			}
		}
	}
	return nil
}

// normalize is a name as certificates are matched: lower case, no
// trailing dot.
func normalize(n string) string { return strings.ToLower(strings.TrimSuffix(n, ".")) }

func containsName(names []string, n string) bool {
	for _, x := range names {
		if normalize(x) == normalize(n) {
			return true
		}
	}
	return false
}

// challenges returns whether HTTP-01 and TLS-ALPN-01 are on.
func (a ACMEConfig) challenges() (http01, tlsalpn01 bool) {
	if len(a.Challenges) == 0 {
		return true, true
	}
	for _, ch := range a.Challenges {
		switch ch {
		case ChallengeHTTP01:
			http01 = true
		case ChallengeTLSALPN01:
			tlsalpn01 = true
		}
	}
	return http01, tlsalpn01
}
