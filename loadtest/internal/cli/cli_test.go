package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/edgegate/edgegate/loadtest/internal/report"
)

// fakeGateway answers like edgegate: /r/ with 302, /img/ with 200 and
// X-Cache (MISS the first time a variant is seen, then HIT), /metrics with
// Prometheus text, POST /-/reload with 200. It counts what it saw.
type fakeGateway struct {
	mu      sync.Mutex
	route   int
	geo     int // /r/ requests with X-Forwarded-For
	img     int
	hits    int
	reloads int
	other   int
	seen    map[string]bool
}

func (f *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/r/"):
		f.route++
		if r.Header.Get("X-Forwarded-For") != "" {
			f.geo++
		}
		w.Header().Set("Location", "http://s3.invalid/bucket/"+strings.TrimPrefix(p, "/r/"))
		w.WriteHeader(http.StatusFound)
	case strings.HasPrefix(p, "/img/"):
		f.img++
		variant := p + " " + r.Header.Get("Accept")
		if f.seen[variant] {
			f.hits++
			w.Header().Set("X-Cache", "HIT")
		} else {
			f.seen[variant] = true
			w.Header().Set("X-Cache", "MISS")
		}
		_, _ = w.Write([]byte("image bytes"))
	case p == "/metrics":
		fmt.Fprintf(w, "# TYPE go_goroutines gauge\ngo_goroutines 12\nprocess_resident_memory_bytes 3.4e+07\n"+
			"edgegate_image_cache_bytes %d\nedgegate_image_requests_total{result=\"hit\"} %d\nedgegate_image_requests_total{result=\"miss\"} %d\n",
			len(f.seen)*1000, f.hits, f.img-f.hits)
	case p == "/-/reload" && r.Method == http.MethodPost:
		f.reloads++
	default:
		f.other++
		http.NotFound(w, r)
	}
}

// value is *p, or nil: for printing a metric sample's fields.
func value(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func writeTestMMDB(t *testing.T) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "test-city-ipv4", IPVersion: 4, RecordSize: 28})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, loc := range map[string][2]string{"41.32.0.0/12": {"EG", "Cairo"}, "81.2.0.0/14": {"GB", "London"}} {
		_, n, _ := net.ParseCIDR(cidr)
		if err := tree.Insert(n, mmdbtype.Map{"country_code": mmdbtype.String(loc[0]), "city": mmdbtype.String(loc[1])}); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "geo.mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func builtIn(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("../../scenarios.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestEndToEnd(t *testing.T) {
	fake := &fakeGateway{seen: map[string]bool{}}
	srv := httptest.NewServer(fake) // listens on 127.0.0.1
	defer srv.Close()
	dir := t.TempDir()
	html, js := filepath.Join(dir, "report.html"), filepath.Join(dir, "result.json")
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{
		"--target", srv.URL, "--scenarios", "testdata/e2e.yaml", "--scenario", "e2e",
		"--rate", "50", "--duration", "2s", "--report", html, "--json", js,
		"--watch-metrics", srv.URL, "--metrics-every", "500ms",
		"--geoip", writeTestMMDB(t), "--geoip-pool", "500",
	}, builtIn(t), &stdout, &stderr)
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}

	data, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	tot := rep.Total
	if got, want := tot.Requests, uint64(fake.route+fake.img); got != want {
		t.Errorf("report counts %d requests, target saw %d", got, want)
	}
	// 100 send times are due (50/s for 2s); on a loaded machine the open
	// loop may miss some (counted, never sent late in a burst), so the
	// accounting must add up rather than every send be on time.
	if s := rep.Schedule; s.Intended != 100 || s.Sent+s.Missed != 100 || s.Sent == 0 || tot.Requests != s.Sent {
		t.Errorf("schedule %+v with %d requests: want 100 due, sent + missed = 100, requests = sent", s, tot.Requests)
	}
	if tot.Errors != 0 || tot.Successes != tot.Requests {
		t.Errorf("errors %d (%v %v)", tot.Errors, tot.ErrorsByStatus, tot.ErrorsByCause)
	}
	if got := tot.Status["302"]; got != uint64(fake.route) {
		t.Errorf("302s in report %d, target sent %d", got, fake.route)
	}
	if got := rep.ByRequest["img"].Requests; got != uint64(fake.img) {
		t.Errorf("img requests in report %d, target saw %d", got, fake.img)
	}
	if got := rep.ByRequest["geo"].Requests; got != uint64(fake.geo) || got == 0 {
		t.Errorf("geo requests in report %d, target saw %d with X-Forwarded-For", got, fake.geo)
	}
	if got := rep.ByRequest["query"].Requests + rep.ByRequest["geo"].Requests; got != uint64(fake.route) {
		t.Errorf("route requests in report %d, target saw %d", got, fake.route)
	}
	if tot.HitRatio == nil {
		t.Fatal("no hit ratio")
	}
	if want := float64(fake.hits) / float64(fake.img); math.Abs(*tot.HitRatio-want) > 1e-9 || tot.XCache["HIT"] != uint64(fake.hits) {
		t.Errorf("hit ratio %v (X-Cache %v), target served %d hits of %d", *tot.HitRatio, tot.XCache, fake.hits, fake.img)
	}
	if loc := tot.Locations; loc["EG/Cairo"]+loc["GB/London"] != uint64(fake.geo) {
		t.Errorf("locations %v for %d GeoIP requests", loc, fake.geo)
	}
	if rep.Reloads == nil || rep.Reloads.OK < 2 || rep.Reloads.OK != uint64(fake.reloads) || rep.Reloads.Failed != 0 {
		t.Errorf("reloads %+v, target saw %d", rep.Reloads, fake.reloads)
	}
	if len(rep.Metrics) < 3 || rep.Metrics[0].Goroutines == nil || *rep.Metrics[0].Goroutines != 12 || rep.Metrics[len(rep.Metrics)-1].CacheBytes == nil {
		t.Errorf("metric samples %+v", rep.Metrics)
	} else if last := rep.Metrics[len(rep.Metrics)-1]; last.Hits == nil || *last.Hits != float64(fake.hits) ||
		last.Misses == nil || *last.Misses != float64(fake.img-fake.hits) {
		t.Errorf("last metric sample: hits %v misses %v, target served %d hits of %d", value(last.Hits), value(last.Misses), fake.hits, fake.img)
	}
	if rep.Total.Latency.P50 <= 0 || rep.Total.Latency.Max < rep.Total.Latency.P99 {
		t.Errorf("latency %+v", rep.Total.Latency)
	}
	if fake.other != 1 {
		t.Errorf("target saw %d other requests, want 1 (the reachability check)", fake.other)
	}

	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<iframe", "srcdoc=", "uPlot", "latency (ms) by percentile", "<svg", "resident memory", "image cache hit ratio", "Rules reloads"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	if n := strings.Count(stderr.String(), "] sent "); n < 1 {
		t.Errorf("no progress lines on stderr:\n%s", &stderr)
	}
	if !strings.Contains(stdout.String(), "image cache hit ratio (X-Cache)") {
		t.Errorf("summary lacks hit ratio:\n%s", &stdout)
	}
}

