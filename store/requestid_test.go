package store

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestRequestIDReachesS3 checks, against an S3 stub, that the request id
// in a call's context is sent as X-Request-Id on every operation and that
// the calls' time is added up, and that a call without one sends none.
func TestRequestIDReachesS3(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.Header.Get(HeaderRequestID))
		mu.Unlock()
		time.Sleep(2 * time.Millisecond) // S3 time the caller must see
		w.Header().Set("ETag", `"e"`)
		if r.Method == http.MethodGet {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("hello"))
			return
		}
		w.Header().Set("Content-Length", "0")
	}))
	defer srv.Close()
	s, err := New(context.Background(), Config{Endpoint: srv.URL, Region: "us-east-1", PathStyle: true, AccessKey: "k", SecretKey: "s"})
	if err != nil {
		t.Fatal(err)
	}
	var rc RequestContext
	rc.Context = context.Background()
	rc.Info.Reset("req-123")
	if _, err := s.Head(&rc, "b", "k"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(&rc, "b", "k", 1<<20); err != nil {
		t.Fatal(err)
	}
	if got := rc.Info.S3Time(); got < 4*time.Millisecond {
		t.Errorf("S3Time = %v after two calls of at least 2ms", got)
	}
	ri := &RequestInfo{ID: "req-456"}
	if err := s.Put(WithRequest(context.Background(), ri), "b", "k2", []byte("x"), "text/plain", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Head(context.Background(), "b", "k"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"HEAD req-123", "GET req-123", "PUT req-456", "HEAD "}
	if len(seen) != len(want) {
		t.Fatalf("S3 saw %q, want %q", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Errorf("request %d: %q, want %q", i, seen[i], want[i])
		}
	}
}

func TestRequestContextAllocatesNothing(t *testing.T) {
	var rc RequestContext
	rc.Context = context.Background()
	var ctx context.Context = &rc
	if a := testing.AllocsPerRun(100, func() {
		rc.Info.Reset("id")
		if requestInfoOf(ctx) != &rc.Info {
			t.Fatal("lost")
		}
	}); a != 0 {
		t.Fatalf("%v allocations", a)
	}
}

// TestSDKContextIsASnapshot: what an S3 call hands the SDK (and net/http,
// which may read it after the call returns) does not see the caller's
// RequestContext being reused for its next request, yet carries the same
// RequestInfo. Before sdkContext it was the RequestContext itself: the
// race detector saw a dial goroutine read it while the loop rewrote it.
func TestSDKContextIsASnapshot(t *testing.T) {
	type key struct{}
	rc := &RequestContext{Context: context.WithValue(context.Background(), key{}, "first")}
	rc.Info.Reset("req-1")
	ctx := sdkContext(rc)
	rc.Context = context.WithValue(context.Background(), key{}, "second") // the next request
	if got := ctx.Value(key{}); got != "first" {
		t.Errorf("the SDK's context reads %v, want the call's own value", got)
	}
	if requestInfoOf(ctx) != &rc.Info {
		t.Error("the SDK's context lost the request's RequestInfo")
	}
	plain := context.Background()
	if sdkContext(plain) != plain {
		t.Error("a plain context should pass through unchanged")
	}
}
