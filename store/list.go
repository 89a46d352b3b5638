package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Page is one page of a listing.
type Page struct {
	Objects []ObjectInfo // in key order; Dir entries for common prefixes
	// Next continues the listing (ListPage's token); "" after the last page.
	Next string
}

// ListPage returns one page of at most maxKeys (1..1000) entries whose keys
// start with prefix, starting where token (a previous page's Next; "" for
// the first) left off. With a delimiter (usually "/") the keys past it are
// rolled up into Dir entries. Unlike List it never holds more than a page.
func (s *Store) ListPage(ctx context.Context, bucket, prefix, delimiter, token string, maxKeys int) (Page, error) {
	if maxKeys <= 0 || maxKeys > 1000 {
		maxKeys = 1000
	}
	in := &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix, MaxKeys: aws.Int32(int32(maxKeys))}
	if delimiter != "" {
		in.Delimiter = &delimiter
	}
	if token != "" {
		in.ContinuationToken = &token
	}
	out, err := s.listPage(ctx, bucket, in)
	if err != nil {
		return Page{}, err
	}
	var p Page
	for _, o := range out.Contents {
		p.Objects = append(p.Objects, ObjectInfo{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size),
			Modified: aws.ToTime(o.LastModified), ETag: aws.ToString(o.ETag)})
	}
	for _, d := range out.CommonPrefixes {
		p.Objects = append(p.Objects, ObjectInfo{Key: aws.ToString(d.Prefix), Dir: true})
	}
	if aws.ToBool(out.IsTruncated) {
		p.Next = aws.ToString(out.NextContinuationToken)
	}
	return p, nil
}
