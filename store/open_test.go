package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
)

// Open returns an object's size and type before its body is read; a caller
// can read the first bytes and stop, and the request slot is given back
// at Close either way (real S3 server).
func TestOpen(t *testing.T) {
	endpoint := testenv.S3(t)
	s, err := New(context.Background(), Config{Endpoint: endpoint, Region: demo.Region, PathStyle: true,
		AccessKey: demo.AccessKey, SecretKey: demo.SecretKey, MaxConcurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 4<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	prefix := fmt.Sprintf("test-store/%d/", time.Now().UnixNano())
	_, err = demo.Client(endpoint).PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(demo.Bucket), Key: aws.String(prefix + "big"), Body: bytes.NewReader(big),
		ContentType: aws.String("application/zip")})
	if err != nil {
		t.Fatal(err)
	}

	// The first bytes, then stop.
	obj, err := s.Open(context.Background(), demo.Bucket, prefix+"big")
	if err != nil {
		t.Fatal(err)
	}
	if obj.Size != int64(len(big)) || obj.ContentType != "application/zip" || obj.ETag == "" {
		t.Fatalf("Meta %+v, want Size %d, application/zip and an ETag", obj.Meta, len(big))
	}
	first := make([]byte, 64<<10)
	if _, err := io.ReadFull(obj, first); err != nil || !bytes.Equal(first, big[:len(first)]) {
		t.Fatalf("first bytes: err %v, equal %v", err, bytes.Equal(first, big[:len(first)]))
	}
	if s.InFlight() != 1 {
		t.Fatalf("%d requests in flight while the body is open, want 1", s.InFlight())
	}
	obj.Close()
	obj.Close()
	if s.InFlight() != 0 {
		t.Fatalf("%d requests in flight after Close, want 0", s.InFlight())
	}

	// With the one slot free again, the whole object.
	got, m, err := s.Get(context.Background(), demo.Bucket, prefix+"big", 0)
	if err != nil || !bytes.Equal(got, big) || m.Size != int64(len(big)) {
		t.Fatalf("Get: err %v, %d bytes, Size %d", err, len(got), m.Size)
	}
	if _, _, err := s.Get(context.Background(), demo.Bucket, prefix+"big", 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Get over the limit: %v, want ErrTooLarge", err)
	}
	if _, err := s.Open(context.Background(), demo.Bucket, prefix+"none"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open of a missing object: %v, want ErrNotFound", err)
	}
	if s.InFlight() != 0 {
		t.Fatalf("%d requests in flight at the end, want 0", s.InFlight())
	}
}
