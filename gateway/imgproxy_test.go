package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
	"github.com/edgegate/edgegate/internal/testimages"
	"github.com/edgegate/edgegate/resize"
)

// imgproxy's documented example pair: key "secret", salt "hello".
const imgproxyKey, imgproxySalt = "secret", "hello"

func withImgproxy(c *Config) {
	c.Imgproxy.Enabled = true
	c.Imgproxy.Keys = []string{"736563726574"}
	c.Imgproxy.Salts = []string{"68656c6c6f"}
	c.Imgproxy.SourcePrefixes = []string{"https://img.example.com/", "s3://media/"}
}

// imgproxySign returns /imgproxy/{signature}{path} signed as imgproxy's
// documentation describes (computed here independently of the package).
func imgproxySign(path string) string {
	m := hmac.New(sha256.New, []byte(imgproxyKey))
	m.Write([]byte(imgproxySalt + path))
	return "/imgproxy/" + base64.RawURLEncoding.EncodeToString(m.Sum(nil)) + path
}

// TestImgproxyEndToEnd renders imgproxy URLs from the demo photo
// (1920×1080 JPEG, routed like /img/ to global/photos/sample.jpg) through
// real versitygw and libvips, and checks the decoded output's size and
// format against the options' documented meaning.
func TestImgproxyEndToEnd(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages(), withImgproxy)
	const plain = "/plain/https://img.example.com/photos/sample.jpg"
	b64 := "/" + base64.RawURLEncoding.EncodeToString([]byte("s3://media/photos/sample.jpg"))
	for _, tc := range []struct {
		name, path string
		accept     string
		w, h       int
		format     resize.Format
	}{
		{"fill with smart gravity, webp", "/rs:fill:300:200:0/g:sm" + plain + "@webp", "", 300, 200, resize.WebP},
		{"fit by width, base64 source, png", "/rs:fit:320:0" + b64 + ".png", "", 320, 180, resize.PNG},
		{"size and format options", "/s:100:100/f:avif" + plain, "", 100, 56, resize.AVIF},
		{"no extension: negotiated from Accept", "/w:160" + plain, "image/webp", 160, 90, resize.WebP},
		{"auto, same orientation: fill", "/rs:auto:300:200" + plain + "@jpg", "", 300, 200, resize.JPEG},
		{"auto, other orientation: fit", "/rs:auto:200:300" + plain + "@jpg", "", 200, 113, resize.JPEG},
		{"fill does not enlarge", "/rs:fill:4000:3000" + plain + "@jpg", "", 1920, 1080, resize.JPEG},
		{"fill-down keeps 4:3 within the source", "/rs:fill-down:4000:3000" + plain + "@jpg", "", 1440, 1080, resize.JPEG},
		{"force keeps the source's height", "/rs:force:300:0" + plain + "@png", "", 300, 1080, resize.PNG},
		{"force both sides", "/rs:force:300:300" + plain + "@jpg", "", 300, 300, resize.JPEG},
		{"enlarge", "/rs:fit:2400:0:1" + plain + "@jpg", "", 2400, 1350, resize.JPEG},
		{"preset", "/pr:thumbnail" + plain + "@jpg", "", 150, 150, resize.JPEG},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, g.base+imgproxySign(tc.path), "Accept", tc.accept)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %.300s", resp.StatusCode, body)
			}
			info := probe(t, body)
			if info.Width != tc.w || info.Height != tc.h || info.Format != tc.format || resp.Header.Get("Content-Type") != tc.format.ContentType() {
				t.Fatalf("got %v %dx%d (%s), want %v %dx%d", info.Format, info.Width, info.Height, resp.Header.Get("Content-Type"), tc.format, tc.w, tc.h)
			}
			if vary := strings.Contains(resp.Header.Get("Vary"), "Accept"); vary != (tc.format == resize.WebP && tc.accept != "") {
				t.Errorf("Vary %q", resp.Header.Get("Vary"))
			}
		})
	}
}

// TestImgproxyContentDisposition: as imgproxy, every answer names a file
// (the source's base name, or the filename option, with the format's
// extension), inline unless return_attachment; /img/ answers name none.
func TestImgproxyContentDisposition(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages(), withImgproxy)
	const plain = "/plain/https://img.example.com/photos/sample.jpg"
	for _, tc := range []struct{ path, accept, want string }{
		{"/w:160" + plain, "image/webp", `inline; filename="sample.webp"`},
		{"/w:160" + plain, "", `inline; filename="sample.jpg"`},
		{"/fn:holiday/att:1/w:160" + plain + "@png", "", `attachment; filename="holiday.png"`},
	} {
		resp, body := get(t, g.base+imgproxySign(tc.path), "Accept", tc.accept)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d: %.300s", tc.path, resp.StatusCode, body)
		}
		if got := resp.Header.Get("Content-Disposition"); got != tc.want {
			t.Errorf("%s (Accept %q): Content-Disposition %q, want %q", tc.path, tc.accept, got, tc.want)
		}
	}
	resp, _ := get(t, g.base+"/img/thumbnail/photos/sample.jpg")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Disposition") != "" {
		t.Errorf("/img/: %d, Content-Disposition %q, want none", resp.StatusCode, resp.Header.Get("Content-Disposition"))
	}
}

