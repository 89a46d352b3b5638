package gateway

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
	"github.com/edgegate/edgegate/internal/testimages"
	"github.com/edgegate/edgegate/resize"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const testSigningKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" // 32 bytes, hex

func withImages(mutate ...func(*ImagesConfig)) func(*Config) {
	return func(c *Config) {
		c.Images.SigningKeys = []string{testSigningKey}
		for _, m := range mutate {
			m(&c.Images)
		}
	}
}

// putObject uploads a test object under a unique key and returns the key
// relative to the global/ prefix.
func putObject(t *testing.T, name string, body []byte, contentType string) string {
	t.Helper()
	rel := fmt.Sprintf("test-img/%s-%d/%s", strings.ReplaceAll(t.Name(), "/", "_"), time.Now().UnixNano(), name)
	in := putInput(demo.Bucket, "global/"+rel, body)
	in.ContentType = &contentType
	if _, err := demo.Client(testenv.S3(t)).PutObject(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	return rel
}

func probe(t *testing.T, body []byte) resize.Info {
	t.Helper()
	info, err := resize.Probe(body)
	if err != nil {
		t.Fatalf("output is not an image: %v", err)
	}
	return info
}

func TestImagePresetsAndCache(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages())
	for _, tc := range []struct {
		preset string
		w, h   int
	}{{"thumbnail", 150, 150}, {"medium", 640, 360}, {"large", 1280, 720}} {
		t.Run(tc.preset, func(t *testing.T) {
			url := g.base + "/img/" + tc.preset + "/photos/sample.jpg"
			resp, body := get(t, url)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
				t.Fatalf("status %d type %q: %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			if info := probe(t, body); info.Width != tc.w || info.Height != tc.h || info.Format != resize.JPEG {
				t.Fatalf("got %v %dx%d, want jpeg %dx%d", info.Format, info.Width, info.Height, tc.w, tc.h)
			}
			// The demo's regions have their own prefixes, so which object
			// the key names depends on the region: found from the client's
			// address, the answer is not for shared caches; named in the
			// URL, it is.
			if resp.Header.Get("X-Cache") != "MISS" || !strings.Contains(resp.Header.Get("Vary"), "Accept") ||
				!strings.HasPrefix(resp.Header.Get("Cache-Control"), "private, max-age=") {
				t.Errorf("headers: X-Cache %q Vary %q Cache-Control %q", resp.Header.Get("X-Cache"), resp.Header.Get("Vary"), resp.Header.Get("Cache-Control"))
			}
			if named, _ := get(t, url+"?region=global"); !strings.HasPrefix(named.Header.Get("Cache-Control"), "public, max-age=") {
				t.Errorf("?region=global: Cache-Control %q, want public", named.Header.Get("Cache-Control"))
			}
			etag := resp.Header.Get("ETag")
			again, body2 := get(t, url)
			if again.Header.Get("X-Cache") != "HIT" || !bytes.Equal(body, body2) || again.Header.Get("ETag") != etag {
				t.Errorf("second request: X-Cache %q, same bytes %v, ETag %q vs %q", again.Header.Get("X-Cache"), bytes.Equal(body, body2), again.Header.Get("ETag"), etag)
			}
			nm, body3 := get(t, url, "If-None-Match", etag)
			if nm.StatusCode != http.StatusNotModified || len(body3) != 0 {
				t.Errorf("If-None-Match: status %d, %d bytes", nm.StatusCode, len(body3))
			}
		})
	}
}

func TestImageFormatNegotiation(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages())
	for _, tc := range []struct {
		name, path, accept string
		want               resize.Format
		alpha              bool
	}{
		{"webp by Accept", "/img/thumbnail/photos/sample.jpg", "image/webp,image/*", resize.WebP, false},
		{"avif by Accept", "/img/thumbnail/photos/sample.jpg", "image/avif,image/webp", resize.AVIF, false},
		{"q=0 refuses avif", "/img/thumbnail/photos/sample.jpg", "image/avif;q=0,image/webp", resize.WebP, false},
		{"explicit format wins", "/img/thumbnail/photos/sample.jpg?format=png", "image/avif", resize.PNG, false},
		{"alpha png stays png", "/img/medium/photos/alpha.png", "image/jpeg", resize.PNG, true},
		{"alpha png to webp keeps alpha", "/img/medium/photos/alpha.png", "image/webp", resize.WebP, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, g.base+tc.path, "Accept", tc.accept)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %.200s", resp.StatusCode, body)
			}
			info := probe(t, body)
			if info.Format != tc.want || resp.Header.Get("Content-Type") != tc.want.ContentType() {
				t.Fatalf("got %v (%s), want %v", info.Format, resp.Header.Get("Content-Type"), tc.want)
			}
			if tc.alpha && !info.HasAlpha {
				t.Errorf("alpha channel lost")
			}
		})
	}
}