// The raw client through the whole command: every scheduled request is
// sent over the fixed pool, answered and counted, headers included.
func TestRawClientEndToEnd(t *testing.T) {
	fake := &fakeGateway{seen: map[string]bool{}}
	var mu sync.Mutex
	loadConns := map[string]bool{} // client addresses of the load's requests
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/r/") || strings.HasPrefix(r.URL.Path, "/img/") {
			mu.Lock()
			loadConns[r.RemoteAddr] = true
			mu.Unlock()
		}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{
		"--target", srv.URL, "--scenarios", "testdata/e2e.yaml", "--scenario", "e2e", "--client", "raw", "--conns", "3",
		"--rate", "400", "--duration", "1s", "--admin", srv.URL,
		"--geoip", writeTestMMDB(t), "--geoip-pool", "100", "--json", "-", "--quiet",
	}, builtIn(t), &stdout, &stderr)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, &stderr)
	}
	var rep report.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, &stdout)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	tot := rep.Total
	if rep.Client != "raw" || rep.Conns != 3 {
		t.Errorf("report says client %q with %d connections", rep.Client, rep.Conns)
	}
	if rep.Schedule.Intended != 400 || rep.Schedule.Sent != 400 || tot.Requests != 400 {
		t.Errorf("schedule %+v, %d requests reported; want all 400 (400/s for 1s)", rep.Schedule, tot.Requests)
	}
	if got, want := tot.Requests, uint64(fake.route+fake.img); got != want || tot.Successes != got || tot.Errors != 0 {
		t.Errorf("report: %d requests, %d ok, errors %v %v; target saw %d", got, tot.Successes, tot.ErrorsByStatus, tot.ErrorsByCause, want)
	}
	if tot.Status["302"] != uint64(fake.route) || tot.XCache["HIT"] != uint64(fake.hits) || tot.XCache["MISS"] != uint64(fake.img-fake.hits) {
		t.Errorf("statuses %v, X-Cache %v; target: %d routes, %d images, %d hits", tot.Status, tot.XCache, fake.route, fake.img, fake.hits)
	}
	if got := rep.ByRequest["geo"].Requests; got != uint64(fake.geo) || got == 0 {
		t.Errorf("geo requests in report %d, target saw %d with X-Forwarded-For", got, fake.geo)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := len(loadConns); n == 0 || n > 3 {
		t.Errorf("the load came over %d connections with --conns 3", n)
	}
	// A reload due as the run ends may reach the target uncounted.
	if rep.Reloads == nil || rep.Reloads.OK == 0 || rep.Reloads.OK > uint64(fake.reloads) {
		t.Errorf("reloads %+v, target saw %d", rep.Reloads, fake.reloads)
	}
}

