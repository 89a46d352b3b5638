package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
	"github.com/edgegate/edgegate/internal/testimages"
	"github.com/edgegate/edgegate/resize"
)

// signedImg signs /img/{spec}/{rel} with the test key and adds query.
func signedImg(t *testing.T, spec, rel, query string) string {
	t.Helper()
	key, err := resize.DecodeKeys([]string{testSigningKey})
	if err != nil {
		t.Fatal(err)
	}
	path := "/img/" + spec + "/" + rel
	u := path + "?sig=" + resize.Sign(key[0], path)
	if query != "" {
		u += "&" + query
	}
	return u
}

func decodePNG(t *testing.T, body []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("not a PNG: %v (%.100q)", err, body)
	}
	return img
}

func closeTo(c color.Color, want color.RGBA) bool {
	r, g, b, _ := c.RGBA()
	d := func(x uint32, y uint8) int { v := int(x>>8) - int(y); return v * v }
	return d(r, want.R)+d(g, want.G)+d(b, want.B) < 3*30*30
}

// mustImage returns a generated fixture or panics: generators fail only
// when the environment is broken.
func mustImage(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestImageWatermarkEndToEnd: a watermark object in the source's bucket,
// composited at south-east with opacity 1, changes the bottom-right pixels
// and not the top-left ones; replacing it re-renders (its ETag is in the
// variant key); a missing one is a 422 naming it.
func TestImageWatermarkEndToEnd(t *testing.T) {
	src := mustImage(testimages.Stripes(400, 200, true, testimages.Green))
	redMark := mustImage(testimages.TranslucentPNG(40, 40, testimages.Red, 255))
	blueMark := mustImage(testimages.TranslucentPNG(40, 40, testimages.Blue, 255))
	rel := putObject(t, "src.png", src, "image/png")
	markRel := putObject(t, "logo.png", redMark, "image/png")
	markKey := "global/" + markRel
	g := startGateway(t, demoRules(t), withImages(func(c *ImagesConfig) { c.WatermarkKey = markKey }),
		func(c *Config) { c.Exists.TTL = 200 * time.Millisecond })

	wmk := base64.RawURLEncoding.EncodeToString([]byte(markKey))
	check := func(t *testing.T, url string, corner color.RGBA) *http.Response {
		t.Helper()
		resp, body := get(t, g.base+url)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d: %s", url, resp.StatusCode, body)
		}
		img := decodePNG(t, body)
		if b := img.Bounds(); b.Dx() != 400 || b.Dy() != 200 {
			t.Fatalf("size %dx%d, want 400x200", b.Dx(), b.Dy())
		}
		for _, p := range [][2]int{{395, 195}, {365, 165}} {
			if c := img.At(p[0], p[1]); !closeTo(c, corner) {
				t.Errorf("bottom-right pixel %v = %v, want the watermark's %v", p, c, corner)
			}
		}
		for _, p := range [][2]int{{5, 5}, {200, 100}, {355, 195}} {
			if c := img.At(p[0], p[1]); !closeTo(c, testimages.Green) {
				t.Errorf("pixel %v = %v, want the source's green", p, c)
			}
		}
		return resp
	}

	t.Run("named by wmk", func(t *testing.T) {
		check(t, signedImg(t, "400x200,wm:1:soea,wmk:"+wmk, rel, "format=png"), testimages.Red)
	})
	t.Run("the configured default", func(t *testing.T) {
		check(t, signedImg(t, "400x200,wm:1:soea", rel, "format=png"), testimages.Red)
	})
	t.Run("another spelling shares the variant", func(t *testing.T) {
		resp := check(t, signedImg(t, "400x200-inside,wm:1.0:soea:0:0", rel, "format=png"), testimages.Red)
		if resp.Header.Get("X-Cache") != "HIT" {
			t.Errorf("X-Cache %q, want HIT: 400x200-inside,wm:1.0:soea:0:0 is 400x200,wm:1:soea", resp.Header.Get("X-Cache"))
		}
	})
	t.Run("replacing the watermark re-renders", func(t *testing.T) {
		putKey(t, markKey, blueMark, "image/png")
		waitFor(t, 5*time.Second, "the new watermark", func() bool {
			resp, body := get(t, g.base+signedImg(t, "400x200,wm:1:soea", rel, "format=png"))
			return resp.StatusCode == 200 && closeTo(decodePNG(t, body).At(395, 195), testimages.Blue)
		})
		check(t, signedImg(t, "400x200,wm:1:soea", rel, "format=png"), testimages.Blue)
	})
	t.Run("missing watermark is a 422 naming it", func(t *testing.T) {
		missing := base64.RawURLEncoding.EncodeToString([]byte("global/no/such-logo.png"))
		resp, body := get(t, g.base+signedImg(t, "400x200,wm:1,wmk:"+missing, rel, ""))
		if resp.StatusCode != 422 || !bytes.Contains(body, []byte(`"error"`)) || !bytes.Contains(body, []byte("no/such-logo.png")) {
			t.Fatalf("status %d: %s; want a 422 naming the watermark", resp.StatusCode, body)
		}
	})
	t.Run("a watermark that is not an image is a 422", func(t *testing.T) {
		junk := putObject(t, "junk.png", []byte("not an image at all"), "image/png")
		k := base64.RawURLEncoding.EncodeToString([]byte("global/" + junk))
		resp, body := get(t, g.base+signedImg(t, "400x200,wm:1,wmk:"+k, rel, ""))
		if resp.StatusCode != 422 || !bytes.Contains(body, []byte("junk.png")) {
			t.Fatalf("status %d: %s; want a 422 naming the watermark", resp.StatusCode, body)
		}
	})
}

