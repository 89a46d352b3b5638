package scrape

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// gatewayText is what the gateway's /metrics looks like, trimmed.
const gatewayText = `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 42
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.2345e+07
# HELP edgegate_image_cache_bytes Bytes of rendered variants held in the in-process cache.
# TYPE edgegate_image_cache_bytes gauge
edgegate_image_cache_bytes 65536
# HELP edgegate_image_requests_total Image answers by where the variant came from.
# TYPE edgegate_image_requests_total counter
edgegate_image_requests_total{result="hit"} 30
edgegate_image_requests_total{result="miss"} 6
edgegate_image_requests_total{result="stored"} 4
# HELP edgegate_request_duration_seconds Time to answer a public request.
# TYPE edgegate_request_duration_seconds histogram
edgegate_request_duration_seconds_bucket{code="200",route="img",le="+Inf"} 40
edgegate_request_duration_seconds_sum{code="200",route="img"} 0.5
edgegate_request_duration_seconds_count{code="200",route="img"} 40
`

func f(v float64) *float64 { return &v }

func TestFetch(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		want    Sample
		wantErr string
	}{
		{name: "gateway", status: 200, body: gatewayText, want: Sample{
			RSSBytes: f(12345000), Goroutines: f(42), CacheBytes: f(65536), Hits: f(30), Misses: f(6), Stored: f(4)}},
		{name: "no image answered yet", status: 200, body: "go_goroutines 7\n", want: Sample{Goroutines: f(7)}},
		{name: "results not served yet count 0", status: 200,
			body: "# TYPE edgegate_image_requests_total counter\nedgegate_image_requests_total{result=\"miss\"} 1\n",
			want: Sample{Hits: f(0), Misses: f(1), Stored: f(0)}},
		{name: "summed over label sets, timestamps ignored", status: 200,
			body: "go_goroutines{a=\"x\"} 2\ngo_goroutines{a=\"y }\\\"q\\\"\"} 3 1700000000000\n",
			want: Sample{Goroutines: f(5)}},
		{name: "NaN is absent", status: 200, body: "go_goroutines NaN\n", want: Sample{}},
		{name: "malformed", status: 200, body: "go_goroutines{ 1\n", wantErr: "scrape: "},
		{name: "not 200", status: 503, body: "go_goroutines 1\n", wantErr: "status 503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if a := r.Header.Get("Accept"); !strings.HasPrefix(a, "text/plain") {
					t.Errorf("Accept %q, want the text format", a)
				}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			got, err := Fetch(context.Background(), srv.Client(), srv.URL+"/metrics")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %s, want %s", show(got), show(tt.want))
			}
		})
	}
}

// show prints a Sample's values rather than its pointers.
func show(s Sample) string {
	v := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	return fmt.Sprintf("{rss %s goroutines %s cache %s hits %s misses %s stored %s ratio %s}",
		v(s.RSSBytes), v(s.Goroutines), v(s.CacheBytes), v(s.Hits), v(s.Misses), v(s.Stored), v(s.HitRatio))
}

func TestHitRatio(t *testing.T) {
	counts := func(h, m, s float64) Sample { return Sample{Hits: &h, Misses: &m, Stored: &s} }
	tests := []struct {
		name string
		s    Sample
		prev *Sample
		want *float64
	}{
		{"no image counter", Sample{}, nil, nil},
		{"since the start", counts(30, 6, 4), nil, f(0.75)},
		{"stored counts as a miss", counts(1, 0, 3), nil, f(0.25)},
		{"since the previous sample", counts(40, 10, 10), &Sample{Hits: f(30), Misses: f(6), Stored: f(4)}, f(0.5)},
		{"no answers in between", counts(30, 6, 4), &Sample{Hits: f(30), Misses: f(6), Stored: f(4)}, nil},
		{"no answers yet", counts(0, 0, 0), nil, nil},
		{"a counter went down: restarted", counts(1, 1, 0), &Sample{Hits: f(30), Misses: f(6), Stored: f(4)}, f(0.5)},
	}
	for _, tt := range tests {
		got := hitRatio(tt.s, tt.prev)
		if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
			t.Errorf("%s: hit ratio %s, want %s", tt.name, show(Sample{HitRatio: got}), show(Sample{HitRatio: tt.want}))
		}
	}
}

func TestWatcherHitRatioAndAbsentSeries(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := hits.Add(30)
		// 30 hits, 6 misses and 4 stored per scrape: ratio 0.75 per interval.
		fmt.Fprintf(w, "go_goroutines 7\nedgegate_image_requests_total{result=\"hit\"} %d\n"+
			"edgegate_image_requests_total{result=\"miss\"} %d\nedgegate_image_requests_total{result=\"stored\"} %d\n", h, h/5, h*2/15)
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
