package gateway

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
	"github.com/edgegate/edgegate/internal/testimages"
	"github.com/edgegate/edgegate/resize"
)

// Eager renders (upload events) key their variants as /img/ requests do,
// so that the requests find them: "original" is the source's own format
// (an animated WebP stays an animated WebP, not a GIF), formats that come
// to the same variant render once, a watermarked preset carries its
// watermark's version (a duplicate event renders nothing), and the
// gateway that rendered answers the next request from memory.
func TestEagerRendersKeyAsRequests(t *testing.T) {
	in, err := loadInputImages()
	if err != nil {
		t.Fatal(err)
	}
	s3c := demo.Client(testenv.S3(t))
	stored := func(t *testing.T, key string) []byte {
		t.Helper()
		out, err := s3c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(demo.Bucket), Key: aws.String(key)})
		if err != nil {
			return nil
		}
		defer out.Body.Close()
		b, err := io.ReadAll(out.Body)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rendered := func(g *testGateway) float64 { return testutil.ToFloat64(g.srv.metrics.imagesRendered) }
	upload := func(t *testing.T, g *testGateway, key string) {
		t.Helper()
		if err := g.srv.renderUpload(context.Background(), eventJob{bucket: demo.Bucket, key: key}); err != nil {
			t.Fatalf("renderUpload(%s): %v", key, err)
		}
	}

	t.Run("animated webp, original and webp", func(t *testing.T) {
		rel := putObject(t, "anim.webp", in.webp, "image/webp")
		g := startGateway(t, demoRules(t), withImages(func(c *ImagesConfig) { c.StoreVariants = true }), func(c *Config) {
			c.Events.Presets = []string{"thumbnail"}
			c.Events.Formats = []string{"original", "webp"}
		})
		upload(t, g, "global/"+rel)
		if n := rendered(g); n != 1 {
			t.Errorf("rendered %v variants; original and webp of a WebP are one", n)
		}
		if b := stored(t, "thumbnails/global/"+rel+".gif"); b != nil {
			t.Errorf("a GIF was stored for the WebP's original format")
		}
		b := stored(t, "thumbnails/global/"+rel+".webp")
		if b == nil {
			t.Fatal("no WebP stored")
		}
		if w, h, n, err := resize.Frames(b); err != nil || w != 150 || h != 150 || n != 12 || probe(t, b).Format != resize.WebP {
			t.Fatalf("stored %dx%d, %d frames (%v); want a 150x150 WebP of 12", w, h, n, err)
		}
		resp, _ := get(t, g.base+"/img/thumbnail/"+rel, "Accept", "image/webp")
		if resp.StatusCode != 200 || resp.Header.Get("X-Cache") != "HIT" {
			t.Fatalf("request after the event: %d X-Cache %q, want the eager render from memory (HIT)", resp.StatusCode, resp.Header.Get("X-Cache"))
		}
		if n := rendered(g); n != 1 {
			t.Errorf("rendered %v, want still 1", n)
		}
	})

	t.Run("region image policy", func(t *testing.T) {
		// Egypt's images at quality 60: requests from egypt and from the
		// cities falling back to it are served with that policy, so the
		// upload's eager render must be that variant, found in S3 by
		// another gateway.
		egypt := "  egypt:            {country: EG,                   prefix: egypt/,            fallback: global}"
		rulesYAML := string(demoRules(t))
		if !strings.Contains(rulesYAML, egypt) {
			t.Fatalf("examples/rules.yaml has no line %q", egypt)
		}
		rulesYAML = strings.Replace(rulesYAML, egypt, strings.TrimSuffix(egypt, "}")+", image: {quality: 60}}", 1)
		jpg, _ := demo.SampleJPEG(800, 600)
		rel := fmt.Sprintf("test-img/%s-%d/photo.jpg", strings.ReplaceAll(t.Name(), "/", "_"), time.Now().UnixNano())
		in := putInput(demo.Bucket, "egypt/"+rel, jpg)
		in.ContentType = aws.String("image/jpeg")
		if _, err := s3c.PutObject(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		cfg := []func(*Config){withImages(func(c *ImagesConfig) { c.StoreVariants = true }), func(c *Config) {
			c.Events.Presets = []string{"thumbnail"}
			c.Events.Formats = []string{"webp"}
		}}
		a := startGateway(t, []byte(rulesYAML), cfg...)
		upload(t, a, "egypt/"+rel)
		if n := rendered(a); n != 1 {
			t.Errorf("rendered %v variants; egypt, egypt-cairo and egypt-alexandria share one policy", n)
		}
		b := startGateway(t, []byte(rulesYAML), cfg...)
		// Cairo's first: from S3; then egypt's, the same variant, from memory.
		for _, tc := range []struct{ region, xcache string }{{"egypt-cairo", "STORED"}, {"egypt", "HIT"}} {
			region := tc.region
			resp, body := get(t, b.base+"/img/thumbnail/"+rel+"?region="+region, "Accept", "image/webp")
			if resp.StatusCode != 200 || resp.Header.Get("X-Cache") != tc.xcache {
				t.Errorf("?region=%s: %d X-Cache %q, want %s", region, resp.StatusCode, resp.Header.Get("X-Cache"), tc.xcache)
			}
			if info := probe(t, body); info.Format != resize.WebP || info.Width != 150 {
				t.Errorf("?region=%s: %v %dx%d", region, info.Format, info.Width, info.Height)
			}
		}
		if n := rendered(b); n != 0 {
			t.Errorf("the second gateway rendered %v, want 0", n)
		}
	})

	t.Run("watermarked preset, duplicate event", func(t *testing.T) {
		mark := mustImage(testimages.TranslucentPNG(30, 30, testimages.Red, 255))
		markRel := putObject(t, "logo.png", mark, "image/png")
		jpg, _ := demo.SampleJPEG(800, 600)
		rel := putObject(t, "photo.jpg", jpg, "image/jpeg")
		g := startGateway(t, demoRules(t), withImages(func(c *ImagesConfig) {
			c.StoreVariants = true
			c.WatermarkKey = "global/" + markRel
			c.Presets = map[string]resize.Preset{"marked": {Width: 200, Fit: resize.FitInside, Folder: "marked/",
				Watermark: resize.PresetWatermark{Opacity: 1, Position: "soea"}}}
		}))
		upload(t, g, "global/"+rel)
		upload(t, g, "global/"+rel) // delivered twice
		if n := rendered(g); n != 1 {
			t.Errorf("rendered %v times for one upload delivered twice, want 1", n)
		}
		if stored(t, "marked/global/"+rel+".jpg") == nil {
			t.Fatal("no variant stored")
		}
		resp, body := get(t, g.base+"/img/marked/"+rel, "Accept", "")
		if resp.StatusCode != 200 || resp.Header.Get("X-Cache") != "HIT" {
			t.Fatalf("request after the event: %d X-Cache %q, want HIT", resp.StatusCode, resp.Header.Get("X-Cache"))
		}
		img, err := jpeg.Decode(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("not a JPEG: %v", err)
		}
		b := img.Bounds()
		if c := img.At(b.Max.X-5, b.Max.Y-5); !closeTo(c, testimages.Red) {
			t.Errorf("bottom-right pixel %v, want the red watermark", c)
		}
	})
}