// TestImageOptionsOnTheImgPath: /img/ takes options signed, answers 400
// naming a bad option and 403 for unsigned options (a preset's too), and
// keys variants by the canonical spec.
func TestImageOptionsOnTheImgPath(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages())
	src := mustImage(testimages.Stripes(800, 200, true, testimages.Red, testimages.Green, testimages.Blue, testimages.Yellow))
	rel := putObject(t, "stripes.png", src, "image/png")

	resp, body := get(t, g.base+signedImg(t, "100x100-cover,g:fp:0.9:0.5,q:70", rel, "format=png"))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if c := decodePNG(t, body).At(50, 50); !closeTo(c, testimages.Yellow) {
		t.Errorf("focus point at x 0.9: centre pixel %v, want yellow", c)
	}
	resp, _ = get(t, g.base+signedImg(t, "100x100-cover,q:70,g:fp:0.90:0.5", rel, "format=png"))
	if resp.StatusCode != 200 || resp.Header.Get("X-Cache") != "HIT" {
		t.Errorf("equivalent spelling: status %d X-Cache %q, want a HIT", resp.StatusCode, resp.Header.Get("X-Cache"))
	}
	for _, tc := range []struct {
		name, url string
		status    int
		msg       string
	}{
		{"bad option", signedImg(t, "300x200,bl:500", rel, ""), 400, "option bl: sigma 500 out of range 0.3–100"},
		{"unknown option", signedImg(t, "300x200,zz:1", rel, ""), 400, "option zz: unknown option"},
		{"unsigned options", "/img/300x200,bl:2/" + rel, 403, "signature"},
		{"unsigned preset with options", "/img/thumbnail,q:60/" + rel, 403, "signature"},
		{"preset restated stays a preset", "/img/thumbnail,g:ce/" + rel, 200, ""},
		{"wm without a configured key", signedImg(t, "300x200,wm:1", rel, ""), 400, "images.watermark_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, g.base+tc.url)
			if resp.StatusCode != tc.status || tc.msg != "" && !strings.Contains(string(body), tc.msg) {
				t.Fatalf("status %d: %s; want %d with %q", resp.StatusCode, body, tc.status, tc.msg)
			}
		})
	}
}

// putKey uploads body under an exact key of the demo bucket.
func putKey(t *testing.T, key string, body []byte, contentType string) {
	t.Helper()
	in := putInput(demo.Bucket, key, body)
	in.ContentType = &contentType
	if _, err := demo.Client(testenv.S3(t)).PutObject(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}

// TestImageWatermarkPreset: a preset's watermark (config) needs no
// signature and uses images.watermark_key.
func TestImageWatermarkPreset(t *testing.T) {
	src := mustImage(testimages.Stripes(300, 300, true, testimages.Green))
	rel := putObject(t, "src.png", src, "image/png")
	markKey := "global/" + putObject(t, "logo.png", mustImage(testimages.TranslucentPNG(30, 30, testimages.Red, 255)), "image/png")
	g := startGateway(t, demoRules(t), withImages(func(c *ImagesConfig) {
		c.WatermarkKey = markKey
		c.Presets = map[string]resize.Preset{"branded": {Width: 200, Height: 200, Fit: resize.FitCover,
			Watermark: resize.PresetWatermark{Opacity: 1, Position: "nowe", OffsetX: 5, OffsetY: 5}}}
	}))
	resp, body := get(t, g.base+"/img/branded/"+rel+"?format=png")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	img := decodePNG(t, body)
	if b := img.Bounds(); b.Dx() != 200 || b.Dy() != 200 {
		t.Fatalf("size %dx%d", b.Dx(), b.Dy())
	}
	for p, want := range map[[2]int]color.RGBA{{20, 20}: testimages.Red, {2, 2}: testimages.Green, {195, 195}: testimages.Green} {
		if c := img.At(p[0], p[1]); !closeTo(c, want) {
			t.Errorf("pixel %v = %v, want %v", p, c, want)
		}
	}
}
