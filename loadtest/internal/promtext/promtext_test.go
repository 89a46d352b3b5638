package promtext

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const sampleText = `# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 42
process_resident_memory_bytes 1.2345e+07
edgegate_requests_total{route="r",status="302"} 10
edgegate_requests_total{route="img",status="200"} 5
edgegate_image_cache_hits_total{preset="thumbnail",label="a}b \"q\""} 30
edgegate_image_cache_hits_total{preset="medium"} 10
edgegate_image_cache_misses_total 10 1700000000000
bad_line{ 1
nan_metric NaN
`

func TestParse(t *testing.T) {
	m, err := Parse(strings.NewReader(sampleText))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want float64
		ok   bool
	}{
		{"go_goroutines", 42, true},
		{"process_resident_memory_bytes", 12345000, true},
		{"edgegate_requests_total", 15, true},
		{"edgegate_image_cache_hits_total", 40, true},
		{"edgegate_image_cache_misses_total", 10, true},
		{"edgegate_image_cache_bytes", 0, false},
		{"nan_metric", 0, false},
	}
	for _, tt := range tests {
		got, ok := m[tt.name]
		if ok != tt.ok || got != tt.want {
			t.Errorf("%s = %v (present %v), want %v (present %v)", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestWatcherHitRatioAndAbsentSeries(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := hits.Add(30)
		// 30 hits and 10 misses per scrape: ratio 0.75 per interval.
		fmt.Fprintf(w, "go_goroutines 7\nedgegate_image_cache_hits_total %d\nedgegate_image_cache_misses_total %d\n", h, h/3)
	}))
	defer srv.Close()
	w, err := NewWatcher(srv.Client(), srv.URL+"/metrics", 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// Stop once the first sample and two ticks' samples are in, not after a
	// fixed time: on a busy machine a scrape can take longer than an interval.
	stop := runWatcher(t, w)
	for deadline := time.Now().Add(10 * time.Second); len(w.Samples()) < 3; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d samples after 10s at 100ms", len(w.Samples()))
		}
	}
	stop()
	s := w.Samples()
	if len(s) < 4 {
		t.Fatalf("%d samples, want the 3 before the end and a final one", len(s))
	}
	for i, x := range s {
		if x.Error != "" || x.Goroutines == nil || *x.Goroutines != 7 {
			t.Fatalf("sample %d: %+v", i, x)
		}
		if x.RSSBytes != nil || x.CacheBytes != nil {
			t.Fatalf("absent series reported: %+v", x)
		}
		if x.HitRatio == nil || *x.HitRatio != 0.75 {
			t.Fatalf("sample %d hit ratio %v, want 0.75", i, x.HitRatio)
		}
		if i > 0 && x.T < s[i-1].T {
			t.Fatalf("time goes backwards")
		}
	}
	if _, err := NewWatcher(srv.Client(), srv.URL, time.Millisecond); err == nil {
		t.Error("1ms interval accepted")
	}
}

// A scrape under way when the run ends is cut short by the end, not by the
// target: it is dropped, not reported as a failed sample, and the final
// sample is still taken.
func TestWatcherDropsScrapeCutShortByTheEnd(t *testing.T) {
	var n atomic.Int64
	stuck := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 2 { // the first tick's scrape hangs until the run ends
			close(stuck)
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		}
		fmt.Fprint(w, "go_goroutines 7\n")
	}))
	defer srv.Close()
	w, err := NewWatcher(srv.Client(), srv.URL+"/metrics", 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	stop := runWatcher(t, w)
	select {
	case <-stuck:
	case <-time.After(10 * time.Second):
		t.Fatal("no tick scraped within 10s")
	}
	stop()
	s := w.Samples()
	if len(s) != 2 {
		t.Fatalf("%d samples, want the first and the final one: %+v", len(s), s)
	}
	for i, x := range s {
		if x.Error != "" || x.Goroutines == nil || *x.Goroutines != 7 {
			t.Errorf("sample %d: %+v", i, x)
		}
	}
}

// runWatcher runs w on its own goroutine; the returned stop ends the run
// and returns once Run has.
func runWatcher(t *testing.T, w *Watcher) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ran := make(chan struct{})
	go func() { w.Run(ctx); close(ran) }()
	return func() {
		t.Helper()
		cancel()
		select {
		case <-ran:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
	}
}
