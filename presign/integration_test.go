package presign_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
	"github.com/edgegate/edgegate/presign"
	"github.com/edgegate/edgegate/store"
)

// These tests run against a real S3 server (versitygw, see
// internal/testenv), which checks SigV4 signatures and expiry.

func newStore(t *testing.T, endpoint, accessKey, secretKey string) *store.Store {
	t.Helper()
	st, err := store.New(context.Background(), store.Config{
		Region: demo.Region, Endpoint: endpoint, PathStyle: true,
		AccessKey: accessKey, SecretKey: secretKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func newSigner(t *testing.T, st *store.Store, cfg presign.Config) *presign.Signer {
	t.Helper()
	s, err := presign.New(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sign(t *testing.T, s *presign.Signer, req presign.Request) presign.URL {
	t.Helper()
	u, err := s.Sign(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// get fetches url with a plain client (no credentials) and returns the
// status, body and headers.
func get(t *testing.T, url string) (int, []byte, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body, resp.Header
}

func demoObject(t *testing.T, key string) []byte {
	t.Helper()
	objs, err := demo.Objects()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.Key == key {
			return o.Body
		}
	}
	t.Fatalf("no demo object %s", key)
	return nil
}

func TestS3AcceptsSignedURLs(t *testing.T) {
	ep := testenv.S3(t)
	s := newSigner(t, newStore(t, ep, demo.AccessKey, demo.SecretKey), presign.Config{})
	for _, key := range []string{"uk/london/map-tiles.zip", "global/banner.json", "global/photos/sample.jpg"} {
		t.Run(key, func(t *testing.T) {
			u := sign(t, s, presign.Request{Bucket: demo.Bucket, Key: key, TTL: time.Minute})
			status, body, _ := get(t, u.URL)
			if status != http.StatusOK {
				t.Fatalf("GET %s: %d %s", u.URL, status, body)
			}
			if !bytes.Equal(body, demoObject(t, key)) {
				t.Errorf("GET %s: %d bytes that differ from the demo object", key, len(body))
			}
		})
	}
}

// Keys S3 escapes in particular ways: the URL must name the same object
// the SDK stored.
func TestS3AcceptsEscapedKeys(t *testing.T) {
	ep := testenv.S3(t)
	s := newSigner(t, newStore(t, ep, demo.AccessKey, demo.SecretKey), presign.Config{})
	cli := demo.Client(ep)
	for _, key := range []string{
		"presign-test/with space.txt",
		"presign-test/plus+sign.txt",
		"presign-test/tilde~user.txt",
		"presign-test/ünïcödé/€uro.txt",
		"presign-test/deep/a/b/c.txt",
		"presign-test/reserved !$&'()*,;=@:.txt",
		"presign-test/percent%20literal.txt",
	} {
		t.Run(key, func(t *testing.T) {
			body := []byte("object " + key)
			if _, err := cli.PutObject(context.Background(), &s3.PutObjectInput{
				Bucket: aws.String(demo.Bucket), Key: aws.String(key), Body: bytes.NewReader(body),
			}); err != nil {
				t.Fatalf("put %q: %v", key, err)
			}
			u := sign(t, s, presign.Request{Bucket: demo.Bucket, Key: key, TTL: time.Minute})
			status, got, _ := get(t, u.URL)
			if status != http.StatusOK || !bytes.Equal(got, body) {
				t.Fatalf("GET %s: %d %q, want 200 %q", u.URL, status, got, body)
			}
		})
	}
}

func TestS3HonoursOverrides(t *testing.T) {
	ep := testenv.S3(t)
	s := newSigner(t, newStore(t, ep, demo.AccessKey, demo.SecretKey), presign.Config{})
	u := sign(t, s, presign.Request{Bucket: demo.Bucket, Key: "global/banner.json", TTL: time.Minute,
		ContentDisposition: `attachment; filename="banner copy.json"`, ContentType: "text/plain; charset=utf-8"})
	status, body, h := get(t, u.URL)
	if status != http.StatusOK {
		t.Fatalf("GET: %d %s", status, body)
	}
	if got := h.Get("Content-Disposition"); got != `attachment; filename="banner copy.json"` {
		t.Errorf("Content-Disposition = %q", got)
	}
	if got := h.Get("Content-Type"); got != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q", got)
	}
}

func TestS3RejectsBadURLs(t *testing.T) {
	ep := testenv.S3(t)
	st := newStore(t, ep, demo.AccessKey, demo.SecretKey)
	good := sign(t, newSigner(t, st, presign.Config{}),
		presign.Request{Bucket: demo.Bucket, Key: "uk/banner.json", TTL: time.Minute}).URL
	if status, body, _ := get(t, good); status != http.StatusOK {
		t.Fatalf("the untampered URL fails: %d %s", status, body)
	}
	// Flip the signature's last hex digit.
	flipped := good[:len(good)-1] + map[bool]string{true: "0", false: "1"}[good[len(good)-1] != '0']

	// Signed two hours ago for a one-minute TTL (+ 60s window).
	expired := sign(t, newSigner(t, st, presign.Config{Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }}),
		presign.Request{Bucket: demo.Bucket, Key: "uk/banner.json", TTL: time.Minute}).URL

	// Control: signed in the past but still within its validity is fine,
	// so the 403 above is about expiry, not an old X-Amz-Date.
	old := sign(t, newSigner(t, st, presign.Config{Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }}),
		presign.Request{Bucket: demo.Bucket, Key: "uk/banner.json", TTL: 3 * time.Hour}).URL
	if status, body, _ := get(t, old); status != http.StatusOK {
		t.Fatalf("URL signed 2h ago for 3h: %d %s, want 200", status, body)
	}

	wrongSecret := sign(t, newSigner(t, newStore(t, ep, demo.AccessKey, "not-the-secret"), presign.Config{}),
		presign.Request{Bucket: demo.Bucket, Key: "uk/banner.json", TTL: time.Minute}).URL
	wrongAccessKey := sign(t, newSigner(t, newStore(t, ep, "someone-else", demo.SecretKey), presign.Config{}),
		presign.Request{Bucket: demo.Bucket, Key: "uk/banner.json", TTL: time.Minute}).URL

	tests := []struct {
		name, url string
		altStatus int // another acceptable rejection status, 0 = only 403
	}{
		{"other object, same signature", strings.Replace(good, "/uk/banner.json?", "/europe/banner.json?", 1), 0},
		{"longer expiry", strings.Replace(good, "X-Amz-Expires=120", "X-Amz-Expires=600", 1), 0},
		{"added override", strings.Replace(good, "&X-Amz-Signature=", "&response-content-type=text%2Fhtml&X-Amz-Signature=", 1), 0},
		{"flipped signature", flipped, 0},
		{"expired", expired, 0},
		{"wrong secret key", wrongSecret, 0},
		// AWS answers 403 InvalidAccessKeyId; versitygw 404 XAdminUserNotFound.
		{"unknown access key", wrongAccessKey, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.url == good {
				t.Fatal("tampering did not change the URL")
			}
			if status, body, _ := get(t, tt.url); status != http.StatusForbidden && status != tt.altStatus {
				t.Errorf("GET %s: %d %s, want 403", tt.url, status, body)
			}
		})
	}
}
