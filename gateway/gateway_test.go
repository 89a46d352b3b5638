package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
)

// testGateway is a gateway serving on loopback against the test S3 server.
type testGateway struct {
	srv    *Server
	base   string // http://127.0.0.1:port
	admin  string
	cancel context.CancelFunc
	done   chan error
	rules  string // rules file path
}

func demoRules(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../examples/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// startGateway starts a gateway with the given rules file contents and
// returns when it accepts connections. It is stopped at test cleanup.
func startGateway(t *testing.T, rulesYAML []byte, mutate ...func(*Config)) *testGateway {
	return startGatewayTB(t, rulesYAML, mutate...)
}

// startGatewayB is startGateway for benchmarks: demo rules, real GeoIP.
func startGatewayB(b *testing.B) *testGateway {
	rules, err := os.ReadFile("../examples/rules.yaml")
	if err != nil {
		b.Fatal(err)
	}
	return startGatewayTB(b, rules, withGeo(b))
}

func startGatewayTB(t testing.TB, rulesYAML []byte, mutate ...func(*Config)) *testGateway {
	t.Helper()
	endpoint := testenv.S3(t)
	dir := t.TempDir()
	rulesPath := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesPath, rulesYAML, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Rules = rulesPath
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.S3.Endpoint = endpoint
	cfg.S3.Region = demo.Region
	cfg.S3.PathStyle = true
	cfg.S3.AccessKey, cfg.S3.SecretKey = demo.AccessKey, demo.SecretKey
	for _, m := range mutate {
		m(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	srv, err := New(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &testGateway{srv: srv, base: "http://" + pub.Addr().String(), admin: "http://" + adm.Addr().String(),
		cancel: cancel, done: make(chan error, 1), rules: rulesPath}
	go func() { g.done <- srv.ServeListeners(ctx, pub, adm) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-g.done:
		case <-time.After(10 * time.Second):
			t.Error("gateway did not shut down in 10s")
		}
	})
	return g
}

// noRedirect is an HTTP client that reports redirects instead of following them.
var noRedirect = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func get(t *testing.T, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestRouteRedirectDownloadsRegionalObject(t *testing.T) {
	g := startGateway(t, demoRules(t))
	for _, tc := range []struct{ region, prefix string }{
		{"egypt-cairo", "egypt/cairo/"},
		{"uk-london", "uk/london/"},
		{"EGYPT-ALEXANDRIA", "egypt/alexandria/"}, // region names are case-insensitive
	} {
		t.Run(tc.region, func(t *testing.T) {
			resp, _ := get(t, g.base+"/r/map-tiles.zip?region="+tc.region)
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("status %d, want 302", resp.StatusCode)
			}
			loc := resp.Header.Get("Location")
			if !strings.Contains(loc, "/edge-demo/"+tc.prefix+"map-tiles.zip?") {
				t.Fatalf("Location %q does not point at %smap-tiles.zip", loc, tc.prefix)
			}
			if cc := resp.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "private, max-age=") {
				t.Errorf("Cache-Control %q, want private, max-age=N", cc)
			}
			if resp.Header.Get("X-Edge-Rules") == "" {
				t.Error("no X-Edge-Rules header")
			}
			dl, body := get(t, loc)
			if dl.StatusCode != http.StatusOK {
				t.Fatalf("download status %d: %s", dl.StatusCode, body)
			}
			want, _ := demo.MapTiles(tc.prefix)
			if !bytes.Equal(body, want) {
				t.Fatalf("downloaded %d bytes, not the %s object (%d bytes)", len(body), tc.prefix, len(want))
			}
			// One signature character changed: the S3 server must refuse it.
			i := strings.Index(loc, "X-Amz-Signature=") + len("X-Amz-Signature=")
			c := byte('0')
			if loc[i] == '0' {
				c = '1'
			}
			tampered := loc[:i] + string(c) + loc[i+1:]
			bad, body := get(t, tampered)
			if bad.StatusCode != http.StatusForbidden {
				t.Fatalf("tampered URL: status %d, want 403: %s", bad.StatusCode, body)
			}
		})
	}
}

func TestRouteDefaultRegion(t *testing.T) {
	g := startGateway(t, demoRules(t))
	resp, body := get(t, g.base+"/r/map-tiles.zip?format=json")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var a routeAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatal(err)
	}
	if a.Region != "global" || a.RegionSource != SourceDefault || a.Key != "global/map-tiles.zip" {
		t.Fatalf("got region %q source %q key %q, want global/default/global/map-tiles.zip", a.Region, a.RegionSource, a.Key)
	}
}

func TestRouteJSON(t *testing.T) {
	g := startGateway(t, demoRules(t))
	redirect, _ := get(t, g.base+"/r/maps/world.zip?region=egypt-cairo")
	for name, req := range map[string][]string{
		"format=json": {g.base + "/r/maps/world.zip?region=egypt-cairo&format=json"},
		"Accept":      {g.base + "/r/maps/world.zip?region=egypt-cairo", "Accept", "application/json"},
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := get(t, req[0], req[1:]...)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var a map[string]string
			if err := json.Unmarshal(body, &a); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			want := map[string]string{"region": "egypt-cairo", "region_source": "query", "rule": "maps",
				"bucket": "edge-demo", "key": "egypt/cairo/maps/world.zip", "delivery": "presign"}
			for k, v := range want {
				if a[k] != v {
					t.Errorf("%s = %q, want %q", k, a[k], v)
				}
			}
			for _, k := range []string{"url", "region", "region_source", "rule", "bucket", "key", "delivery", "expires_at"} {
				if _, ok := a[k]; !ok {
					t.Errorf("field %q missing", k)
				}
			}
			exp, err := time.Parse(time.RFC3339, a["expires_at"])
			if err != nil {
				t.Fatalf("expires_at: %v", err)
			}
			if d := time.Until(exp); d < 59*time.Minute || d > 61*time.Minute {
				t.Errorf("expires_at %s is %s away, want about the maps route's 1h", a["expires_at"], d)
			}
			// Same object, same signing parameters as the redirect.
			strip := func(u string) string { return u[:strings.Index(u, "X-Amz-Date")] }
			if strip(a["url"]) != strip(redirect.Header.Get("Location")) {
				t.Errorf("JSON url %q and redirect %q name different objects", a["url"], redirect.Header.Get("Location"))
			}
		})
	}
}

