package store

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
)

func condStore(t *testing.T) *Store {
	t.Helper()
	endpoint := testenv.S3(t)
	s, err := New(context.Background(), Config{Endpoint: endpoint, Region: demo.Region, PathStyle: true,
		AccessKey: demo.AccessKey, SecretKey: demo.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Conditional PUTs against the real S3 server: If-None-Match: * lets
// exactly one of many racing writers create a key, If-Match replaces only
// the version it names.
func TestPutIf(t *testing.T) {
	s := condStore(t)
	ctx := context.Background()
	key := fmt.Sprintf("test/cond/%s/lock", t.Name())
	t.Cleanup(func() { s.Delete(context.Background(), demo.Bucket, key) })

	var won atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			_, err := s.PutIf(ctx, demo.Bucket, key, []byte(fmt.Sprint(i)), Cond{IfAbsent: true})
			switch {
			case err == nil:
				won.Add(1)
			case !errors.Is(err, ErrPrecondition):
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("racing PutIf: %v", err)
	}
	if won.Load() != 1 {
		t.Fatalf("%d racing IfAbsent writers won, want exactly 1", won.Load())
	}
	info, err := s.Stat(ctx, demo.Bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutIf(ctx, demo.Bucket, key, []byte("x"), Cond{IfMatch: `"not-the-etag"`}); !errors.Is(err, ErrPrecondition) {
		t.Fatalf("PutIf with a stale ETag: %v, want ErrPrecondition", err)
	}
	etag, err := s.PutIf(ctx, demo.Bucket, key, []byte("mine"), Cond{IfMatch: info.ETag})
	if err != nil {
		t.Fatalf("PutIf with the current ETag: %v", err)
	}
	if etag == "" || etag == info.ETag {
		t.Fatalf("new ETag %q after replacing %q", etag, info.ETag)
	}
	if _, err := s.PutIf(ctx, demo.Bucket, key, []byte("again"), Cond{IfMatch: info.ETag}); !errors.Is(err, ErrPrecondition) {
		t.Fatalf("PutIf with the replaced ETag: %v, want ErrPrecondition", err)
	}
	if err := s.Delete(ctx, demo.Bucket, key); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, demo.Bucket, key); err != nil {
		t.Fatalf("Delete of a missing object: %v", err)
	}
	if _, err := s.Stat(ctx, demo.Bucket, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Stat after Delete: %v, want ErrNotFound", err)
	}
	if _, err := s.PutIf(ctx, demo.Bucket, key, []byte("x"), Cond{IfMatch: etag}); !errors.Is(err, ErrPrecondition) {
		t.Fatalf("PutIf IfMatch on a missing object: %v, want ErrPrecondition", err)
	}
}

func TestList(t *testing.T) {
	s := condStore(t)
	ctx := context.Background()
	base := fmt.Sprintf("test/list/%s/", t.Name())
	keys := []string{base + "a", base + "d/b", base + "d/e/c"}
	for _, k := range keys {
		if err := s.Put(ctx, demo.Bucket, k, []byte("x"), "text/plain", nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Delete(context.Background(), demo.Bucket, k) })
	}
	names := func(infos []ObjectInfo) []string {
		var out []string
		for _, i := range infos {
			out = append(out, i.Key)
		}
		slices.Sort(out)
		return out
	}
	all, err := s.List(ctx, demo.Bucket, base, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(all); !slices.Equal(got, keys) {
		t.Errorf("recursive list = %q, want %q", got, keys)
	}
	top, err := s.List(ctx, demo.Bucket, base, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(top), []string{base + "a", base + "d/"}; !slices.Equal(got, want) {
		t.Errorf("list = %q, want %q", got, want)
	}
	one, err := s.List(ctx, demo.Bucket, base, true, 1)
	if err != nil || len(one) != 1 {
		t.Errorf("list with limit 1 = %v, %v", one, err)
	}
	none, err := s.List(ctx, demo.Bucket, base+"nothing/", true, 0)
	if err != nil || len(none) != 0 {
		t.Errorf("list of an empty prefix = %v, %v", none, err)
	}
}

// PutIfMeta against the real S3 server: a conditional create carries the
// Content-Type and metadata a plain Put does, and the server honours
// If-None-Match: * (measured here, not assumed: versitygw answers a second
// create of the key 412 Precondition Failed, and the first object stays).
func TestPutIfMeta(t *testing.T) {
	s := condStore(t)
	ctx := context.Background()
	key := fmt.Sprintf("test/cond/%s/variant.webp", t.Name())
	t.Cleanup(func() { s.Delete(context.Background(), demo.Bucket, key) })
	s.Delete(ctx, demo.Bucket, key)

	meta := map[string]string{"source-etag": `"v1"`}
	etag, err := s.PutIfMeta(ctx, demo.Bucket, key, []byte("first"), "image/webp", meta, Cond{IfAbsent: true})
	if err != nil {
		t.Fatalf("conditional create of a new key: %v", err)
	}
	first, err := s.Head(ctx, demo.Bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	if first.ETag != etag || first.ContentType != "image/webp" || first.Metadata["source-etag"] != `"v1"` {
		t.Fatalf("stored object: ETag %s (PUT said %s), Content-Type %q, metadata %v", first.ETag, etag, first.ContentType, first.Metadata)
	}

	// The server's own answer to a second create, through the SDK alone.
	_, err = demo.Client(testenv.S3(t)).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(demo.Bucket), Key: &key,
		Body: strings.NewReader("second"), IfNoneMatch: aws.String("*")})
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusPreconditionFailed {
		t.Fatalf("second PutObject with If-None-Match: * got %v; want 412 Precondition Failed (does the server honour conditional writes?)", err)
	}
	if _, err := s.PutIfMeta(ctx, demo.Bucket, key, []byte("third"), "image/webp",
		map[string]string{"source-etag": `"v2"`}, Cond{IfAbsent: true}); !errors.Is(err, ErrPrecondition) {
		t.Fatalf("PutIfMeta IfAbsent on an existing key: %v, want ErrPrecondition", err)
	}
	data, m, err := s.Get(ctx, demo.Bucket, key, 0)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "first" || m.ETag != first.ETag || m.Metadata["source-etag"] != `"v1"` {
		t.Fatalf("after two refused creates: body %q ETag %s metadata %v; want the first object (%s)", data, m.ETag, m.Metadata, first.ETag)
	}

	// Replacing the version one has seen (a stale variant) with If-Match.
	if _, err := s.PutIfMeta(ctx, demo.Bucket, key, []byte("replaced"), "image/webp",
		map[string]string{"source-etag": `"v2"`}, Cond{IfMatch: first.ETag}); err != nil {
		t.Fatalf("PutIfMeta IfMatch the current ETag: %v", err)
	}
	data, m, err = s.Get(ctx, demo.Bucket, key, 0)
	if err != nil || string(data) != "replaced" || m.Metadata["source-etag"] != `"v2"` || m.ContentType != "image/webp" {
		t.Fatalf("after the replace: %q %v %q %v", data, m.Metadata, m.ContentType, err)
	}
}