// TestImgproxyFormatQuality: format_quality sets the quality of the
// format the answer takes (read back from the JPEG's quantisation table),
// under the quality option; each quality is its own variant, and the
// same URL asked by a WebP client gets its WebP quality (smaller bytes).
func TestImgproxyFormatQuality(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages(), withImgproxy)
	const plain = "/plain/https://img.example.com/photos/sample.jpg"
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/w:400" + plain + "@jpg", 82}, // images.quality.jpeg
		{"/fq:jpeg:40:webp:90/w:400" + plain + "@jpg", 40},
		{"/fq:jpg:95/w:400" + plain + "@jpg", 95},
		{"/q:70/fq:jpeg:40/w:400" + plain + "@jpg", 70},
		{"/fq:webp:40/w:400" + plain + "@jpg", 82},
	} {
		resp, body := get(t, g.base+imgproxySign(tc.path))
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %.200s", tc.path, resp.StatusCode, body)
		}
		if q := jpegQuality(t, body); q != tc.want {
			t.Errorf("%s: JPEG quality %d, want %d", tc.path, q, tc.want)
		}
	}
	size := func(path string) int {
		t.Helper()
		resp, body := get(t, g.base+imgproxySign(path), "Accept", "image/webp")
		if resp.StatusCode != 200 || probe(t, body).Format != resize.WebP {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		return len(body)
	}
	low, high := size("/fq:webp:20:jpeg:95/w:400"+plain), size("/fq:webp:95:jpeg:20/w:400"+plain)
	if low*2 > high {
		t.Errorf("WebP at fq webp 20: %d bytes, at 95: %d; want the first well under half", low, high)
	}
	resp, body := get(t, g.base+imgproxySign("/fq:png:5/w:400"+plain))
	if resp.StatusCode != 400 || !strings.Contains(string(body), "option fq for png") {
		t.Errorf("fq:png: %d %s, want a 400 naming it", resp.StatusCode, body)
	}
}

// TestImgproxySharesVariants: an imgproxy URL and the /img/ request for
// the same transform are one variant (the key is the canonical spec).
func TestImgproxySharesVariants(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages(), withImgproxy)
	resp, body := get(t, g.base+"/img/thumbnail/photos/sample.jpg?format=jpeg")
	if resp.StatusCode != 200 || resp.Header.Get("X-Cache") != "MISS" {
		t.Fatalf("/img/: %d %q %.200s", resp.StatusCode, resp.Header.Get("X-Cache"), body)
	}
	resp2, body2 := get(t, g.base+imgproxySign("/pr:thumbnail/plain/https://img.example.com/photos/sample.jpg@jpeg"))
	if resp2.StatusCode != 200 || resp2.Header.Get("X-Cache") != "HIT" || resp2.Header.Get("ETag") != resp.Header.Get("ETag") || string(body2) != string(body) {
		t.Fatalf("imgproxy preset: %d X-Cache %q ETag %q vs %q", resp2.StatusCode, resp2.Header.Get("X-Cache"), resp2.Header.Get("ETag"), resp.Header.Get("ETag"))
	}
}

// TestImgproxyRefusals: the answers that are not images are JSON errors
// with the status and a message naming the problem.
func TestImgproxyRefusals(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages(), withImgproxy)
	const plain = "/plain/https://img.example.com/photos/sample.jpg"
	for _, tc := range []struct {
		name, url string
		status    int
		msg       string
	}{
		{"unsigned", "/imgproxy/insecure/w:100" + plain, 403, "invalid signature"},
		{"signed for another path", "/imgproxy/" + strings.Split(imgproxySign("/w:100"+plain), "/")[2] + "/w:101" + plain, 403, "invalid signature"},
		{"unsupported option", imgproxySign("/trim:10" + plain), 400, "option trim not supported"},
		{"unknown option", imgproxySign("/foo:1" + plain), 400, `unknown processing option "foo"`},
		{"over max_width", imgproxySign("/w:5000" + plain), 400, "over the maximum"},
		{"source not mapped", imgproxySign("/w:100/plain/https://other.example.com/a.jpg"), 404, "is not served here"},
		{"source key missing", imgproxySign("/w:100/plain/https://img.example.com/photos/none.jpg"), 404, "not found"},
		{"source key invalid", imgproxySign("/w:100/plain/https://img.example.com/photos/../x.jpg"), 400, `".." segments`},
		{"no source", imgproxySign("/w:100"), 400, "no source URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, g.base+tc.url)
			var e struct {
				Error  string `json:"error"`
				Status int    `json:"status"`
			}
			if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != tc.status || e.Status != tc.status || !strings.Contains(e.Error, tc.msg) {
				t.Fatalf("%d %.300s; want %d with %q", resp.StatusCode, body, tc.status, tc.msg)
			}
		})
	}
	req, _ := http.NewRequest(http.MethodPost, g.base+imgproxySign("/w:100"+plain), nil)
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// TestImgproxyDisabled: without imgproxy.enabled the path does not exist.
func TestImgproxyDisabled(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages())
	resp, _ := get(t, g.base+imgproxySign("/w:100/plain/https://img.example.com/photos/sample.jpg"))
	if resp.StatusCode != 404 {
		t.Fatalf("status %d, want 404", resp.StatusCode)
	}
}

