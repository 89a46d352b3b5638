package gateway

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func consoleGateway(t *testing.T, mutate ...func(*Config)) *testGateway {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "access.log")
	return startGateway(t, demoRules(t), append([]func(*Config){withGeo(t), withImages(), func(c *Config) {
		c.AccessLog.Enabled, c.AccessLog.Output, c.AccessLog.FlushInterval = true, logPath, 5*time.Millisecond
	}}, mutate...)...)
}

func consoleDo(t *testing.T, method, url, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			break
		}
	}
	return resp, b
}

func decodeJSON[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return v
}

func TestConsoleIsServedOnTheAdminListenerOnly(t *testing.T) {
	g := consoleGateway(t)
	resp, body := consoleDo(t, "GET", g.admin+"/", "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), "edgegate console") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "connect-src 'self'") {
		t.Fatalf("GET admin /: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ := consoleDo(t, "GET", g.admin+"/", "", "Host", "evil.example"); resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("GET / with a foreign Host: %d, want 421 (DNS rebinding)", resp.StatusCode)
	}
	for _, p := range []string{"/nothing", "/index.html", "/console/app.js"} {
		if resp, _ := consoleDo(t, "GET", g.admin+p, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET admin %s: %d, want 404", p, resp.StatusCode)
		}
	}
	if resp, _ := consoleDo(t, "GET", g.base+"/", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET public /: %d, want 404 (the console is admin-only)", resp.StatusCode)
	}
}

func TestConsoleRulesCheck(t *testing.T) {
	g := consoleGateway(t)
	check := func(body string, header ...string) (int, map[string]any) {
		resp, b := consoleDo(t, "POST", g.admin+"/debug/rules/check", body, append([]string{"Content-Type", "application/yaml"}, header...)...)
		return resp.StatusCode, decodeJSON[map[string]any](t, b)
	}
	before := g.srv.rules.Table().Hash()
	if st, v := check(string(demoRules(t))); st != 200 || v["ok"] != true || v["regions"] != 7.0 {
		t.Errorf("the demo rules: %d %v", st, v)
	}
	st, v := check("default_region: global\nregions:\n  global: {prefix: global/}\n  x: {prefix: x/, fallback: nowhere}\nroutes: []\n")
	probs, _ := v["problems"].([]any)
	if st != http.StatusOK || v["ok"] != false || len(probs) == 0 {
		t.Fatalf("a broken draft: %d %v", st, v)
	}
	if p := probs[0].(map[string]any); p["line"] != 4.0 || !strings.Contains(p["msg"].(string), "nowhere") {
		t.Errorf("problem %v, want line 4 naming the unknown region", p)
	}
	if g.srv.rules.Table().Hash() != before {
		t.Error("checking a draft changed the loaded rules")
	}
	if st, _ := check(strings.Repeat("#", consoleMaxRulesBytes+1)); st != http.StatusRequestEntityTooLarge {
		t.Errorf("a draft over 1 MiB: %d, want 413", st)
	}
	if st, _ := check("x: 1", "Sec-Fetch-Site", "cross-site", "Origin", "http://evil.example"); st != http.StatusForbidden {
		t.Errorf("a cross-site POST: %d, want 403", st)
	}
	tok := consoleGateway(t, func(c *Config) { c.Admin.Token = "s3cret" })
	if resp, _ := consoleDo(t, "POST", tok.admin+"/debug/rules/check", "x: 1"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("with admin.token set and no bearer: %d, want 401", resp.StatusCode)
	}
	if resp, b := consoleDo(t, "POST", tok.admin+"/debug/rules/check", string(demoRules(t)), "Authorization", "Bearer s3cret"); resp.StatusCode != 200 {
		t.Errorf("with the token: %d %s", resp.StatusCode, b)
	}
}

func TestConsoleRulesSourceShowsTheReloadError(t *testing.T) {
	g := consoleGateway(t)
	good := demoRules(t)
	bad := strings.Replace(string(good), "fallback: egypt}", "fallback: egpyt}", 1)
	line := 1 + strings.Count(bad[:strings.Index(bad, "egpyt")], "\n")
	if err := os.WriteFile(g.rules, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := g.srv.Reload(); err == nil {
		t.Fatal("reload of a broken file succeeded")
	}
	_, b := consoleDo(t, "GET", g.admin+"/debug/rules/source", "")
	v := decodeJSON[struct {
		Text     string           `json:"text"`
		Problems []consoleProblem `json:"problems"`
		Version  string           `json:"version"`
	}](t, b)
	if v.Text != bad || len(v.Problems) == 0 || v.Problems[0].Line != line || v.Problems[0].Col < 1 ||
		!strings.Contains(v.Problems[0].Msg, "egpyt") {
		t.Errorf("source: problems %+v, want line %d", v.Problems, line)
	}
	if v.Version != g.srv.rules.Table().Hash() {
		t.Error("version is not the serving table's")
	}
	_, b = consoleDo(t, "GET", g.admin+"/debug/rules/table", "")
	tb := decodeJSON[struct {
		Regions []consoleRegion `json:"regions"`
		Routes  []consoleRoute  `json:"routes"`
	}](t, b)
	if len(tb.Regions) != 7 || tb.Regions[0].Name != "egypt-cairo" || strings.Join(tb.Regions[0].Chain, ">") != "egypt-cairo>egypt>global" ||
		len(tb.Routes) != 2 || tb.Routes[0].Name != "maps" {
		t.Errorf("table: %+v", tb)
	}
}

func TestConsoleGeoMap(t *testing.T) {
	g := consoleGateway(t)
	_, b := consoleDo(t, "GET", g.admin+"/debug/geo/map", "")
	v := decodeJSON[struct {
		Countries map[string]consoleCountry `json:"countries"`
	}](t, b)
	for cc, want := range map[string]string{"EG": "egypt", "GB": "uk", "DE": "europe", "US": "global", "JP": "global"} {
		if got := v.Countries[cc].Region; got != want {
			t.Errorf("%s -> %q, want %q", cc, got, want)
		}
	}
	if c := strings.Join(v.Countries["EG"].Cities, ","); c != "egypt-cairo,egypt-alexandria" {
		t.Errorf("EG's city regions: %q", c)
	}
}

func TestConsoleLiveAndAccessLog(t *testing.T) {
	g := consoleGateway(t)
	for _, p := range []string{"/r/map-tiles.zip?region=egypt-cairo", "/r/map-tiles.zip?region=uk-london", "/r/map-tiles.zip?region=nowhere"} {
		get(t, g.base+p)
	}
	_, b := consoleDo(t, "GET", g.admin+"/debug/live", "")
	live := decodeJSON[consoleLive](t, b)
	var route *consoleLiveRoute
	for i := range live.Routes {
		if live.Routes[i].Route == "route" {
			route = &live.Routes[i]
		}
	}
	if route == nil || route.Codes["302"] != 2 || route.Codes["400"] != 1 || route.Count != 3 ||
		len(route.Buckets) != len(live.LatencyBounds) || route.Buckets[len(route.Buckets)-1] != 3 {
		t.Errorf("live route: %+v (bounds %v)", route, live.LatencyBounds)
	}
	if live.RSSBytes < 1<<20 || live.ExistsCache.Hits+live.ExistsCache.Misses == 0 || len(live.S3) == 0 {
		t.Errorf("live: rss %v exists %+v s3 %+v", live.RSSBytes, live.ExistsCache, live.S3)
	}
	var lines []string
	waitFor(t, 5*time.Second, "three access-log lines", func() bool {
		_, b := consoleDo(t, "GET", g.admin+"/debug/access-log?n=10", "")
		lines = decodeJSON[struct {
			Lines []string `json:"lines"`
		}](t, b).Lines
		return len(lines) >= 3
	})
	_, b = consoleDo(t, "GET", g.admin+"/debug/access-log?n=10&filter=UK-LONDON", "")
	f := decodeJSON[struct {
		Enabled bool     `json:"enabled"`
		Lines   []string `json:"lines"`
	}](t, b)
	if !f.Enabled || len(f.Lines) != 1 || !strings.Contains(f.Lines[0], "uk-london") {
		t.Errorf("filtered lines: %+v", f)
	}
	for _, q := range []string{"n=0", "n=1001", "n=x", "filter=" + strings.Repeat("a", 300)} {
		if resp, b := consoleDo(t, "GET", g.admin+"/debug/access-log?"+q, ""); resp.StatusCode != 400 || !strings.Contains(string(b), `"status": 400`) {
			t.Errorf("?%s: %d %s", q, resp.StatusCode, b)
		}
	}
}

func TestConsoleImageRenders(t *testing.T) {
	g := consoleGateway(t)
	resp, b := consoleDo(t, "GET", g.admin+"/debug/image?key=photos/sample.jpg&preset=thumbnail&format=webp", "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/webp" || resp.Header.Get("X-Image-Width") != "150" ||
		resp.Header.Get("X-Render-Ms") == "" || resp.Header.Get("X-Cache") == "" {
		t.Fatalf("render: %d %v", resp.StatusCode, resp.Header)
	}
	if info := probe(t, b); info.Width != 150 || info.Height != 150 {
		t.Errorf("rendered %dx%d", info.Width, info.Height)
	}
	for q, want := range map[string]int{
		"key=photos/sample.jpg&preset=huge&format=webp":     400,
		"key=photos/sample.jpg&preset=thumbnail&format=bmp": 400,
		"key=../x&preset=thumbnail&format=webp":             400,
		"key=photos/none.jpg&preset=thumbnail&format=webp":  404,
	} {
		if resp, b := consoleDo(t, "GET", g.admin+"/debug/image?"+q, ""); resp.StatusCode != want || !strings.Contains(string(b), "status") {
			t.Errorf("?%s: %d %s, want %d", q, resp.StatusCode, b, want)
		}
	}
	_, b = consoleDo(t, "GET", g.admin+"/debug/images", "")
	if s := string(b); !strings.Contains(s, `"thumbnail"`) || !strings.Contains(s, `"avif"`) {
		t.Errorf("/debug/images: %s", s)
	}
}
