//go:build unix

package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
)

// faultGateway is a gateway on a private versitygw the test can stop,
// kill and restart, with a short S3 timeout and existence answers that
// are past their stale-while-revalidate window within 100 ms.
type faultGateway struct {
	*testGateway
	s3      *testenv.S3Process
	timeout time.Duration
}

func startFaultGateway(t *testing.T, mutate ...func(*Config)) *faultGateway {
	t.Helper()
	p := testenv.NewS3Process(t)
	const timeout = 500 * time.Millisecond
	g := startGateway(t, demoRules(t), append([]func(*Config){withImages(), func(c *Config) {
		c.S3.Endpoint = p.Endpoint
		c.S3.Timeout = timeout
		c.Exists.TTL = 50 * time.Millisecond
		c.Exists.NegativeTTL = 50 * time.Millisecond
		c.Images.StoreVariants = false // no write-backs hanging on a stopped S3
	}}, mutate...)...)
	return &faultGateway{testGateway: g, s3: p, timeout: timeout}
}

// put uploads an object to the private S3 server.
func (g *faultGateway) put(t *testing.T, key string, body []byte, contentType string) {
	t.Helper()
	in := putInput(demo.Bucket, key, body)
	in.ContentType = &contentType
	if _, err := demo.Client(g.s3.Endpoint).PutObject(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}

// faultAnswer is one answer under load.
type faultAnswer struct {
	url    string
	status int
	took   time.Duration
	err    error
}

// fetchStatus GETs url without following redirects.
func fetchStatus(url string) faultAnswer {
	start := time.Now()
	resp, err := noRedirect.Get(url)
	a := faultAnswer{url: url, err: err}
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		a.status = resp.StatusCode
	}
	a.took = time.Since(start)
	return a
}

