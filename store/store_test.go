package store

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeS3 answers HEAD for any object, holding each request until gate is
// closed, and records how many it held at once.
type fakeS3 struct {
	gate              chan struct{}
	arrived           chan struct{}
	inFlight, maxSeen atomic.Int64
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxSeen.Load()
		if n <= m || f.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	f.arrived <- struct{}{}
	<-f.gate
	w.Header().Set("ETag", `"e"`)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

func TestStoreBoundsConcurrentRequests(t *testing.T) {
	const limit, callers = 3, 12
	f := &fakeS3{gate: make(chan struct{}), arrived: make(chan struct{}, callers)}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s, err := New(context.Background(), Config{Endpoint: srv.URL, Region: "us-east-1", PathStyle: true,
		AccessKey: "k", SecretKey: "s", MaxConcurrent: limit, QueueWait: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		err  error
		took time.Duration
	}
	results := make(chan result, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			start := time.Now()
			_, err := s.Head(context.Background(), "b", "k")
			results <- result{err, time.Since(start)}
		})
	}
	for range limit { // the first ones reach S3 and are held there
		<-f.arrived
	}
	// The others are refused after the queue wait, while S3 still holds
	// the first ones: a full store sheds at once, it does not pile up.
	for range callers - limit {
		select {
		case r := <-results:
			if !errors.Is(r.err, ErrBusy) {
				t.Fatalf("a request over the limit: %v, want ErrBusy", r.err)
			}
			if r.took > 2*time.Second {
				t.Errorf("refused after %v, want about the queue wait (20ms)", r.took)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("requests over the limit were not refused")
		}
	}
	if got := s.Shed(); got != callers-limit {
		t.Errorf("Shed() = %d, want %d", got, callers-limit)
	}
	close(f.gate)
	wg.Wait()
	close(results)
	for r := range results {
		if r.err != nil {
			t.Errorf("a request within the limit: %v", r.err)
		}
	}
	if m := f.maxSeen.Load(); m > limit {
		t.Errorf("S3 saw %d requests at once, limit %d", m, limit)
	}
}

func TestStoreQueuedRequestGetsAFreedSlot(t *testing.T) {
	f := &fakeS3{gate: make(chan struct{}), arrived: make(chan struct{}, 2)}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s, err := New(context.Background(), Config{Endpoint: srv.URL, Region: "us-east-1", PathStyle: true,
		AccessKey: "k", SecretKey: "s", MaxConcurrent: 1, QueueWait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() { _, err := s.Head(context.Background(), "b", "one"); first <- err }()
	<-f.arrived
	second := make(chan error, 1)
	go func() { _, err := s.Head(context.Background(), "b", "two"); second <- err }()
	close(f.gate) // the first finishes; the second, queued, takes its slot
	for _, ch := range []chan error{first, second} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	if s.Shed() != 0 {
		t.Errorf("Shed() = %d, want 0", s.Shed())
	}
}

func TestConfigValidateLimits(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{}, true},
		{"set", Config{MaxConcurrent: 8, QueueWait: time.Millisecond}, true},
		{"negative max_concurrent", Config{MaxConcurrent: -1}, false},
		{"negative queue_wait", Config{QueueWait: -time.Second}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}
