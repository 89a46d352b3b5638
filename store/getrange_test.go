package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
)

// GetRange reads only the first bytes of an object and reports the whole
// object's size (real S3 server).
func TestGetRange(t *testing.T) {
	endpoint := testenv.S3(t)
	s, err := New(context.Background(), Config{Endpoint: endpoint, Region: demo.Region, PathStyle: true,
		AccessKey: demo.AccessKey, SecretKey: demo.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 100<<10)
	for i := range big {
		big[i] = byte(i * 7)
	}
	prefix := fmt.Sprintf("test-store/%d/", time.Now().UnixNano())
	for name, body := range map[string][]byte{"big": big, "small": []byte("0123456789")} {
		_, err := demo.Client(endpoint).PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String(demo.Bucket), Key: aws.String(prefix + name), Body: bytes.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, key string
		n         int64
		want      []byte
		size      int64
		err       error
	}{
		{"first bytes of a larger object", prefix + "big", 64 << 10, big[:64<<10], int64(len(big)), nil},
		{"an object shorter than the range", prefix + "small", 64 << 10, []byte("0123456789"), 10, nil},
		{"missing", prefix + "none", 64 << 10, nil, 0, ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, m, err := s.GetRange(context.Background(), demo.Bucket, tc.key, tc.n)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) || m.Size != tc.size || m.ETag == "" {
				t.Fatalf("%d bytes (equal %v), Size %d, ETag %q; want %d bytes, Size %d",
					len(got), bytes.Equal(got, tc.want), m.Size, m.ETag, len(tc.want), tc.size)
			}
		})
	}
	if _, _, err := s.GetRange(context.Background(), demo.Bucket, prefix+"big", 0); err == nil {
		t.Error("a range of 0 bytes: no error")
	}
}
