package store

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// TestTraceparentReachesS3 checks, against an S3 stub, that every
// operation made in the context of a span carries that span's W3C
// traceparent (its trace id, its span id as the parent, its sampled flag),
// on each attempt, and that an operation without a span sends none.
func TestTraceparentReachesS3(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	fail := 1 // the first GET fails once: the retry must carry it too
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.Header.Get("traceparent"))
		retry := r.Method == http.MethodGet && fail > 0
		fail -= map[bool]int{true: 1}[retry]
		auth := r.Header.Get("Authorization")
		mu.Unlock()
		if strings.Contains(auth, "traceparent") {
			http.Error(w, "traceparent is signed", http.StatusBadRequest)
			return
		}
		if retry {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("ETag", `"e"`)
		if r.Method == http.MethodGet {
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
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	if _, err := s.Head(ctx, "b", "k"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx, "b", "k", 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "b", "k2", []byte("x"), "text/plain", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Head(context.Background(), "b", "k"); err != nil {
		t.Fatal(err)
	}
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	want := []string{"HEAD " + tp, "GET " + tp, "GET " + tp, "PUT " + tp, "HEAD "}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Fatalf("S3 saw\n%s\nwant\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
}
