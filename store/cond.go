package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// ErrPrecondition is returned by PutIf when the object is not in the state
// the condition asked for (S3's 412 Precondition Failed, or 409 when a
// concurrent conditional write to the same key won).
var ErrPrecondition = errors.New("store: precondition failed")

// Cond is the condition of a conditional PUT (S3 conditional writes).
type Cond struct {
	// IfAbsent writes only if no object has the key (If-None-Match: *):
	// of several writers racing, exactly one succeeds.
	IfAbsent bool
	// IfMatch writes only if the object's ETag is this one (If-Match), so
	// a read-modify-write is lost to no concurrent writer.
	IfMatch string
}

// PutIf stores body under bucket/key if cond holds and returns the new
// ETag; ErrPrecondition if it does not hold.
func (s *Store) PutIf(ctx context.Context, bucket, key string, body []byte, cond Cond) (string, error) {
	return s.PutIfMeta(ctx, bucket, key, body, "application/octet-stream", nil, cond)
}

// PutIfMeta is PutIf for an object with its Content-Type and user
// metadata (x-amz-meta-*), as Put stores them: what several gateways
// racing to store the same rendered variant use, so that one writes it
// and the others learn (ErrPrecondition) that it is there.
func (s *Store) PutIfMeta(ctx context.Context, bucket, key string, body []byte, contentType string, meta map[string]string, cond Cond) (string, error) {
	if err := s.acquire(ctx); err != nil {
		return "", err
	}
	defer s.release()
	ctx, cancel := context.WithTimeout(sdkContext(ctx), s.timeout)
	defer cancel()
	in := &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body),
		ContentType: aws.String(contentType), Metadata: meta}
	if cond.IfAbsent {
		in.IfNoneMatch = aws.String("*")
	}
	if cond.IfMatch != "" {
		in.IfMatch = aws.String(cond.IfMatch)
	}
	out, err := s.Client(bucket).PutObject(ctx, in)
	if err != nil {
		var re *smithyhttp.ResponseError
		if errors.As(err, &re) && (re.HTTPStatusCode() == http.StatusPreconditionFailed || re.HTTPStatusCode() == http.StatusConflict) {
			return "", fmt.Errorf("%w: PUT %s/%s", ErrPrecondition, bucket, key)
		}
		if cond.IfMatch != "" && isNotFound(err) {
			return "", fmt.Errorf("%w: PUT %s/%s: gone", ErrPrecondition, bucket, key)
		}
		return "", fmt.Errorf("store: PUT %s/%s: %w", bucket, key, err)
	}
	return aws.ToString(out.ETag), nil
}

// Delete removes bucket/key; a missing object is no error.
func (s *Store) Delete(ctx context.Context, bucket, key string) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	ctx, cancel := context.WithTimeout(sdkContext(ctx), s.timeout)
	defer cancel()
	_, err := s.Client(bucket).DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("store: DELETE %s/%s: %w", bucket, key, err)
	}
	return nil
}

// ObjectInfo is an object's listing entry, or a common prefix (Dir).
type ObjectInfo struct {
	Key      string
	Size     int64
	Modified time.Time
	ETag     string
	// Dir is true for a common prefix ("directory") of a non-recursive
	// listing; Key then ends with the delimiter "/".
	Dir bool
}

// List returns the objects whose keys start with prefix, in key order, at
// most limit of them (0: all). Not recursive, it stops at the next "/"
// after prefix and returns each such common prefix once, as a Dir entry.
func (s *Store) List(ctx context.Context, bucket, prefix string, recursive bool, limit int) ([]ObjectInfo, error) {
	var out []ObjectInfo
	in := &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix}
	if !recursive {
		in.Delimiter = aws.String("/")
	}
	if limit > 0 && limit < 1000 {
		in.MaxKeys = aws.Int32(int32(limit))
	}
	for {
		page, err := s.listPage(ctx, bucket, in)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			out = append(out, ObjectInfo{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size),
				Modified: aws.ToTime(o.LastModified), ETag: aws.ToString(o.ETag)})
		}
		for _, p := range page.CommonPrefixes {
			out = append(out, ObjectInfo{Key: aws.ToString(p.Prefix), Dir: true})
		}
		if limit > 0 && len(out) >= limit {
			return out[:limit], nil
		}
		if !aws.ToBool(page.IsTruncated) || page.NextContinuationToken == nil {
			return out, nil
		}
		in.ContinuationToken = page.NextContinuationToken
	}
}

func (s *Store) listPage(ctx context.Context, bucket string, in *s3.ListObjectsV2Input) (*s3.ListObjectsV2Output, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.release()
	ctx, cancel := context.WithTimeout(sdkContext(ctx), s.timeout)
	defer cancel()
	out, err := s.Client(bucket).ListObjectsV2(ctx, in)
	if err != nil {
		var nb *types.NoSuchBucket
		if errors.As(err, &nb) {
			return nil, fmt.Errorf("%w: bucket %s", ErrNotFound, bucket)
		}
		return nil, fmt.Errorf("store: LIST %s/%s: %w", bucket, aws.ToString(in.Prefix), err)
	}
	return out, nil
}

// Stat returns what a HEAD says of bucket/key, with its modification
// time; ErrNotFound for a missing object.
func (s *Store) Stat(ctx context.Context, bucket, key string) (ObjectInfo, error) {
	if err := s.acquire(ctx); err != nil {
		return ObjectInfo{}, err
	}
	defer s.release()
	ctx, cancel := context.WithTimeout(sdkContext(ctx), s.timeout)
	defer cancel()
	out, err := s.Client(bucket).HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		if isNotFound(err) {
			return ObjectInfo{}, fmt.Errorf("%w: %s/%s", ErrNotFound, bucket, key)
		}
		return ObjectInfo{}, fmt.Errorf("store: HEAD %s/%s: %w", bucket, key, err)
	}
	return ObjectInfo{Key: key, Size: aws.ToInt64(out.ContentLength), Modified: aws.ToTime(out.LastModified),
		ETag: aws.ToString(out.ETag)}, nil
}