// TestImgproxyWriteBack: a URL whose transform is resolved from the
// source (rt:auto) is stored under its spec as parsed, and another
// gateway serves that stored variant without rendering.
func TestImgproxyWriteBack(t *testing.T) {
	jpg, _ := demo.SampleJPEG(900, 1600) // portrait: auto with a landscape size fits
	key := putObject(t, "portrait.jpg", jpg, "image/jpeg")
	store := withImages(func(c *ImagesConfig) { c.StoreVariants = true })
	url := imgproxySign("/rs:auto:300:200/plain/https://img.example.com/" + key + "@jpg")
	a := startGateway(t, demoRules(t), store, withImgproxy)
	resp, body := get(t, a.base+url)
	if resp.StatusCode != 200 || resp.Header.Get("X-Cache") != "MISS" {
		t.Fatalf("gateway A: %d %q %.200s", resp.StatusCode, resp.Header.Get("X-Cache"), body)
	}
	if info := probe(t, body); info.Width != 113 || info.Height != 200 {
		t.Fatalf("rendered %dx%d, want 113x200 (fit: the source is portrait)", info.Width, info.Height)
	}
	stored := "custom/300x200-auto/global/" + key + ".jpg"
	c := demo.Client(testenv.S3(t))
	waitFor(t, 10*time.Second, "write-back of "+stored, func() bool {
		_, err := c.HeadObject(context.Background(), headInput(demo.Bucket, stored))
		return err == nil
	})
	b := startGateway(t, demoRules(t), store, withImgproxy)
	resp2, body2 := get(t, b.base+url)
	if resp2.StatusCode != 200 || resp2.Header.Get("X-Cache") != "STORED" || !bytes.Equal(body, body2) {
		t.Fatalf("gateway B: %d X-Cache %q same bytes %v", resp2.StatusCode, resp2.Header.Get("X-Cache"), bytes.Equal(body, body2))
	}
	if n := testutil.ToFloat64(b.srv.metrics.imagesRendered); n != 0 {
		t.Fatalf("gateway B rendered %v images, want 0", n)
	}
}

