package gateway

import (
	"context"
	"encoding/binary"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
	"github.com/edgegate/edgegate/resize"
)

// policyRules gives regions reached by ?region= different image policies
// over the same source (global/photos/sample.jpg, 1920×1080).
const policyRules = `default_region: global
regions:
  slow:      {prefix: global/, image: {quality: 40}}
  noavif:    {prefix: global/, image: {formats: [webp, jpeg]}}
  jpegfirst: {prefix: global/, image: {formats: [jpeg, webp]}}
  hints:     {prefix: global/, image: {client_hints: on, max_dpr: 2}}
  frugal:    {prefix: global/, image: {client_hints: on, save_data: ignore}}
  global:    {prefix: global/}
routes:
  - {name: assets, match: "**", bucket: edge-demo, delivery: presign, ttl: 15m}
`

// jpegQuality estimates the quality a JPEG was encoded with from its
// luminance quantisation table: the libjpeg quality (1–100) whose scaled
// standard table (what libvips writes through libjpeg) is nearest.
func jpegQuality(t *testing.T, b []byte) int {
	t.Helper()
	// The standard luminance table (JPEG Annex K), in zigzag order as DQT
	// stores it.
	std := [64]int{16, 11, 12, 14, 12, 10, 16, 14, 13, 14, 18, 17, 16, 19, 24, 40, 26, 24, 22, 22, 24, 49, 35, 37, 29, 40, 58, 51, 61, 60, 57, 51,
		56, 55, 64, 72, 92, 78, 64, 68, 87, 69, 55, 56, 80, 109, 81, 87, 95, 98, 103, 104, 103, 62, 77, 113, 121, 112, 100, 120, 92, 101, 103, 99}
	var table []int
	for i := 2; i+4 <= len(b) && table == nil; {
		if b[i] != 0xFF {
			t.Fatalf("jpeg: no marker at %d", i)
		}
		marker, n := b[i+1], int(binary.BigEndian.Uint16(b[i+2:]))
		if marker == 0xDB { // DQT: tables of 1 + 64 (8-bit) or 1 + 128 bytes
			for seg := b[i+4 : i+2+n]; len(seg) > 0; {
				id, wide := seg[0]&0x0F, seg[0]>>4 == 1
				size := 64
				if wide {
					size = 128
				}
				if id == 0 {
					for k := 0; k < 64; k++ {
						if wide {
							table = append(table, int(binary.BigEndian.Uint16(seg[1+2*k:])))
						} else {
							table = append(table, int(seg[1+k]))
						}
					}
					break
				}
				seg = seg[1+size:]
			}
		}
		i += 2 + n
	}
	if table == nil {
		t.Fatal("jpeg: no luminance quantisation table")
	}
	best, bestDiff := 0, 1<<30
	for q := 1; q <= 100; q++ {
		scale := 200 - 2*q
		if q < 50 {
			scale = 5000 / q
		}
		diff := 0
		for k, v := range std {
			s := min(max((v*scale+50)/100, 1), 255)
			diff += max(s-table[k], table[k]-s)
		}
		if diff < bestDiff {
			best, bestDiff = q, diff
		}
	}
	return best
}

