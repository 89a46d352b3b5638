package presign

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyauth "github.com/aws/smithy-go/auth"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/edgegate/edgegate/cache"
	"github.com/edgegate/edgegate/store"
)

// MaxTTL is the longest TTL [Signer.Sign] accepts: SigV4's 7-day limit.
const MaxTTL = 7 * 24 * time.Hour

var (
	// ErrTTL is returned for a TTL that is not in (0, MaxTTL] (presigned
	// URLs) or not positive (CDN URLs).
	ErrTTL = errors.New("presign: ttl must be positive and at most 7 days")
	// ErrBucket is returned for a bucket name that is empty or has
	// characters no S3 bucket name has (only letters, digits, '.', '-',
	// '_' and '~' are accepted).
	ErrBucket = errors.New("presign: invalid bucket name")
	// ErrKey is returned for an empty object key.
	ErrKey = errors.New("presign: empty object key")
	// ErrCredentialsExpired is returned when the credentials have lapsed
	// and the background refresher has not replaced them.
	ErrCredentialsExpired = errors.New("presign: credentials expired")
	// ErrClosed is returned by a Signer after Close.
	ErrClosed = errors.New("presign: signer closed")
)

// Request names the object to sign and how. Its strings become part of the
// cache key; they are cloned when a URL is cached, so they may alias
// buffers the caller reuses after Sign returns.
type Request struct {
	Bucket string
	Key    string // full object key, prefix included
	// TTL is the least time the URL stays valid after it is handed out.
	TTL time.Duration
	// Optional response header overrides (response-content-disposition,
	// response-content-type).
	ContentDisposition string
	ContentType        string
}

// URL is a signed URL and the moment it stops working.
type URL struct {
	URL     string
	Expires time.Time
}

// Signer signs S3 GET URLs and CDN URLs. It is safe for concurrent use.
// Close it to stop its credential refresher.
type Signer struct {
	window    time.Duration
	now       func() time.Time
	refresh   time.Duration
	onRefresh func(error)

	buckets  func(name string) *store.Bucket
	provider aws.CredentialsProvider
	creds    atomic.Pointer[credState]
	targets  sync.Map // bucket name → *s3Target
	resolver s3.EndpointResolverV2

	cf *sign.URLSigner // nil: CDN URLs are unsigned

	cache *cache.Cache[cacheKey, URL]

	stop      chan struct{}
	done      chan struct{} // closed when the refresher exits; nil if none
	closeOnce sync.Once
	closed    atomic.Bool
}

// credState is one set of credentials and the signing keys derived from
// them. It is immutable but for the key cache; a refresh swaps in a new one.
type credState struct {
	creds aws.Credentials
	keys  keyCache
}

func newCredState(c aws.Credentials) *credState {
	return &credState{creds: c, keys: keyCache{secret: c.SecretAccessKey}}
}

// delivery kinds, part of the cache key.
const (
	kindS3 uint8 = iota
	kindCDN
)

// cacheKey identifies one signed URL. It is a comparable struct of the
// caller's strings, so a lookup allocates nothing.
type cacheKey struct {
	kind     uint8
	wildcard bool
	ttl      time.Duration
	window   int64  // window start, Unix seconds
	where    string // bucket (S3) or CDN base URL
	key      string
	disp     string
	ctype    string
}

// New returns a Signer using the store's buckets and credentials. It
// validates cfg, loads the CloudFront keys and retrieves the credentials
// once (bounded by 30s); when they are temporary, a background goroutine
// refreshes them CredentialRefresh before they expire until Close.
func New(st *store.Store, cfg Config) (*Signer, error) {
	if st == nil {
		return nil, errors.New("presign: nil store")
	}
	return newSigner(st.Bucket, st.AWS().Credentials, cfg)
}

// newSigner is New with its sources broken out, so tests can supply their
// own credentials provider.
func newSigner(buckets func(string) *store.Bucket, provider aws.CredentialsProvider, cfg Config) (*Signer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if provider == nil {
		return nil, errors.New("presign: no credentials provider")
	}
	cfg = cfg.withDefaults()
	cf, err := cfg.CloudFront.load()
	if err != nil {
		return nil, err
	}
	c, err := cache.New[cacheKey, URL](cache.Options{MaxEntries: cfg.CacheEntries, Now: cfg.Now})
	if err != nil {
		return nil, fmt.Errorf("presign: %w", err)
	}
	s := &Signer{
		window:    cfg.Window,
		now:       cfg.Now,
		refresh:   cfg.CredentialRefresh,
		onRefresh: cfg.OnCredentialRefresh,
		buckets:   buckets,
		provider:  provider,
		resolver:  s3.NewDefaultEndpointResolverV2(),
		cache:     c,
		stop:      make(chan struct{}),
	}
	if cf != nil {
		s.cf = sign.NewURLSigner(cf.id, cf.signer)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	creds, err := provider.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("presign: retrieve credentials: %w", err)
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return nil, errors.New("presign: credentials have no access key or secret (anonymous credentials cannot sign)")
	}
	s.creds.Store(newCredState(creds))
	if creds.CanExpire {
		s.done = make(chan struct{})
		go s.refresher()
	}
	return s, nil
}

