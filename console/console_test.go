package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, header ...string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Result(), string(b)
}

var assetLink = regexp.MustCompile(`(?:src|href|content)="(/console/[^"]+)"`)

func TestPageAndHashedFiles(t *testing.T) {
	h, err := New()
	if err != nil {
		t.Fatal(err)
	}
	resp, page := get(t, h, "GET", "/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if got := resp.Header.Get("Content-Security-Policy"); got != CSP {
		t.Errorf("CSP %q", got)
	}
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:",
		"connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(CSP, want) {
			t.Errorf("CSP lacks %q", want)
		}
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("page headers: %v", resp.Header)
	}
	if strings.Contains(page, "{{") || strings.Contains(page, "<script>") || strings.Contains(page, "style=") {
		t.Error("the page has an unresolved asset reference, an inline script or an inline style")
	}
	links := assetLink.FindAllStringSubmatch(page, -1)
	var names []string
	for _, m := range links {
		names = append(names, m[1])
		resp, body := get(t, h, "GET", m[1])
		if resp.StatusCode != 200 || len(body) == 0 {
			t.Errorf("GET %s: %d", m[1], resp.StatusCode)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q", m[1], cc)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Content-Security-Policy") != CSP {
			t.Errorf("%s: headers %v", m[1], resp.Header)
		}
		if r2, _ := get(t, h, "GET", m[1], "If-None-Match", resp.Header.Get("ETag")); r2.StatusCode != http.StatusNotModified {
			t.Errorf("%s with its ETag: %d, want 304", m[1], r2.StatusCode)
		}
	}
	for _, want := range []string{`^/console/app\.[0-9a-f]{8}\.js$`, `^/console/style\.[0-9a-f]{8}\.css$`, `^/console/world\.[0-9a-f]{8}\.svg$`} {
		if !slices.ContainsFunc(names, regexp.MustCompile(want).MatchString) {
			t.Errorf("the page links no file matching %s: %q", want, names)
		}
	}
	if r, _ := get(t, h, "GET", "/", "If-None-Match", resp.Header.Get("ETag")); r.StatusCode != http.StatusNotModified {
		t.Errorf("GET / with its ETag: %d", r.StatusCode)
	}
	for _, p := range []string{"/console/app.js", "/console/app.00000000.js", "/console/", "/console/../index.html", "/other"} {
		r, body := get(t, h, "GET", p)
		if r.StatusCode != http.StatusNotFound || !strings.Contains(body, `"status":404`) {
			t.Errorf("GET %s: %d %q, want a JSON 404", p, r.StatusCode, body)
		}
	}
	if r, _ := get(t, h, "POST", "/"); r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d", r.StatusCode)
	}
}

func TestCountries(t *testing.T) {
	cs := Countries()
	if len(cs) < 150 {
		t.Fatalf("%d countries on the map", len(cs))
	}
	for _, want := range []string{"EG", "GB", "FR", "US", "BR", "CN", "AU", "ZA"} {
		if !slices.Contains(cs, want) {
			t.Errorf("the map lacks %s", want)
		}
	}
	if !slices.IsSorted(cs) {
		t.Error("not sorted")
	}
}
