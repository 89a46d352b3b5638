package snsverify

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"time"
)

// Errors of Verify, to tell the sender what was wrong.
var (
	// ErrUnsigned: no Signature, SignatureVersion or SigningCertURL.
	ErrUnsigned = errors.New("snsverify: message is not signed")
	// ErrStale: Timestamp further than MaxAge from now.
	ErrStale = errors.New("snsverify: message is stale")
	// ErrCertURL: SigningCertURL is not https on an SNS host.
	ErrCertURL = errors.New("snsverify: signing certificate URL is not an SNS one")
	// ErrCertFetch: the certificate could not be fetched or read (the
	// message may be good: the sender should retry).
	ErrCertFetch = errors.New("snsverify: signing certificate unavailable")
	// ErrSignature: the signature does not verify, or its version is
	// unknown.
	ErrSignature = errors.New("snsverify: bad signature")
)

// DefaultHostPattern matches the hosts SNS serves signing certificates
// and subscription URLs from: sns.<region>.amazonaws.com (and .com.cn),
// no explicit port.
const DefaultHostPattern = `^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`

// Config configures a Verifier.
type Config struct {
	// HostPattern is a regular expression the host (with its port, when
	// the URL has one) of SigningCertURL and SubscribeURL must match;
	// the scheme must be https. Default DefaultHostPattern.
	HostPattern string `yaml:"host_pattern"`
	// MaxAge refuses messages whose Timestamp is further than this from
	// now (either way). Default 1h.
	MaxAge time.Duration `yaml:"max_age"`
	// CertCache bounds the signing certificates kept in memory (SNS has a
	// few per region); past it the oldest goes. Default 16.
	CertCache int `yaml:"cert_cache"`
}

// DefaultConfig returns the defaults documented on Config's fields.
func DefaultConfig() Config {
	return Config{HostPattern: DefaultHostPattern, MaxAge: time.Hour, CertCache: 16}
}

// Validate reports what is wrong with c.
func (c Config) Validate() error {
	var errs []error
	if _, err := regexp.Compile(c.HostPattern); err != nil || c.HostPattern == "" {
		errs = append(errs, fmt.Errorf("snsverify: host_pattern %q is not a regular expression: %v", c.HostPattern, err))
	}
	if c.MaxAge <= 0 {
		errs = append(errs, fmt.Errorf("snsverify: max_age must be positive, not %v", c.MaxAge))
	}
	if c.CertCache <= 0 {
		errs = append(errs, fmt.Errorf("snsverify: cert_cache must be positive, not %d", c.CertCache))
	}
	return errors.Join(errs...)
}

// maxCertBytes bounds a signing certificate's download.
const maxCertBytes = 64 << 10

// Verifier checks SNS messages. It is safe for concurrent use.
type Verifier struct {
	cfg    Config
	host   *regexp.Regexp
	client *http.Client
	now    func() time.Time

	mu    sync.Mutex
	certs map[string]*rsa.PublicKey
	order []string // insertion order, for eviction
}

// New returns a Verifier that fetches certificates with client (nil: a
// default client; tests pass one that trusts their CA). Redirects are not
// followed; without a client timeout, fetches time out after 10s.
func New(cfg Config, client *http.Client) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := http.Client{}
	if client != nil {
		c = *client
	}
	// A redirect could lead off the SNS hosts: none is followed.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	return &Verifier{cfg: cfg, host: regexp.MustCompile(cfg.HostPattern), client: &c, now: time.Now,
		certs: make(map[string]*rsa.PublicKey)}, nil
}

// URLAllowed reports whether u is an https URL on a host matching the
// host pattern, without user info: a SigningCertURL or SubscribeURL SNS
// could have sent.
func (v *Verifier) URLAllowed(u string) bool {
	p, err := url.Parse(u)
	return err == nil && p.Scheme == "https" && p.User == nil && p.Opaque == "" && v.host.MatchString(p.Host)
}

// Verify checks m's signature with the certificate at its SigningCertURL
// (fetched once, then cached) and its age. The error wraps one of
// ErrUnsigned, ErrStale, ErrCertURL, ErrCertFetch or ErrSignature.
func (v *Verifier) Verify(ctx context.Context, m Message) error {
	if m.Signature == "" || m.SignatureVersion == "" || m.SigningCertURL == "" {
		return ErrUnsigned
	}
	if age := v.now().Sub(m.time); age > v.cfg.MaxAge || age < -v.cfg.MaxAge {
		return fmt.Errorf("%w: Timestamp %s is %v from now, over %v", ErrStale, m.Timestamp, age.Round(time.Second), v.cfg.MaxAge)
	}
	var hash crypto.Hash
	switch m.SignatureVersion {
	case "1":
		hash = crypto.SHA1
	case "2":
		hash = crypto.SHA256
	default:
		return fmt.Errorf("%w: unknown SignatureVersion %q", ErrSignature, truncate(m.SignatureVersion, 16))
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil {
		return fmt.Errorf("%w: Signature is not base64", ErrSignature)
	}
	if !v.URLAllowed(m.SigningCertURL) {
		return fmt.Errorf("%w: %q", ErrCertURL, truncate(m.SigningCertURL, 256))
	}
	key, err := v.cert(ctx, m.SigningCertURL)
	if err != nil {
		return err
	}
	var digest []byte
	if hash == crypto.SHA1 {
		d := sha1.Sum([]byte(m.StringToSign()))
		digest = d[:]
	} else {
		d := sha256.Sum256([]byte(m.StringToSign()))
		digest = d[:]
	}
	if err := rsa.VerifyPKCS1v15(key, hash, digest, sig); err != nil {
		return fmt.Errorf("%w: %w", ErrSignature, err)
	}
	return nil
}

// cert returns the public key of the certificate at u, from the cache or
// fetched. Failed fetches are not cached.
func (v *Verifier) cert(ctx context.Context, u string) (*rsa.PublicKey, error) {
	v.mu.Lock()
	k, ok := v.certs[u]
	v.mu.Unlock()
	if ok {
		return k, nil
	}
	k, err := v.fetch(ctx, u)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.certs[u]; !ok {
		for len(v.order) >= v.cfg.CertCache {
			delete(v.certs, v.order[0])
			v.order = v.order[1:]
		}
		v.certs[u] = k
		v.order = append(v.order, u)
	}
	return k, nil
}

func (v *Verifier) fetch(ctx context.Context, u string) (*rsa.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCertURL, err)
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCertFetch, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: GET %s: status %d", ErrCertFetch, truncate(u, 256), resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCertBytes+1))
	if err != nil || len(body) > maxCertBytes {
		return nil, fmt.Errorf("%w: GET %s: unreadable or over %d bytes", ErrCertFetch, truncate(u, 256), maxCertBytes)
	}
	blk, _ := pem.Decode(body)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: %s holds no PEM certificate", ErrCertFetch, truncate(u, 256))
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCertFetch, err)
	}
	if now := v.now(); now.Before(c.NotBefore) || now.After(c.NotAfter) {
		return nil, fmt.Errorf("%w: certificate at %s is not valid now", ErrSignature, truncate(u, 256))
	}
	k, ok := c.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: certificate at %s has no RSA key", ErrSignature, truncate(u, 256))
	}
	return k, nil
}
