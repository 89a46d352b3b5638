package presign

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign"
)

// CDNRequest names an object to deliver through a CDN.
type CDNRequest struct {
	// Base is the CDN base URL, e.g. https://cdn.example.com/tiles
	// (http or https, no query or fragment; a trailing '/' is optional).
	Base string
	// Key is the full object key, prefix included, unescaped.
	Key string
	// TTL is the least time a signed URL stays valid after it is handed
	// out (for unsigned URLs: how long it may be cached).
	TTL time.Duration
	// Wildcard signs a CloudFront custom policy whose resource is the
	// key's directory followed by '*' (Base + "/uk/london/*" for key
	// "uk/london/a.png"), so the same Policy, Signature and Key-Pair-Id
	// query also unlock the directory's other objects. Default: canned
	// policy for exactly this URL. Ignored when CloudFront is not
	// configured.
	Wildcard bool
}

// SignCDN returns Base + "/" + escaped Key, CloudFront-signed with the
// active key when CloudFront keys are configured. Like [Signer.Sign] it is
// window-aligned (the policy's expiry is window start + TTL + Window) and
// cached until the window ends; a cache hit allocates nothing. Unsigned
// URLs get the same Expires, for caching decisions.
func (s *Signer) SignCDN(ctx context.Context, req CDNRequest) (URL, error) {
	if req.TTL <= 0 {
		return URL{}, fmt.Errorf("%w (got %s)", ErrTTL, req.TTL)
	}
	if req.Key == "" {
		return URL{}, ErrKey
	}
	if s.closed.Load() {
		return URL{}, ErrClosed
	}
	ws := s.windowStart(s.now())
	k := cacheKey{kind: kindCDN, wildcard: req.Wildcard && s.cf != nil, ttl: req.TTL, window: ws,
		where: req.Base, key: req.Key}
	if u, ok := s.cache.Get(k); ok {
		return u, nil
	}
	return s.load(ctx, k, func() (URL, error) { return s.signCDN(req, ws) })
}

// signCDN builds and signs req at window start ws, bypassing the cache.
func (s *Signer) signCDN(req CDNRequest, ws int64) (URL, error) {
	base, err := cdnBase(req.Base)
	if err != nil {
		return URL{}, err
	}
	b := make([]byte, 0, len(base)+1+len(req.Key)*3/2)
	b = append(b, base...)
	b = append(b, '/')
	dir := len(b) // end of the escaped directory, after its last '/'
	b = appendPathEscape(b, req.Key)
	if i := strings.LastIndexByte(req.Key, '/'); i >= 0 {
		dir = len(base) + 1 + len(appendPathEscape(nil, req.Key[:i+1]))
	}
	raw := string(b)
	expires := time.Unix(ws, 0).UTC().Add(req.TTL + s.window)
	if s.cf == nil {
		return URL{URL: raw, Expires: expires}, nil
	}
	var signed string
	if req.Wildcard {
		signed, err = s.cf.SignWithPolicy(raw, &sign.Policy{Statements: []sign.Statement{{
			Resource:  raw[:dir] + "*",
			Condition: sign.Condition{DateLessThan: sign.NewAWSEpochTime(expires)},
		}}})
	} else {
		signed, err = s.cf.Sign(raw, expires)
	}
	if err != nil {
		return URL{}, fmt.Errorf("presign: cloudfront sign %s: %w", raw, err)
	}
	return URL{URL: signed, Expires: expires}, nil
}

// cdnBase checks a CDN base URL and returns it without a trailing '/'.
func cdnBase(base string) (string, error) {
	rest, ok := strings.CutPrefix(base, "https://")
	if !ok {
		rest, ok = strings.CutPrefix(base, "http://")
	}
	host, _, _ := strings.Cut(rest, "/")
	if !ok || host == "" || strings.ContainsAny(base, "?#") {
		return "", fmt.Errorf("presign: cdn base %q must be an http(s) URL with a host and no query or fragment", base)
	}
	return strings.TrimRight(base, "/"), nil
}
