package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

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