func TestImageSignedCustomSizes(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages())
	path := "/img/300x200-cover/photos/sample.jpg"
	key, _ := resize.DecodeKeys([]string{testSigningKey})
	sig := resize.Sign(key[0], path)
	resp, body := get(t, g.base+path+"?sig="+sig)
	if resp.StatusCode != 200 {
		t.Fatalf("signed: status %d: %s", resp.StatusCode, body)
	}
	if info := probe(t, body); info.Width != 300 || info.Height != 200 {
		t.Fatalf("signed custom size: %dx%d", info.Width, info.Height)
	}
	for _, tc := range []struct {
		name, url string
		status    int
	}{
		{"unsigned", path, 403},
		{"bad signature", path + "?sig=" + strings.Repeat("A", len(sig)), 403},
		{"signature of another path", "/img/301x200-cover/photos/sample.jpg?sig=" + sig, 403},
		{"over the maximum", "/img/9000x9000/photos/sample.jpg?sig=" + resize.Sign(key[0], "/img/9000x9000/photos/sample.jpg"), 400},
		{"unknown preset", "/img/huge/photos/sample.jpg", 400},
		{"no key", "/img/thumbnail", 400},
		{"traversal", "/img/thumbnail/photos/../../secret.jpg", 400},
		{"missing source", "/img/thumbnail/photos/nope.jpg", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := rawRequest(t, g.base, "GET", tc.url)
			if resp.StatusCode != tc.status || !bytes.Contains(body, []byte(`"error"`)) {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
		})
	}
}

func TestImageBadSources(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages(func(c *ImagesConfig) { c.MaxSourceBytes = 2 << 20 }))
	jpg, _ := demo.SampleJPEG(1920, 1080)
	big := append(append([]byte{}, jpg...), make([]byte, 3<<20)...)
	for _, tc := range []struct {
		name, ctype string
		body        []byte
		status      int
	}{
		{"corrupt", "image/jpeg", []byte("this is not an image at all, just text"), 415},
		{"truncated header", "image/jpeg", jpg[:20], 422},
		{"bomb", "image/png", testimages.BombPNG(30000, 30000), 422},
		{"over the byte limit", "image/jpeg", big, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := putObject(t, "src.bin", tc.body, tc.ctype)
			start := time.Now()
			resp, body := get(t, g.base+"/img/thumbnail/"+key)
			if resp.StatusCode != tc.status || !bytes.Contains(body, []byte(`"error"`)) {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.name == "bomb" && time.Since(start) > 2*time.Second {
				t.Errorf("bomb took %s to reject", time.Since(start))
			}
		})
	}
	// One bad image does not affect others.
	if resp, _ := get(t, g.base+"/img/thumbnail/photos/sample.jpg"); resp.StatusCode != 200 {
		t.Fatalf("good image after bad ones: %d", resp.StatusCode)
	}
}

// Two gateways on one bucket: the second serves the first's variant from
// S3 without rendering it, for a client taking WebP and for one taking
// only what the source is (a JPEG source has no alpha: its format is
// known before the download, as the stored copy's key needs).
func TestImageWriteBackSharedAcrossGateways(t *testing.T) {
	for _, tc := range []struct{ name, accept, ext string }{
		{"webp client", "image/webp", ".webp"},
		{"old client", "", ".jpg"},
	} {
		t.Run(tc.name, func(t *testing.T) { testWriteBackShared(t, tc.accept, tc.ext) })
	}
}