// A key with characters S3 escapes specially must survive the redirect
// byte for byte: fasthttp must not normalise the Location.
func TestRouteKeyEscaping(t *testing.T) {
	g := startGateway(t, demoRules(t))
	key := "global/odd keys/a+b ~c é.txt"
	content := []byte("escaping works\n")
	c := demo.Client(testenv.S3(t))
	if _, err := c.PutObject(context.Background(), putInput(demo.Bucket, key, content)); err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, g.base+"/r/odd%20keys/a+b%20~c%20%C3%A9.txt?region=global")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	loc := resp.Header.Get("Location")
	dl, got := get(t, loc)
	if dl.StatusCode != http.StatusOK || !bytes.Equal(got, content) {
		t.Fatalf("download of %q: status %d body %q", loc, dl.StatusCode, got)
	}
}

func TestRouteBadInput(t *testing.T) {
	noCatchAll := []byte(`default_region: global
regions:
  global: {prefix: global/}
routes:
  - {name: maps, match: "maps/**", bucket: edge-demo, delivery: presign, ttl: 1h}
`)
	g := startGateway(t, noCatchAll)
	long := strings.Repeat("a", MaxKeyLen+1)
	for _, tc := range []struct {
		name, method, path string
		status             int
		msg                string
	}{
		{"unknown region", "GET", "/r/maps/x.zip?region=atlantis", 400, `unknown region "atlantis"`},
		{"empty region", "GET", "/r/maps/x.zip?region=", 400, "unknown region"},
		{"empty key", "GET", "/r/", 400, "empty key"},
		{"long key", "GET", "/r/maps/" + long, 400, "over the 1024-byte limit"},
		{"dotdot", "GET", "/r/maps/../secret", 400, `".." segments`},
		{"encoded dotdot", "GET", "/r/maps/%2E%2E/secret", 400, `".." segments`},
		{"leading slash", "GET", "/r//etc/passwd", 400, "must not start with '/'"},
		{"backslash", "GET", "/r/maps%5C..%5Cx", 400, "backslash"},
		{"control char", "GET", "/r/maps/a%01b", 400, "control character"},
		{"bad escape", "GET", "/r/maps/%zz", 400, "malformed percent escape"},
		{"bad utf8", "GET", "/r/maps/%ff", 400, "UTF-8"},
		{"no route", "GET", "/r/other/thing.txt", 404, "no route matches key"},
		{"wrong method", "POST", "/r/maps/x.zip", 405, "not allowed"},
		{"unknown path", "GET", "/nope", 404, "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := rawRequest(t, g.base, tc.method, tc.path)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			var e struct {
				Error  string `json:"error"`
				Status int    `json:"status"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("body is not JSON: %v: %s", err, body)
			}
			if e.Status != tc.status || !strings.Contains(e.Error, tc.msg) {
				t.Fatalf("body %s, want status %d and error containing %q", body, tc.status, tc.msg)
			}
		})
	}
}

// rawRequest sends the request-target exactly as given (net/http would
// clean "..").
func rawRequest(t *testing.T, base, method, target string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", method, target)
	resp, err := http.ReadResponse(bufioReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestAdminEndpoints(t *testing.T) {
	g := startGateway(t, demoRules(t))
	get(t, g.base+"/r/map-tiles.zip?region=uk-london")
	get(t, g.base+"/r/map-tiles.zip?region=nowhere")
	resp, _ := get(t, g.admin+"/healthz")
	if resp.StatusCode != 200 {
		t.Fatalf("healthz %d", resp.StatusCode)
	}
	resp, body := get(t, g.admin+"/readyz")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"ready":true`) {
		t.Fatalf("readyz %d: %s", resp.StatusCode, body)
	}
	_, body = get(t, g.admin+"/metrics")
	for _, want := range []string{
		`edgegate_requests_total{code="302",route="route"} 1`,
		`edgegate_requests_total{code="400",route="route"} 1`,
		`edgegate_request_duration_seconds_bucket{code="302",route="route",le=`,
		`edgegate_rules_reload_success 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// The admin endpoints are not on the public listener.
	resp, _ = get(t, g.base+"/metrics")
	if resp.StatusCode != 404 {
		t.Errorf("public /metrics: %d, want 404", resp.StatusCode)
	}
}

func TestReadyzFailsWithoutS3(t *testing.T) {
	g := startGateway(t, demoRules(t), func(c *Config) {
		c.S3.Endpoint = "http://127.0.0.1:1" // nothing listens there
		c.S3.Timeout = 2 * time.Second
	})
	resp, body := get(t, g.admin+"/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "S3 unreachable") {
		t.Fatalf("readyz %d: %s, want 503 S3 unreachable", resp.StatusCode, body)
	}
}

func TestRouteHEAD(t *testing.T) {
	g := startGateway(t, demoRules(t))
	req, _ := http.NewRequest(http.MethodHead, g.base+"/r/map-tiles.zip?region=uk-london", nil)
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "/uk/london/map-tiles.zip?") {
		t.Fatalf("HEAD: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}