// Close stops the credential refresher and waits for it to exit. Sign
// returns ErrClosed afterwards. Close is idempotent.
func (s *Signer) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.stop)
	})
	if s.done != nil {
		<-s.done
	}
	return nil
}

// CacheStats returns the signed-URL cache's counters.
func (s *Signer) CacheStats() cache.Stats { return s.cache.Stats() }

// windowStart returns the start of the window holding t, in Unix seconds.
func (s *Signer) windowStart(t time.Time) int64 {
	w := int64(s.window / time.Second)
	sec := t.Unix()
	m := sec % w
	if m < 0 {
		m += w
	}
	return sec - m
}

// Sign returns a presigned GET URL for req: X-Amz-Date is the start of the
// current window and the URL is valid for TTL + Window, capped at 7 days
// and at the credentials' expiry. Within one window the same req gets the
// same URL, from the cache; a cache hit allocates nothing.
func (s *Signer) Sign(ctx context.Context, req Request) (URL, error) {
	if req.TTL <= 0 || req.TTL > MaxTTL {
		return URL{}, fmt.Errorf("%w (got %s)", ErrTTL, req.TTL)
	}
	if req.Key == "" {
		return URL{}, ErrKey
	}
	if s.closed.Load() {
		return URL{}, ErrClosed
	}
	ws := s.windowStart(s.now())
	k := cacheKey{kind: kindS3, ttl: req.TTL, window: ws, where: req.Bucket, key: req.Key,
		disp: req.ContentDisposition, ctype: req.ContentType}
	if u, ok := s.cache.Get(k); ok {
		return u, nil
	}
	return s.load(ctx, k, func() (URL, error) { return s.signS3(req, ws) })
}

// load signs through the cache (coalescing concurrent misses) and keeps the
// URL until its window ends, or until it expires if that is sooner.
//
// The key's strings are cloned before the cache keeps them: callers may
// pass strings that alias request buffers they reuse.
func (s *Signer) load(ctx context.Context, k cacheKey, signFn func() (URL, error)) (URL, error) {
	k.where, k.key = strings.Clone(k.where), strings.Clone(k.key)
	k.disp, k.ctype = strings.Clone(k.disp), strings.Clone(k.ctype)
	u, _, err := s.cache.GetOrLoad(ctx, k, func(context.Context) (URL, time.Duration, error) {
		u, err := signFn()
		if err != nil {
			return URL{}, 0, err
		}
		until := time.Unix(k.window, 0).Add(s.window)
		if u.Expires.Before(until) {
			until = u.Expires
		}
		return u, until.Sub(s.now()), nil // 0 or less: stale already, not cached
	})
	return u, err
}

// signS3 signs req at window start ws, bypassing the cache.
func (s *Signer) signS3(req Request, ws int64) (URL, error) {
	t, err := s.target(req.Bucket)
	if err != nil {
		return URL{}, err
	}
	cs := s.creds.Load()
	at := time.Unix(ws, 0).UTC()
	exp := ceilSeconds(req.TTL + s.window)
	if exp > maxExpires {
		exp = maxExpires
	}
	if cs.creds.CanExpire {
		if !cs.creds.Expires.After(s.now()) {
			return URL{}, fmt.Errorf("%w at %s", ErrCredentialsExpired, cs.creds.Expires.UTC().Format(time.RFC3339))
		}
		if lim := int64(cs.creds.Expires.Sub(at) / time.Second); lim < exp {
			exp = lim
		}
	}
	u := presignV4(&v4Params{
		target:       t,
		key:          req.Key,
		accessKey:    cs.creds.AccessKeyID,
		sessionToken: cs.creds.SessionToken,
		signingKey:   cs.keys.get(at, t.region),
		at:           at,
		expires:      exp,
		disposition:  req.ContentDisposition,
		contentType:  req.ContentType,
	})
	return URL{URL: u, Expires: at.Add(time.Duration(exp) * time.Second)}, nil
}