func testWriteBackShared(t *testing.T, accept, ext string) {
	jpg, _ := demo.SampleJPEG(1600, 900)
	key := putObject(t, "shared.jpg", jpg, "image/jpeg")
	store := withImages(func(c *ImagesConfig) { c.StoreVariants = true })
	a := startGateway(t, demoRules(t), store)
	resp, body := get(t, a.base+"/img/medium/"+key, "Accept", accept)
	if resp.StatusCode != 200 || resp.Header.Get("X-Cache") != "MISS" {
		t.Fatalf("gateway A: %d %q", resp.StatusCode, resp.Header.Get("X-Cache"))
	}
	stored := "medium/global/" + key + ext
	c := demo.Client(testenv.S3(t))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := c.HeadObject(context.Background(), headInput(demo.Bucket, stored)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("variant %s not written back within 10s", stored)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b := startGateway(t, demoRules(t), store)
	resp2, body2 := get(t, b.base+"/img/medium/"+key, "Accept", accept)
	if resp2.StatusCode != 200 || resp2.Header.Get("X-Cache") != "STORED" || !bytes.Equal(body, body2) {
		t.Fatalf("gateway B: %d X-Cache %q same bytes %v", resp2.StatusCode, resp2.Header.Get("X-Cache"), bytes.Equal(body, body2))
	}
	if n := testutil.ToFloat64(b.srv.metrics.imagesRendered); n != 0 {
		t.Fatalf("gateway B rendered %v images, want 0", n)
	}
	if resp2.Header.Get("ETag") != resp.Header.Get("ETag") {
		t.Errorf("ETags differ across gateways: %q vs %q", resp.Header.Get("ETag"), resp2.Header.Get("ETag"))
	}
}

// A flood beyond the megapixel budget and the queue gets 429s with
// Retry-After, never 5xx.
func TestImageAdmissionFlood(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages(func(c *ImagesConfig) {
		c.BudgetMegapixels = 3 // one 1920×1080 decode at a time
		c.MaxQueue = 1
		c.MaxWait = 50 * time.Millisecond
	}))
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	retryAfter := ""
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Distinct custom sizes: no two requests share a render.
			path := fmt.Sprintf("/img/%dx0/photos/sample.jpg", 1000+i)
			key, _ := resize.DecodeKeys([]string{testSigningKey})
			resp, _ := get(t, g.base+path+"?sig="+resize.Sign(key[0], path), "Accept", "image/avif")
			mu.Lock()
			statuses[resp.StatusCode]++
			if resp.StatusCode == 429 {
				retryAfter = resp.Header.Get("Retry-After")
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[429] == 0 || statuses[200] == 0 || statuses[200]+statuses[429] != 12 {
		t.Fatalf("statuses %v: want some 200 and some 429, nothing else", statuses)
	}
	if retryAfter == "" {
		t.Error("429 without Retry-After")
	}
}

// A source replaced after its HEAD was cached: the render describes the
// version it read, is not cached under the old version's key, and the
// existence cache learns the new version, so the next request keys by it.
func TestImageSourceReplacedAfterHEAD(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages())
	v1, _ := demo.SampleJPEG(800, 600)
	rel := putObject(t, "replaced.jpg", v1, "image/jpeg")
	resp, _ := get(t, g.base+"/img/thumbnail/"+rel) // caches v1's HEAD
	if resp.StatusCode != 200 {
		t.Fatalf("thumbnail of v1: %d", resp.StatusCode)
	}
	old, ok := g.srv.heads.cached(demo.Bucket, "global/"+rel)
	if !ok {
		t.Fatal("v1's HEAD is not cached")
	}
	// No Accept: a JPEG stays JPEG, known before the probe (keyVariant).
	thumbKey := variantKey{bucket: demo.Bucket, key: "global/" + rel, etag: old.ETag, spec: "thumbnail", format: resize.JPEG, formatKnown: true}
	if _, ok := g.srv.variants.Get(thumbKey); !ok {
		t.Fatal("v1's thumbnail is not cached under its key: the key below would prove nothing")
	}
	v2, _ := demo.SampleJPEG(1200, 300) // another shape: another ETag
	in := putInput(demo.Bucket, "global/"+rel, v2)
	in.ContentType = strPtr("image/jpeg")
	if _, err := demo.Client(testenv.S3(t)).PutObject(context.Background(), in); err != nil {
		t.Fatal(err)
	}

	resp, body := get(t, g.base+"/img/medium/"+rel) // the HEAD cache still says v1
	if resp.StatusCode != 200 || resp.Header.Get("X-Cache") != "MISS" {
		t.Fatalf("medium after the replace: %d X-Cache %q", resp.StatusCode, resp.Header.Get("X-Cache"))
	}
	if info := probe(t, body); info.Width != 640 || info.Height != 160 {
		t.Fatalf("medium is %dx%d, want 640x160 (rendered from v2)", info.Width, info.Height)
	}
	oldKey := variantKey{bucket: demo.Bucket, key: "global/" + rel, etag: old.ETag, spec: "medium", format: resize.JPEG, formatKnown: true}
	if v, ok := g.srv.variants.Get(oldKey); ok {
		t.Errorf("v2's render (ETag %s) is cached under v1's key", v.etag)
	}
	waitFor(t, 10*time.Second, "the existence cache to learn v2", func() bool {
		m, ok := g.srv.heads.cached(demo.Bucket, "global/"+rel)
		return ok && m.ETag != old.ETag
	})
	again, body2 := get(t, g.base+"/img/medium/"+rel)
	if again.Header.Get("ETag") != resp.Header.Get("ETag") || !bytes.Equal(body, body2) {
		t.Errorf("the next request: ETag %q, want %q (v2's variant)", again.Header.Get("ETag"), resp.Header.Get("ETag"))
	}
}

// A 405 from /img/ names the methods it allows, as /r/ does.
func TestImageMethodNotAllowedHasAllow(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages())
	for _, path := range []string{"/img/thumbnail/photos/sample.jpg", "/r/map-tiles.zip"} {
		req, _ := http.NewRequest(http.MethodPost, g.base+path, strings.NewReader("x"))
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST %s: %d, Allow %q; want 405 with Allow: GET, HEAD", path, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
}