// TestImgproxyConfigFromEnvironment: the imgproxy section comes from
// EDGEGATE_IMGPROXY_* like every other, and a bad key from there is
// reported by Validate.
func TestImgproxyConfigFromEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edgegate.yaml")
	if err := os.WriteFile(path, []byte("rules: rules.yaml\nimgproxy:\n  enabled: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := LoadConfigFrom(path, false, []string{
		"EDGEGATE_IMGPROXY_KEYS=736563726574,6e6577",
		"EDGEGATE_IMGPROXY_SALTS=68656c6c6f,73616c74",
		"EDGEGATE_IMGPROXY_SIGNATURE_SIZE=8",
		"EDGEGATE_IMGPROXY_SOURCE_PREFIXES=https://img.example.com/,s3://photos/",
	})
	if err != nil {
		t.Fatal(err)
	}
	ic := cfg.Imgproxy
	if !ic.Enabled || len(ic.Keys) != 2 || ic.Keys[1] != "6e6577" || len(ic.Salts) != 2 || ic.SignatureSize != 8 || len(ic.SourcePrefixes) != 2 || ic.SourcePrefixes[1] != "s3://photos/" {
		t.Fatalf("imgproxy config %+v", ic)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	cfg, _, err = LoadConfigFrom(path, false, []string{"EDGEGATE_IMGPROXY_KEYS=zz", "EDGEGATE_IMGPROXY_SALTS=00", "EDGEGATE_IMGPROXY_SOURCE_PREFIXES=s3://b/"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "imgproxy: keys[0]: not hex") {
		t.Fatalf("Validate with a bad key: %v", err)
	}
}

// TestImgproxyOptionsRendered: gravity, focus point, rotation, DPR and
// padding from imgproxy URLs, checked on the decoded output's size and
// pixels. The source is 400×200 in four vertical stripes, red, green,
// blue, yellow from the left.
func TestImgproxyOptionsRendered(t *testing.T) {
	stripes, err := testimages.Stripes(400, 200, true, testimages.Red, testimages.Green, testimages.Blue, testimages.Yellow)
	if err != nil {
		t.Fatal(err)
	}
	key := putObject(t, "stripes.png", stripes, "image/png")
	g := startGateway(t, demoRules(t), withImages(), withImgproxy)
	src := "/plain/https://img.example.com/" + key + "@png"
	type px struct {
		x, y int
		c    color.RGBA
	}
	for _, tc := range []struct {
		name, opts string
		w, h       int
		pixels     []px
	}{
		// fill 100×100: scaled to 200×100, a 100-wide window.
		{"gravity west keeps the left", "/rs:fill:100:100/g:we", 100, 100, []px{{10, 50, testimages.Red}, {90, 50, testimages.Green}}},
		{"gravity east keeps the right", "/rs:fill:100:100/g:ea", 100, 100, []px{{10, 50, testimages.Blue}, {90, 50, testimages.Yellow}}},
		{"focus point near the right edge", "/rs:fill:100:100/g:fp:0.9:0.5", 100, 100, []px{{10, 50, testimages.Blue}, {90, 50, testimages.Yellow}}},
		{"focus point at a quarter", "/rs:fill:100:100/g:fp:0.25:0.5", 100, 100, []px{{10, 50, testimages.Red}, {90, 50, testimages.Green}}},
		// rot:90 first (the left stripe on top), then the size of the rotated image.
		{"rotate 90 then fit", "/rot:90/rs:fit:50:100", 50, 100, []px{{25, 5, testimages.Red}, {25, 95, testimages.Yellow}}},
		{"dpr 2 doubles the size", "/w:100/dpr:2", 200, 100, nil},
		{"padding around the result", "/w:100/pd:10:20/bg:ffffff", 140, 70, []px{{2, 35, color.RGBA{255, 255, 255, 255}}, {25, 35, testimages.Red}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, g.base+imgproxySign(tc.opts+src))
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %.300s", resp.StatusCode, body)
			}
			img, err := png.Decode(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("output is not a PNG: %v", err)
			}
			if b := img.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
				t.Fatalf("size %dx%d, want %dx%d", b.Dx(), b.Dy(), tc.w, tc.h)
			}
			for _, p := range tc.pixels {
				r, g, b, _ := img.At(p.x, p.y).RGBA()
				if d := max(absDiff(r>>8, uint32(p.c.R)), absDiff(g>>8, uint32(p.c.G)), absDiff(b>>8, uint32(p.c.B))); d > 40 {
					t.Errorf("pixel (%d,%d) = %d,%d,%d, want about %v", p.x, p.y, r>>8, g>>8, b>>8, p.c)
				}
			}
		})
	}
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// TestImgproxyWatermark: wm:1:soea puts the configured watermark
// (images.watermark_key) in the bottom-right corner and leaves the
// top-left alone.
func TestImgproxyWatermark(t *testing.T) {
	stripes, err := testimages.Stripes(400, 200, true, testimages.Red, testimages.Green, testimages.Blue, testimages.Yellow)
	if err != nil {
		t.Fatal(err)
	}
	logo, err := testimages.TranslucentPNG(30, 30, color.RGBA{0, 0, 0, 255}, 255)
	if err != nil {
		t.Fatal(err)
	}
	key := putObject(t, "stripes.png", stripes, "image/png")
	wm := putObject(t, "logo.png", logo, "image/png")
	g := startGateway(t, demoRules(t), withImages(func(c *ImagesConfig) { c.WatermarkKey = "global/" + wm }), withImgproxy)
	resp, body := get(t, g.base+imgproxySign("/w:200/wm:1:soea/plain/https://img.example.com/"+key+"@png"))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %.300s", resp.StatusCode, body)
	}
	img, err := png.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 200 || b.Dy() != 100 {
		t.Fatalf("size %dx%d, want 200x100", b.Dx(), b.Dy())
	}
	if r, g, b, _ := img.At(195, 95).RGBA(); r>>8 > 40 || g>>8 > 40 || b>>8 > 40 {
		t.Errorf("bottom-right pixel %d,%d,%d, want the black watermark", r>>8, g>>8, b>>8)
	}
	if r, g, b, _ := img.At(5, 5).RGBA(); absDiff(r>>8, uint32(testimages.Red.R)) > 40 || g>>8 > 60 || b>>8 > 60 {
		t.Errorf("top-left pixel %d,%d,%d, want the red stripe", r>>8, g>>8, b>>8)
	}
}
