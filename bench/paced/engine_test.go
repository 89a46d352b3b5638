//go:build linux

package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// A real run over loopback: every request is answered once, and a stall
// of the server is charged to the requests that were due during it, not
// only to the one that met it.
func TestRunChargesStallsFromIntendedTime(t *testing.T) {
	var once sync.Once
	var mu sync.Mutex
	seen := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen++
		n := seen
		mu.Unlock()
		if n == 600 { // about 300 ms in, past the warm-up
			once.Do(func() { time.Sleep(100 * time.Millisecond) })
		}
		w.Header().Set("Location", "/x")
		w.WriteHeader(http.StatusFound)
	}))
	defer srv.Close()
	cfg, err := parseFlags([]string{"-addr", strings.TrimPrefix(srv.URL, "http://"), "-rate", "2000", "-conns", "2", "-d", "800ms", "-warmup", "100ms"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := 1400 // due after the 100 ms warm-up at 2000/s over 800 ms
	if res.due != want || len(res.latencies) != want || res.statuses[302] != want || res.unanswered != 0 {
		t.Fatalf("due %d, answered %d, statuses %v, unanswered %d; want %d each", res.due, len(res.latencies), res.statuses, res.unanswered, want)
	}
	mu.Lock()
	if seen != 1600 {
		t.Errorf("server saw %d requests, want 1600", seen)
	}
	mu.Unlock()
	// The stalled connection's queue waits 100 ms; the requests due on it
	// meanwhile (one every ms) carry the wait from their due time.
	var over50 int
	for _, l := range res.latencies {
		if l > 50*time.Millisecond {
			over50++
		}
	}
	if over50 < 20 {
		t.Errorf("%d answers over 50 ms after a 100 ms stall, want the queued ones (≥ 20)", over50)
	}
	out := summary(cfg, res)
	if !strings.Contains(out, "status 302×1400") || !strings.Contains(out, "unanswered 0") {
		t.Errorf("summary:\n%s", out)
	}
}