func TestClosedLoopEndToEnd(t *testing.T) {
	fake := &fakeGateway{seen: map[string]bool{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{
		"--target", srv.URL, "--scenario", "images", "--max", "--workers", "4", "--duration", "300ms", "--json", "-", "--quiet",
	}, builtIn(t), &stdout, &stderr)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, &stderr)
	}
	var rep report.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("--json - is not JSON: %v\n%s", err, &stdout)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if rep.Mode != "closed" || rep.Schedule.Workers != 4 || rep.Total.Requests != uint64(fake.img) || fake.img < 10 {
		t.Errorf("mode %s workers %d: %d requests reported, %d seen", rep.Mode, rep.Schedule.Workers, rep.Total.Requests, fake.img)
	}
	// 2 photos x 3 presets x 3 formats = at most 18 misses.
	if rep.Total.XCache["MISS"] > 18 || rep.Total.HitRatio == nil || *rep.Total.HitRatio < 0.5 {
		t.Errorf("X-Cache %v", rep.Total.XCache)
	}
}

func TestErrorsAreCountedNotFatal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.RawQuery, "region=global") {
			http.Error(w, "nope", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNotModified)
	}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{
		"--target", srv.URL, "--scenario", "route-query", "--rate", "100", "--duration", "500ms", "--json", "-", "--quiet",
	}, builtIn(t), &stdout, &stderr)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, &stderr)
	}
	var rep report.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	tot := rep.Total
	// 50 send times fall due; on a loaded machine a few may be missed (no
	// worker free before the end), and those are not requests.
	if rep.Schedule.Intended != 50 || tot.Requests != rep.Schedule.Sent || tot.Requests+rep.Schedule.Missed != 50 {
		t.Errorf("due %d, sent %d, missed %d, requests %d", rep.Schedule.Intended, rep.Schedule.Sent, rep.Schedule.Missed, tot.Requests)
	}
	if tot.Requests < 25 || tot.Errors == 0 || tot.Errors != tot.ErrorsByStatus["503"] || tot.Successes != tot.Status["304"] {
		t.Errorf("requests %d, errors %d by status %v, status %v", tot.Requests, tot.Errors, tot.ErrorsByStatus, tot.Status)
	}
}

func TestExitStatus(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	_ = ln.Close()
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	tests := []struct {
		name    string
		args    []string
		code    int
		message string
	}{
		{"no flags", nil, ExitBadUsage, "--target is required"},
		{"rate and max", []string{"--target", srv.URL, "--scenario", "images", "--rate", "5", "--max"}, ExitBadUsage, "exclusive"},
		{"neither rate nor max", []string{"--target", srv.URL, "--scenario", "images"}, ExitBadUsage, "give --rate"},
		{"bad target", []string{"--target", "127.0.0.1:8080", "--scenario", "images", "--rate", "1"}, ExitBadUsage, "want an http://"},
		{"unknown flag", []string{"--rat", "5"}, ExitBadUsage, "flag provided but not defined"},
		{"unknown scenario", []string{"--target", srv.URL, "--scenario", "nope", "--rate", "1"}, ExitBadUsage, `unknown scenario "nope"`},
		{"bad scenario file", []string{"--target", srv.URL, "--scenario", "x", "--rate", "1", "--scenarios", "testdata/missing.yaml"}, ExitBadUsage, "no such file"},
		{"reloads without admin", []string{"--target", srv.URL, "--scenario", "mixed", "--rate", "1"}, ExitBadUsage, "give --admin"},
		{"missing GeoIP file", []string{"--target", srv.URL, "--scenario", "route-geoip", "--rate", "1", "--geoip", "testdata/none.mmdb"}, ExitBadUsage, "needs GeoIP files"},
		{"raw client and https", []string{"--target", "https://127.0.0.1:8443", "--scenario", "images", "--rate", "1", "--client", "raw"}, ExitBadUsage, "--client raw speaks plain HTTP/1.1: --target must be http://"},
		{"unknown client", []string{"--target", srv.URL, "--scenario", "images", "--rate", "1", "--client", "fast"}, ExitBadUsage, `--client "fast": want net or raw`},
		{"negative conns", []string{"--target", srv.URL, "--scenario", "images", "--rate", "1", "--conns", "-1"}, ExitBadUsage, "--conns must be >= 0"},
		{"unreachable target, raw client", []string{"--target", dead, "--scenario", "images", "--rate", "1", "--duration", "1s", "--client", "raw"}, ExitFailure, "unreachable"},
		{"unreachable target", []string{"--target", dead, "--scenario", "images", "--rate", "1", "--duration", "1s"}, ExitFailure, "unreachable"},
		{"help", []string{"-h"}, ExitOK, "usage: go run ./loadtest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), tt.args, builtIn(t), &stdout, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.message) {
				t.Fatalf("exit %d, want %d; stderr %q lacks %q", code, tt.code, &stderr, tt.message)
			}
		})
	}
}
