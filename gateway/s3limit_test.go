package gateway

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgegate/edgegate/internal/demo"
)

// floodAnswer is one answer to a flood request.
type floodAnswer struct {
	status     int
	retryAfter string
	body       []byte
	err        error
}

// flood sends n GETs of random missing keys from workers clients at once,
// each key walking the three-prefix chain of egypt-cairo.
func flood(g *testGateway, workers, n int) []floodAnswer {
	answers := make([]floodAnswer, workers*n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range n {
				url := fmt.Sprintf("%s/r/flood/%d-%d-%d.bin?region=egypt-cairo", g.base, w, i, time.Now().UnixNano())
				a := &answers[w*n+i]
				resp, err := noRedirect.Get(url)
				if err != nil {
					a.err = err
					continue
				}
				a.body, a.err = io.ReadAll(resp.Body)
				resp.Body.Close()
				a.status, a.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
			}
		})
	}
	wg.Wait()
	return answers
}

// checkShed checks that a flood was answered 404 or 503 (with
// Retry-After and a JSON error), never another 5xx, and returns the
// number of 503s.
func checkShed(t *testing.T, answers []floodAnswer) int {
	t.Helper()
	shed := 0
	for _, a := range answers {
		if a.err != nil {
			t.Fatalf("flood request: %v", a.err)
		}
		switch a.status {
		case http.StatusNotFound:
		case http.StatusServiceUnavailable:
			shed++
			var e errorBody
			if a.retryAfter == "" || json.Unmarshal(a.body, &e) != nil || e.Error == "" {
				t.Fatalf("503 without Retry-After (%q) or a JSON error: %s", a.retryAfter, a.body)
			}
		default:
			t.Fatalf("flood answer %d %s; want 404 or 503", a.status, a.body)
		}
	}
	return shed
}

// A flood of uncached random keys is bounded by s3.max_concurrent: past
// it requests are shed with 503 + Retry-After, never a 500 or a hang, and
// a hot key keeps being answered from the existence cache meanwhile.
func TestS3FloodIsShedAndTheHotKeyStaysCached(t *testing.T) {
	g := startGateway(t, demoRules(t), func(c *Config) {
		c.S3.MaxConcurrent = 1
		c.S3.QueueWait = time.Millisecond
	})
	hot := g.base + "/r/map-tiles.zip?region=egypt-cairo"
	if resp, body := get(t, hot); resp.StatusCode != http.StatusFound {
		t.Fatalf("hot key: %d %s", resp.StatusCode, body)
	}
	headsBefore := testutil.ToFloat64(g.srv.metrics.s3Heads)

	stop := make(chan struct{})
	hotErr := make(chan error, 1)
	go func() { // the hot key, asked all through the flood
		defer close(hotErr)
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := noRedirect.Get(hot)
			if err != nil {
				hotErr <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusFound {
				hotErr <- fmt.Errorf("hot key answered %d during the flood", resp.StatusCode)
				return
			}
		}
	}()
	answers := flood(g, 32, 10)
	close(stop)
	if err := <-hotErr; err != nil {
		t.Fatal(err)
	}
	shed := checkShed(t, answers)
	t.Logf("%d of %d flood requests shed with 503", shed, len(answers))
	if shed == 0 {
		t.Fatal("no request was shed with 503; want some past s3.max_concurrent=1")
	}
	if n := g.srv.store.Shed(); n < uint64(shed) {
		t.Errorf("store.Shed() = %d (edgegate_s3_shed_total), want ≥ %d", n, shed)
	}
	if n := testutil.ToFloat64(g.srv.metrics.s3Heads); n == headsBefore {
		t.Error("no HEAD was sent for the flood's keys")
	}
	if m, ok := g.srv.heads.cached(demo.Bucket, "egypt/cairo/map-tiles.zip"); !ok || !m.Exists {
		t.Error("the hot key left the existence cache")
	}
}