// ceilSeconds returns d in whole seconds, rounded up.
func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// target returns where bucket's objects live, resolved once per bucket
// with the SDK's own S3 endpoint rules (partition, path-style vs
// virtual-hosted, custom endpoints, buckets that cannot be hostnames).
func (s *Signer) target(bucket string) (*s3Target, error) {
	if t, ok := s.targets.Load(bucket); ok {
		return t.(*s3Target), nil
	}
	b := s.buckets(bucket)
	t, err := resolveTarget(s.resolver, bucket, b.Region, b.Endpoint, b.PathStyle)
	if err != nil {
		return nil, err
	}
	s.targets.Store(bucket, t)
	return t, nil
}

func resolveTarget(r s3.EndpointResolverV2, bucket, region, endpoint string, pathStyle bool) (*s3Target, error) {
	if !validBucket(bucket) {
		return nil, fmt.Errorf("%w: %q", ErrBucket, bucket)
	}
	p := s3.EndpointParameters{Bucket: &bucket, Region: &region, ForcePathStyle: &pathStyle}
	if endpoint != "" {
		p.Endpoint = &endpoint
	}
	ep, err := r.ResolveEndpoint(context.Background(), p.WithDefaults())
	if err != nil {
		return nil, fmt.Errorf("presign: bucket %q: resolve endpoint: %w", bucket, err)
	}
	u := ep.URI
	t := &s3Target{
		origin:     u.Scheme + "://" + u.Host,
		hostHeader: hostHeader(u.Scheme, u.Host),
		basePath:   u.EscapedPath(),
		region:     region,
	}
	opts, _ := smithyauth.GetAuthOptions(&ep.Properties)
	for _, o := range opts {
		if o.SchemeID != "aws.auth#sigv4" {
			continue
		}
		if r, ok := smithyhttp.GetSigV4SigningRegion(&o.SignerProperties); ok && r != "" {
			t.region = r
		}
		if n, ok := smithyhttp.GetSigV4SigningName(&o.SignerProperties); ok && n != "" && n != service {
			return nil, fmt.Errorf("presign: bucket %q: endpoint wants signing name %q, only %q is supported", bucket, n, service)
		}
		break
	}
	return t, nil
}

// validBucket reports whether name is usable as is in a URL path and host.
// Names outside this set are not valid S3 bucket names, and the SDK itself
// mis-signs them.
func validBucket(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !unreserved[name[i]] {
			return false
		}
	}
	return true
}

// hostHeader strips a default port (80 for http, 443 for https) from
// host, as HTTP clients do in the Host header.
func hostHeader(scheme, host string) string {
	i := strings.LastIndexByte(host, ':')
	if i < 0 || strings.HasSuffix(host, "]") {
		return host
	}
	port := host[i+1:]
	if (strings.EqualFold(scheme, "http") && port == "80") || (strings.EqualFold(scheme, "https") && port == "443") {
		h := host[:i]
		return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	}
	return host
}

// refresher replaces expiring credentials in the background, refresh
// before they expire, retrying with backoff on failure.
func (s *Signer) refresher() {
	defer close(s.done)
	const minBackoff, maxBackoff = time.Second, time.Minute
	backoff := time.Duration(0)
	for {
		cur := s.creds.Load()
		if !cur.creds.CanExpire {
			return
		}
		wait := cur.creds.Expires.Sub(s.now()) - s.refresh
		if backoff > 0 {
			wait = backoff
		}
		timer := time.NewTimer(max(wait, 0))
		select {
		case <-s.stop:
			timer.Stop()
			return
		case <-timer.C:
		}
		err := s.refreshOnce(cur)
		if s.onRefresh != nil {
			s.onRefresh(err)
		}
		if err == nil {
			backoff = 0
			continue
		}
		backoff = min(max(2*backoff, minBackoff), maxBackoff)
	}
}

// errStale: the provider handed back credentials that expire as soon as
// the old ones; try again later.
var errStale = errors.New("presign: refreshed credentials expire within the refresh margin")

func (s *Signer) refreshOnce(cur *credState) error {
	// aws.CredentialsCache returns its cached value until it expires;
	// invalidate it so Retrieve fetches new credentials early.
	if inv, ok := s.provider.(interface{ Invalidate() }); ok {
		inv.Invalidate()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	c, err := s.provider.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("presign: refresh credentials: %w", err)
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return errors.New("presign: refresh credentials: no access key or secret")
	}
	if c != cur.creds {
		s.creds.Store(newCredState(c))
	}
	if c.CanExpire && c.Expires.Sub(s.now()) <= s.refresh {
		return errStale
	}
	return nil
}