// load sends requests from workers goroutines for d, each picking its
// next URL from next(worker, i), and returns every answer.
func load(workers int, d time.Duration, next func(w, i int) string) []faultAnswer {
	var mu sync.Mutex
	var out []faultAnswer
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for w := range workers {
		wg.Go(func() {
			for i := 0; time.Now().Before(end); i++ {
				a := fetchStatus(next(w, i))
				mu.Lock()
				out = append(out, a)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

// S3 stopped (SIGSTOP) or killed under load: requests for keys the
// gateway has seen keep being answered from the existence cache
// (exists.stale_if_error) and the variant cache, well past their ttl;
// uncached keys fail within the S3 timeout (504 when S3 hangs, 502 when it
// refuses), never 500; and within a second of S3 returning every request
// succeeds again.
func TestS3FaultsServeCachedAnswersAndRecover(t *testing.T) {
	g := startFaultGateway(t)
	const hot = 8
	for i := range hot {
		g.put(t, fmt.Sprintf("global/faults/hot-%d.bin", i), []byte("hot"), "application/octet-stream")
	}
	jpg, err := demo.SampleJPEG(640, 480)
	if err != nil {
		t.Fatal(err)
	}
	g.put(t, "global/faults/photo.jpg", jpg, "image/jpeg")
	hotURL := func(i int) string { return fmt.Sprintf("%s/r/faults/hot-%d.bin?region=uk-london", g.base, i%hot) }
	imgURL := g.base + "/img/thumbnail/faults/photo.jpg"
	for i := range hot { // seen: uk/london/ and uk/ not found, global/ found
		if a := fetchStatus(hotURL(i)); a.status != http.StatusFound {
			t.Fatalf("warm-up %s: %d %v", a.url, a.status, a.err)
		}
	}
	if a := fetchStatus(imgURL); a.status != http.StatusOK {
		t.Fatalf("warm-up %s: %d %v", a.url, a.status, a.err)
	}
	stale := func() float64 { return testutil.ToFloat64(g.srv.metrics.existsStale) }

	for round, tc := range []struct {
		name     string
		fault    func()
		heal     func()
		uncached int           // status of a request that must ask S3
		within   time.Duration // how long such a request may take
	}{
		{"stopped", g.s3.Stop, g.s3.Cont, http.StatusGatewayTimeout, g.timeout + 1500*time.Millisecond},
		{"killed", g.s3.Kill, g.s3.Restart, http.StatusBadGateway, 1500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Fresh objects that exist but were never asked for: the
			// recovery check needs answers S3 must give.
			for i := range 50 {
				g.put(t, fmt.Sprintf("global/faults/%s-%d.bin", tc.name, i), []byte("x"), "application/octet-stream")
			}
			// Every cached answer is past ttl and its stale window
			// (2×50 ms) before S3 goes away.
			time.Sleep(150 * time.Millisecond)
			staleBefore := stale()
			tc.fault()
			healed := false
			defer func() {
				if !healed {
					tc.heal()
				}
			}()

			answers := load(8, 2*time.Second, func(w, i int) string {
				switch {
				case w < 5:
					return hotURL(w + i)
				case w < 6:
					return imgURL
				default:
					return fmt.Sprintf("%s/r/faults/never-%d-%d-%d.bin?region=uk-london", g.base, round, w, i)
				}
			})
			var cachedOK, uncached int
			var slowest time.Duration
			for _, a := range answers {
				switch {
				case a.err != nil:
					t.Fatalf("%s: %v", a.url, a.err)
				case a.status >= 500 && a.status != tc.uncached:
					t.Fatalf("%s: %d, want %d or an answer from cache", a.url, a.status, tc.uncached)
				case strings.Contains(a.url, "/never-"):
					if a.status != tc.uncached {
						t.Fatalf("uncached %s: %d, want %d", a.url, a.status, tc.uncached)
					}
					uncached++
					slowest = max(slowest, a.took)
				case strings.Contains(a.url, "/img/"):
					if a.status != http.StatusOK {
						t.Fatalf("cached variant %s: %d, want 200 from the variant cache", a.url, a.status)
					}
					cachedOK++
				default:
					if a.status != http.StatusFound {
						t.Fatalf("seen key %s: %d, want 302 from the existence cache", a.url, a.status)
					}
					cachedOK++
				}
			}
			t.Logf("S3 %s: %d answers from cache, %d uncached answered %d, slowest %v", tc.name, cachedOK, uncached, tc.uncached, slowest)
			if cachedOK == 0 || uncached == 0 {
				t.Fatalf("load sent %d cached and %d uncached requests; want both", cachedOK, uncached)
			}
			if slowest > tc.within {
				t.Errorf("an uncached request took %v with S3 %s, want ≤ %v (s3.timeout %v)", slowest, tc.name, tc.within, g.timeout)
			}
			if stale() == staleBefore {
				t.Error("edgegate_exists_stale_served_total did not move")
			}

			// Recovery: from S3's return, every new key is answered.
			tc.heal()
			healed = true
			back := time.Now()
			var recovered time.Duration
			for i := 0; ; i++ {
				a := fetchStatus(fmt.Sprintf("%s/r/faults/%s-%d.bin?region=uk-london", g.base, tc.name, i%50))
				if a.status == http.StatusFound {
					recovered = time.Since(back)
					break
				}
				if time.Since(back) > 3*time.Second {
					t.Fatalf("not recovered %v after S3 came back: %s: %d %v", time.Since(back), a.url, a.status, a.err)
				}
			}
			t.Logf("S3 %s: first success %v after it came back", tc.name, recovered)
			if recovered > 3*time.Second {
				t.Fatalf("recovery took %v, want ≤ 1 s (3 s with CI slack)", recovered)
			}
			for _, a := range load(8, 300*time.Millisecond, func(w, i int) string {
				if w < 4 {
					return hotURL(w + i)
				}
				return fmt.Sprintf("%s/r/faults/%s-%d.bin?region=uk-london", g.base, tc.name, (w*7+i)%50)
			}) {
				if a.err != nil || a.status != http.StatusFound {
					t.Fatalf("after recovery %s: %d %v, want 302", a.url, a.status, a.err)
				}
			}
		})
	}
}

// readyzAnswer is one /readyz answer.
type readyzAnswer struct {
	status int
	took   time.Duration
	body   readyState
	text   string
}

func probeReadyz(t *testing.T, g *faultGateway) readyzAnswer {
	t.Helper()
	start := time.Now()
	resp, body := get(t, g.admin+"/readyz")
	a := readyzAnswer{status: resp.StatusCode, took: time.Since(start), text: string(body)}
	if err := json.Unmarshal(body, &a.body); err != nil {
		t.Fatalf("readyz body %q: %v", body, err)
	}
	return a
}

// /readyz answers from the background checks, never from S3 on the
// probe's time: with S3 stopped a probe answers at once (a probe that
// asked S3 would wait for s3.timeout, 5 s here); one failed check does
// not make it 503, readiness.failures in a row do, and one success makes
// it 200 again.
func TestReadyzDoesNotFlap(t *testing.T) {
	g := startFaultGateway(t, func(c *Config) {
		c.S3.Timeout = 5 * time.Second
		c.Readiness = ReadinessConfig{Interval: 200 * time.Millisecond, Timeout: 150 * time.Millisecond, Failures: 3}
	})
	checks := func(result string) float64 {
		return testutil.ToFloat64(g.srv.metrics.readinessChecks.WithLabelValues(result))
	}
	// Every probe with S3 stopped must answer well within s3.timeout,
	// and their median in < 100 ms (a bound per probe would fail on a
	// busy CI machine's scheduling hiccups).
	fast := time.Second
	var stoppedProbes []time.Duration
	defer func() {
		slices.Sort(stoppedProbes)
		if len(stoppedProbes) == 0 || t.Failed() {
			return
		}
		med := stoppedProbes[len(stoppedProbes)/2]
		t.Logf("%d probes with S3 stopped: median %v, slowest %v", len(stoppedProbes), med, stoppedProbes[len(stoppedProbes)-1])
		if med >= 100*time.Millisecond {
			t.Errorf("median probe with S3 stopped took %v, want < 100ms", med)
		}
	}()
	waitFor(t, 5*time.Second, "/readyz 200", func() bool { return probeReadyz(t, g).status == http.StatusOK })

	// One stalled check: S3 stopped until a check has failed, then back.
	failed := checks("failure")
	g.s3.Stop()
	for checks("failure") == failed {
		a := probeReadyz(t, g)
		stoppedProbes = append(stoppedProbes, a.took)
		if a.status != http.StatusOK || a.took > fast {
			g.s3.Cont()
			t.Fatalf("readyz with S3 stopped, no check failed yet: %d in %v, want 200 in < %v: %s", a.status, a.took, fast, a.text)
		}
	}
	g.s3.Cont()
	if a := probeReadyz(t, g); a.status != http.StatusOK || a.body.ConsecutiveFailures < 1 || a.body.LastError == "" {
		t.Fatalf("readyz after one failed check: %d %s; want 200 naming the failure", a.status, a.text)
	}
	succeeded := checks("success")
	waitFor(t, 5*time.Second, "a successful check after S3 came back", func() bool { return checks("success") > succeeded })
	if a := probeReadyz(t, g); a.status != http.StatusOK || a.body.ConsecutiveFailures != 0 {
		t.Fatalf("readyz after S3 came back: %d %s", a.status, a.text)
	}

	// S3 stopped for good: 503 after readiness.failures checks in a row,
	// every probe answered at once meanwhile.
	failed = checks("failure")
	g.s3.Stop()
	stopped := time.Now()
	var a readyzAnswer
	for a = probeReadyz(t, g); a.status == http.StatusOK; a = probeReadyz(t, g) {
		stoppedProbes = append(stoppedProbes, a.took)
		if a.took > fast {
			g.s3.Cont()
			t.Fatalf("a probe took %v with S3 stopped, want < %v", a.took, fast)
		}
		if time.Since(stopped) > 10*time.Second {
			g.s3.Cont()
			t.Fatal("readyz still 200 10 s after S3 stopped")
		}
	}
	if n := checks("failure") - failed; a.status != http.StatusServiceUnavailable || n < 3 || a.body.ConsecutiveFailures < 3 ||
		!strings.Contains(a.text, "S3 unreachable") {
		g.s3.Cont()
		t.Fatalf("readyz after %v failed checks: %d %s; want 503 after 3", n, a.status, a.text)
	}
	if a.took > fast {
		g.s3.Cont()
		t.Fatalf("the 503 took %v, want < %v", a.took, fast)
	}
	if v := testutil.ToFloat64(g.srv.metrics.ready); v != 0 {
		t.Errorf("edgegate_ready %v while not ready", v)
	}
	t.Logf("not ready %v after S3 stopped (interval 200ms, timeout 150ms, failures 3)", time.Since(stopped))

	// One success: ready again.
	g.s3.Cont()
	succeeded = checks("success")
	waitFor(t, 5*time.Second, "a successful check after S3 came back", func() bool { return checks("success") > succeeded })
	if a := probeReadyz(t, g); a.status != http.StatusOK || a.body.ConsecutiveFailures != 0 || a.body.CheckedAt.IsZero() {
		t.Fatalf("readyz after one successful check: %d %s", a.status, a.text)
	}
	if v := testutil.ToFloat64(g.srv.metrics.ready); v != 1 {
		t.Errorf("edgegate_ready %v while ready", v)
	}
}
