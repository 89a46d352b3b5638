// Package console is the admin listener's web page: one HTML page, a plain
// JavaScript file, a stylesheet and a world map (SVG, generated offline by
// mapgen/gen.js from Natural Earth outlines), embedded in the binary. The
// page draws what the admin JSON endpoints say (/debug/explain,
// /debug/rules, /debug/geo, /debug/live, ...); it fetches nothing from
// any other origin, and its Content-Security-Policy forbids it to.
//
// The package knows nothing of the gateway: Handler serves the files, and
// Countries lists the map's countries for the endpoint that colours them.
// It does not check who asks: the admin listener's Host check and token
// rules wrap it (gateway/admin.go).
package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strings"
)

//go:embed assets
var assets embed.FS

// CSP is the Content-Security-Policy of every console answer: nothing but
// this origin's own files and JSON, no inline script or style, no framing.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"

// Prefix is the path under which the console's files are served, each
// named by its content hash (app.3f2a9c1b.js), so that they can be cached
// for good; the page itself is "/".
const Prefix = "/console/"

type file struct {
	body  []byte
	ctype string
	etag  string
}

// Handler serves the page at "/" and its files under Prefix. It is
// immutable once made and safe for concurrent use.
type Handler struct {
	page  file
	files map[string]file // by hashed name, e.g. "app.3f2a9c1b.js"
}

var ctypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml",
	".png": "image/png",
}

// New reads the embedded files, names each by its content hash and
// rewrites the page's references to those names.
func New() (*Handler, error) {
	h := &Handler{files: map[string]file{}}
	names := map[string]string{} // "app.js" -> "app.3f2a9c1b.js"
	entries, err := fs.ReadDir(assets, "assets")
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		ext := path.Ext(name)
		ct, ok := ctypes[ext]
		if !ok {
			continue
		}
		b, err := assets.ReadFile("assets/" + name)
		if err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
		sum := sha256.Sum256(b)
		hashed := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:4]) + ext
		names[name] = hashed
		h.files[hashed] = file{body: b, ctype: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	page, err := assets.ReadFile("assets/index.html")
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	// {{asset "app.js"}} -> /console/app.3f2a9c1b.js
	var missing []string
	page = assetRef.ReplaceAllFunc(page, func(m []byte) []byte {
		name := string(assetRef.FindSubmatch(m)[1])
		hashed, ok := names[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return []byte(Prefix + hashed)
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("console: index.html names files that are not embedded: %s", strings.Join(missing, ", "))
	}
	sum := sha256.Sum256(page)
	h.page = file{body: page, ctype: "text/html; charset=utf-8", etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	return h, nil
}

var assetRef = regexp.MustCompile(`\{\{asset "([a-z0-9_.-]+)"\}\}`)

// ServeHTTP answers GET and HEAD of "/" (revalidated each time: its
// ETag changes when any file changes) and of the hashed files (cached for
// a year, immutable). Anything else is a JSON 404 or 405.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; use GET")
		return
	}
	var f file
	switch name, isAsset := strings.CutPrefix(r.URL.Path, Prefix); {
	case r.URL.Path == "/":
		f = h.page
		hd.Set("Cache-Control", "no-cache")
	case isAsset:
		var ok bool
		if f, ok = h.files[name]; !ok {
			writeError(w, http.StatusNotFound, "no console file "+truncate(name, 80))
			return
		}
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	default:
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	hd.Set("ETag", f.etag)
	hd.Set("Content-Type", f.ctype)
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagListHas(inm, f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Length", fmt.Sprint(len(f.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(f.body)
	}
}

func etagListHas(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Error  string `json:"error"`
		Status int    `json:"status"`
	}{msg, status})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

var mapCountry = regexp.MustCompile(`data-cc="([A-Z]{2})"`)

// Countries returns the ISO 3166-1 alpha-2 codes of the countries drawn on
// the map, sorted.
func Countries() []string {
	b, err := assets.ReadFile("assets/world.svg")
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range mapCountry.FindAllSubmatch(b, -1) {
		out = append(out, string(m[1]))
	}
	slices.Sort(out)
	return slices.Compact(out)
}
