// Package presign turns (bucket, key, TTL) into a URL a client can fetch
// without credentials: an S3 SigV4 presigned GET URL.
//
// It owns URL signing only: which bucket and key to sign is decided by the
// caller (package rules via package gateway), and how to reach a bucket comes
// from package store. It knows nothing of HTTP requests.
package presign

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/edgegate/edgegate/store"
)

// MaxTTL is the longest validity SigV4 allows for a presigned URL.
const MaxTTL = 7 * 24 * time.Hour

// ErrTTL is returned for a TTL that is not in (0, MaxTTL].
var ErrTTL = errors.New("presign: ttl must be positive and at most 7 days")

// Request names the object to sign and how.
type Request struct {
	Bucket string
	Key    string // full object key, prefix included
	TTL    time.Duration
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

// Signer signs S3 GET URLs. It is safe for concurrent use.
type Signer struct {
	store *store.Store
	now   func() time.Time
}

// New returns a Signer using the store's buckets and credentials.
func New(st *store.Store) *Signer {
	return &Signer{store: st, now: time.Now}
}

// Sign returns a presigned GET URL for req.
func (s *Signer) Sign(ctx context.Context, req Request) (URL, error) {
	if req.TTL <= 0 || req.TTL > MaxTTL {
		return URL{}, fmt.Errorf("%w (got %s)", ErrTTL, req.TTL)
	}
	in := &s3.GetObjectInput{Bucket: &req.Bucket, Key: &req.Key}
	if req.ContentDisposition != "" {
		in.ResponseContentDisposition = &req.ContentDisposition
	}
	if req.ContentType != "" {
		in.ResponseContentType = &req.ContentType
	}
	// The SDK stamps X-Amz-Date with its own clock at second precision;
	// truncating ours the same way keeps Expires exact.
	signedAt := s.now().UTC().Truncate(time.Second)
	pc := s3.NewPresignClient(s.store.Client(req.Bucket))
	out, err := pc.PresignGetObject(ctx, in, s3.WithPresignExpires(req.TTL))
	if err != nil {
		return URL{}, fmt.Errorf("presign: %s/%s: %w", req.Bucket, req.Key, err)
	}
	return URL{URL: out.URL, Expires: signedAt.Add(req.TTL)}, nil
}