func TestImagePolicyRegionQuality(t *testing.T) {
	g := startGateway(t, []byte(policyRules), withImages(func(c *ImagesConfig) { c.StoreVariants = true }))
	url := g.base + "/img/medium/photos/sample.jpg?region="
	def, defBody := get(t, url+"global")
	slow, slowBody := get(t, url+"slow")
	for _, r := range []struct {
		name string
		body []byte
	}{{"global", defBody}, {"slow", slowBody}} {
		if info := probe(t, r.body); info.Format != resize.JPEG || info.Width != 640 || info.Height != 360 {
			t.Fatalf("%s: %v %dx%d, want jpeg 640x360", r.name, info.Format, info.Width, info.Height)
		}
	}
	if q := jpegQuality(t, defBody); q != 82 {
		t.Errorf("global: quality %d, want images.quality.jpeg 82", q)
	}
	if q := jpegQuality(t, slowBody); q != 40 {
		t.Errorf("slow: quality %d, want the region's 40", q)
	}
	// The same render at quality 40 instead of 82: fewer bytes.
	if len(slowBody) >= len(defBody) {
		t.Errorf("slow: %d bytes, not fewer than global's %d", len(slowBody), len(defBody))
	}
	if def.Header.Get("ETag") == slow.Header.Get("ETag") {
		t.Error("global and slow answers share an ETag")
	}
	if v := slow.Header.Get("Vary"); v != "Accept" || slow.Header.Get("Accept-CH") != "" {
		t.Errorf("slow: Vary %q Accept-CH %q, want Accept and none (client hints off)", v, slow.Header.Get("Accept-CH"))
	}
	// The regions' policies differ: an answer for the region in the URL may
	// be shared, one for the region found from the client's address not.
	if cc := slow.Header.Get("Cache-Control"); cc != "public, max-age=86400" {
		t.Errorf("?region=slow: Cache-Control %q, want public", cc)
	}
	if byIP, _ := get(t, g.base+"/img/medium/photos/sample.jpg"); byIP.Header.Get("Cache-Control") != "private, max-age=86400" {
		t.Errorf("default region: Cache-Control %q, want private", byIP.Header.Get("Cache-Control"))
	}
	// Written back under the transform it is (a custom spec), not the
	// preset's folder, where the plain medium rendering goes.
	spec := resize.Transform{Width: 640, Fit: resize.FitInside, Quality: 40}.Spec()
	client := demo.Client(testenv.S3(t))
	for _, key := range []string{"custom/" + spec + "/global/photos/sample.jpg.jpg", "medium/global/photos/sample.jpg.jpg"} {
		waitFor(t, 10*time.Second, "write-back of "+key, func() bool {
			_, err := client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(demo.Bucket), Key: aws.String(key)})
			return err == nil
		})
	}

	// explain shows the policy applied and where it came from.
	ex, err := g.srv.Explain(context.Background(), ExplainRequest{Key: "photos/sample.jpg", Region: "slow"})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Image == nil || ex.Image.Quality["jpeg"] != 40 || ex.Image.QualityFrom["jpeg"] != "region slow" ||
		ex.Image.ClientHints != "off" || ex.Image.SaveData != "lighter" || ex.Image.MaxDPR != 4 || !ex.Image.VariesByRegion {
		t.Errorf("explain image policy: %+v", ex.Image)
	}
	if ex, _ := g.srv.Explain(context.Background(), ExplainRequest{Key: "photos/sample.jpg", Region: "global"}); ex.Image == nil ||
		ex.Image.Quality != nil || !ex.Image.VariesByRegion {
		t.Errorf("explain for a region without a policy, whose answer varies by region: %+v", ex.Image)
	}

	// Hot reload carries the policy: slow becomes quality 70.
	if err := os.WriteFile(g.rules, []byte(strings.Replace(policyRules, "quality: 40", "quality: 70", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := g.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	_, body := get(t, url+"slow")
	if q := jpegQuality(t, body); q != 70 {
		t.Errorf("after reload: quality %d, want 70", q)
	}
}

func TestImagePolicyPreferredFormats(t *testing.T) {
	g := startGateway(t, []byte(policyRules), withImages())
	for _, c := range []struct {
		region, path, accept string
		want                 resize.Format
	}{
		{"global", "/img/thumbnail/photos/sample.jpg", "image/avif,image/webp", resize.AVIF},
		{"noavif", "/img/thumbnail/photos/sample.jpg", "image/avif,image/webp", resize.WebP},
		{"noavif", "/img/thumbnail/photos/sample.jpg", "image/avif", resize.JPEG}, // AVIF is never chosen there
		{"jpegfirst", "/img/thumbnail/photos/sample.jpg", "image/avif,image/webp", resize.JPEG},
		{"jpegfirst", "/img/medium/photos/alpha.png", "image/webp", resize.WebP}, // alpha: not JPEG
		{"noavif", "/img/thumbnail/photos/sample.jpg?format=avif", "image/webp", resize.AVIF},
	} {
		t.Run(c.region+" "+c.path+" "+c.accept, func(t *testing.T) {
			sep := "?"
			if strings.Contains(c.path, "?") {
				sep = "&"
			}
			resp, body := get(t, g.base+c.path+sep+"region="+c.region, "Accept", c.accept)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %.200s", resp.StatusCode, body)
			}
			info := probe(t, body)
			if info.Format != c.want || resp.Header.Get("Content-Type") != c.want.ContentType() {
				t.Fatalf("got %v (%s), want %v", info.Format, resp.Header.Get("Content-Type"), c.want)
			}
			if strings.Contains(c.path, "alpha") && !info.HasAlpha {
				t.Error("alpha lost")
			}
		})
	}
	ex, err := g.srv.Explain(context.Background(), ExplainRequest{Key: "photos/sample.jpg", Region: "noavif"})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Image == nil || strings.Join(ex.Image.Formats, ",") != "webp,jpeg" || ex.Image.FormatsFrom != "region noavif" {
		t.Errorf("explain image policy: %+v", ex.Image)
	}
}

func TestImageClientHints(t *testing.T) {
	g := startGateway(t, []byte(policyRules), withImages(func(c *ImagesConfig) {
		c.Presets["tall"] = resize.Preset{Height: 300, Fit: resize.FitInside}
		c.Presets["high"] = resize.Preset{Height: 2000, Fit: resize.FitInside}
	}))
	const medium = "/img/medium/photos/sample.jpg?region="
	for _, c := range []struct {
		name, url      string
		headers        []string
		w, h, quality  int
		vary, acceptCH string
	}{
		{"hints off in global", medium + "global", []string{"Sec-CH-DPR", "2"}, 640, 360, 82, "Accept", ""},
		{"no hint", medium + "hints", nil, 640, 360, 82,
			"Accept, Sec-CH-DPR, DPR, Save-Data", "Sec-CH-DPR, Sec-CH-Width, Save-Data"},
		{"DPR 2 doubles the size", medium + "hints", []string{"Sec-CH-DPR", "2"}, 1280, 720, 82,
			"Accept, Sec-CH-DPR, DPR, Save-Data", "Sec-CH-DPR, Sec-CH-Width, Save-Data"},
		{"legacy DPR", medium + "hints", []string{"DPR", "2"}, 1280, 720, 82,
			"Accept, Sec-CH-DPR, DPR, Save-Data", "Sec-CH-DPR, Sec-CH-Width, Save-Data"},
		{"DPR 3 capped by max_dpr 2", medium + "hints", []string{"Sec-CH-DPR", "3"}, 1280, 720, 82,
			"Accept, Sec-CH-DPR, DPR, Save-Data", "Sec-CH-DPR, Sec-CH-Width, Save-Data"},
		{"bad DPR ignored", medium + "hints", []string{"Sec-CH-DPR", "two"}, 640, 360, 82,
			"Accept, Sec-CH-DPR, DPR, Save-Data", "Sec-CH-DPR, Sec-CH-Width, Save-Data"},
		{"Save-Data: DPR 1, lower quality", medium + "hints", []string{"Sec-CH-DPR", "2", "Save-Data", "on"}, 640, 360, 54,
			"Accept, Sec-CH-DPR, DPR, Save-Data", "Sec-CH-DPR, Sec-CH-Width, Save-Data"},
		{"Save-Data ignored by the region", medium + "frugal", []string{"Save-Data", "on"}, 640, 360, 82,
			"Accept, Sec-CH-DPR, DPR", "Sec-CH-DPR, Sec-CH-Width"},
		{"width picks an open width", "/img/tall/photos/sample.jpg?region=hints", []string{"Sec-CH-Width", "250"}, 300, 169, 82,
			"Accept, Sec-CH-DPR, DPR, Sec-CH-Width, Width, Save-Data", "Sec-CH-DPR, Sec-CH-Width, Save-Data"},
		{"width in device pixels with DPR 2", "/img/tall/photos/sample.jpg?region=hints", []string{"Sec-CH-Width", "800", "Sec-CH-DPR", "2"}, 800, 450, 82,
			"Accept, Sec-CH-DPR, DPR, Sec-CH-Width, Width, Save-Data", "Sec-CH-DPR, Sec-CH-Width, Save-Data"},
		{"width bounded by the height", "/img/tall/photos/sample.jpg?region=hints", []string{"Width", "3000"}, 533, 300, 82,
			"Accept, Sec-CH-DPR, DPR, Sec-CH-Width, Width, Save-Data", "Sec-CH-DPR, Sec-CH-Width, Save-Data"},
		{"width never over the source", "/img/high/photos/sample.jpg?region=hints", []string{"Width", "3000"}, 1920, 1080, 82,
			"Accept, Sec-CH-DPR, DPR, Sec-CH-Width, Width, Save-Data", "Sec-CH-DPR, Sec-CH-Width, Save-Data"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := get(t, g.base+c.url, c.headers...)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %.200s", resp.StatusCode, body)
			}
			info := probe(t, body)
			if info.Format != resize.JPEG || info.Width != c.w || info.Height != c.h {
				t.Errorf("got %v %dx%d, want jpeg %dx%d", info.Format, info.Width, info.Height, c.w, c.h)
			}
			if q := jpegQuality(t, body); q != c.quality {
				t.Errorf("quality %d, want %d", q, c.quality)
			}
			if v := resp.Header.Get("Vary"); v != c.vary {
				t.Errorf("Vary %q, want %q", v, c.vary)
			}
			if v := resp.Header.Get("Accept-CH"); v != c.acceptCH {
				t.Errorf("Accept-CH %q, want %q", v, c.acceptCH)
			}
			if resp.Header.Get("Critical-CH") != "" {
				t.Error("Critical-CH sent")
			}
		})
	}
	// DPR 3 capped to 2 is the DPR 2 variant: one cache entry, one ETag.
	a, _ := get(t, g.base+medium+"hints", "Sec-CH-DPR", "2")
	b, _ := get(t, g.base+medium+"hints", "Sec-CH-DPR", "3")
	if a.Header.Get("ETag") != b.Header.Get("ETag") || b.Header.Get("X-Cache") != "HIT" {
		t.Errorf("DPR 3 (capped to 2): ETag %q vs %q, X-Cache %q", b.Header.Get("ETag"), a.Header.Get("ETag"), b.Header.Get("X-Cache"))
	}
	ex, err := g.srv.Explain(context.Background(), ExplainRequest{Key: "photos/sample.jpg", Region: "hints",
		Headers: []string{"Sec-CH-DPR: 2.6", "Save-Data: on"}})
	if err != nil {
		t.Fatal(err)
	}
	if e := ex.Image; e == nil || e.ClientHints != "on" || e.ClientHintsFrom != "region hints" || e.MaxDPR != 2 ||
		e.Hints == nil || e.Hints.DPR != 2.5 || !e.Hints.SaveData || !e.Hints.Lighter {
		t.Errorf("explain: %+v %+v", ex.Image, ex.Image.Hints)
	}
}
