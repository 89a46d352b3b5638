package store

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
)

// A key over S3's 1024-byte limit names no object: HEAD says missing and
// GET and Open ErrNotFound, without asking S3 (which refuses the request:
// an error, a 502 to the gateway's client). A gateway key of up to 1024
// bytes under a prefix makes one (the hostile corpus's key-1024).
func TestKeyOverS3LimitIsMissing(t *testing.T) {
	s, err := New(context.Background(), Config{Endpoint: testenv.S3(t), Region: demo.Region, PathStyle: true,
		AccessKey: demo.AccessKey, SecretKey: demo.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, key := range []string{"global/" + strings.Repeat("k", 1024), strings.Repeat("\u00e9", 513)} {
		if m, err := s.Head(ctx, demo.Bucket, key); err != nil || m.Exists {
			t.Errorf("HEAD of a %d-byte key: %+v, %v; want missing, no error", len(key), m, err)
		}
		if _, _, err := s.Get(ctx, demo.Bucket, key, 0); !errors.Is(err, ErrNotFound) {
			t.Errorf("GET of a %d-byte key: %v, want ErrNotFound", len(key), err)
		}
		if _, err := s.Open(ctx, demo.Bucket, key); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open of a %d-byte key: %v, want ErrNotFound", len(key), err)
		}
	}
	// At the limit S3 is asked: a missing object, no error (in segments of
	// at most 255 bytes: the test server keeps objects as files, whose
	// names cannot be longer).
	if m, err := s.Head(ctx, demo.Bucket, strings.Repeat("abc/", 256)); err != nil || m.Exists {
		t.Errorf("HEAD of a 1024-byte key: %+v, %v; want missing, no error", m, err)
	}
}
