package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgegate/edgegate/presign"
)

// After warm-up, a cached route request allocates nothing: neither with
// ?region= nor with a GeoIP decision from X-Forwarded-For.
func TestRouteHotPathAllocatesNothing(t *testing.T) {
	g := startGateway(t, demoRules(t), withGeo(t))
	h := g.srv.Handler()
	for _, tc := range []struct {
		name, uri, xff string
		loc            string
	}{
		{"query region", "/r/map-tiles.zip?region=uk-london", "", "/uk/london/map-tiles.zip?"},
		{"geoip", "/r/map-tiles.zip", ipCairo, "/egypt/cairo/map-tiles.zip?"},
		{"escaped key", "/r/odd%20name.txt?region=global", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req fasthttp.Request
			req.SetRequestURI(tc.uri)
			if tc.xff != "" {
				req.Header.Set("X-Forwarded-For", tc.xff)
			}
			var ctx fasthttp.RequestCtx
			ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}, nil)
			h(&ctx) // warm-up: existence checks and the URL cache fill
			status := ctx.Response.StatusCode()
			if tc.loc != "" && (status != 302 || !strings.Contains(string(ctx.Response.Header.Peek("Location")), tc.loc)) {
				t.Fatalf("status %d, Location %q", status, ctx.Response.Header.Peek("Location"))
			}
			allocs := testing.AllocsPerRun(200, func() {
				ctx.Response.Reset()
				h(&ctx)
			})
			if tc.loc == "" {
				// A 404 (no such object): the error path may allocate; only check it answers.
				if ctx.Response.StatusCode() != 404 {
					t.Fatalf("status %d", ctx.Response.StatusCode())
				}
				return
			}
			checkAllocs(t, allocs, 0, "cached request")
		})
	}
}

func TestCacheControl(t *testing.T) {
	public := []byte(`default_region: global
regions:
  uk:     {country: GB, prefix: uk/london/, fallback: global}
  global: {prefix: global/}
routes:
  - {name: pub, match: "**", bucket: edge-demo, delivery: presign, ttl: 15m, cache: public}
`)
	g := startGateway(t, public, withGeo(t))
	maxAge := func(cc string) int {
		i := strings.Index(cc, "max-age=")
		n, err := strconv.Atoi(cc[i+len("max-age="):])
		if i < 0 || err != nil {
			t.Fatalf("Cache-Control %q", cc)
		}
		return n
	}
	for _, tc := range []struct {
		name   string
		url    string
		header []string
		cc     string
		vary   string
	}{
		{"query region is public", "/r/map-tiles.zip?region=uk", nil, "public, ", "Accept"},
		{"cdn header is public and varies", "/r/map-tiles.zip", []string{"CF-IPCountry", "GB"}, "public, ", "CF-IPCountry"},
		{"geoip stays private", "/r/map-tiles.zip", []string{"X-Forwarded-For", ipLondon}, "private, ", "Accept"},
		{"default stays private", "/r/map-tiles.zip", nil, "private, ", "Accept"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := get(t, g.base+tc.url, tc.header...)
			cc := resp.Header.Get("Cache-Control")
			if resp.StatusCode != 302 || !strings.HasPrefix(cc, tc.cc) || !strings.Contains(resp.Header.Get("Vary"), tc.vary) {
				t.Fatalf("status %d Cache-Control %q Vary %q", resp.StatusCode, cc, resp.Header.Get("Vary"))
			}
			// Never longer than the URL keeps the route's TTL: the window (60 s).
			if n := maxAge(cc); n < 0 || n > 60 {
				t.Fatalf("max-age %d, want 0..60", n)
			}
		})
	}
}

func TestCDNDelivery(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := filepath.Join(dir, "cf.pem")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	cdnRules := []byte(`default_region: global
regions:
  uk:     {country: GB, prefix: uk/london/, fallback: global}
  global: {prefix: global/}
routes:
  - {name: tiles, match: "tiles/**", bucket: edge-demo, delivery: cdn, cdn: "https://cdn.example.com/base", ttl: 1h, cdn_policy: wildcard}
  - {name: web, match: "**", bucket: edge-demo, delivery: cdn, cdn: "https://cdn.example.com/base", ttl: 1h}
`)
	g := startGateway(t, cdnRules, func(c *Config) {
		c.Presign.CloudFront.Keys = []presign.CloudFrontKey{{ID: "KTEST123", PrivateKeyFile: keyFile, Active: true}}
	})
	resp, _ := get(t, g.base+"/r/a%20b.png?region=uk")
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "https://cdn.example.com/base/uk/london/a%20b.png?") {
		t.Fatalf("status %d Location %q", resp.StatusCode, loc)
	}
	for _, p := range []string{"Expires=", "Signature=", "Key-Pair-Id=KTEST123"} {
		if !strings.Contains(loc, p) {
			t.Errorf("canned CloudFront URL %q lacks %s", loc, p)
		}
	}
	resp, _ = get(t, g.base+"/r/tiles/1/2.png?region=uk")
	loc = resp.Header.Get("Location")
	if !strings.Contains(loc, "Policy=") || !strings.Contains(loc, "Key-Pair-Id=KTEST123") {
		t.Errorf("wildcard route: Location %q lacks a custom Policy", loc)
	}
	a := answer(t, g.base+"/r/x.png?region=uk")
	if a.Delivery != "cdn" {
		t.Errorf("delivery %q", a.Delivery)
	}
}
