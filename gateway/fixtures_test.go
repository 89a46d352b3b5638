package gateway

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgegate/edgegate/internal/testimages"
	"github.com/edgegate/edgegate/resize"
)

// The committed fixtures are exactly what the documented generator
// builds (go run ./internal/testimages/gen -out gateway/testdata/images).
// cmyk.jpg is made by libvips, whose encoder may change between versions:
// it is checked for what it is, not byte for byte.
func TestFixturesAreGenerated(t *testing.T) {
	fx, err := testimages.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fx {
		got, err := os.ReadFile(filepath.Join("testdata/images", f.Name))
		if err != nil {
			t.Fatalf("%v (regenerate: go run ./internal/testimages/gen -out gateway/testdata/images)", err)
		}
		if f.Name == "cmyk.jpg" {
			cfg, err := jpeg.DecodeConfig(bytes.NewReader(got))
			if err != nil || cfg.ColorModel != color.CMYKModel {
				t.Errorf("cmyk.jpg is not a CMYK JPEG (%v)", err)
			}
			continue
		}
		if !bytes.Equal(got, f.Data) {
			t.Errorf("testdata/images/%s differs from what the generator builds", f.Name)
		}
	}
}

func TestImageFixtures(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages())
	load := func(name string) (string, []byte) {
		data, err := os.ReadFile(filepath.Join("testdata/images", name))
		if err != nil {
			t.Fatal(err)
		}
		ct := map[string]string{".jpg": "image/jpeg", ".png": "image/png", ".gif": "image/gif"}[filepath.Ext(name)]
		return putObject(t, name, data, ct), data
	}
	for _, tc := range []struct {
		name   string
		status int
		w, h   int
		format resize.Format
		check  func(t *testing.T, src, out []byte)
	}{
		{name: "large.jpg", status: 200, w: 640, h: 480, format: resize.JPEG, check: similarToBoxDownscale},
		{name: "alpha.png", status: 200, w: 640, h: 480, format: resize.PNG, check: func(t *testing.T, _, out []byte) {
			if !probe(t, out).HasAlpha {
				t.Error("alpha lost")
			}
		}},
		{name: "cmyk.jpg", status: 200, w: 400, h: 200, format: resize.JPEG, check: func(t *testing.T, _, out []byte) {
			cfg, err := jpeg.DecodeConfig(bytes.NewReader(out))
			if err != nil || cfg.ColorModel == color.CMYKModel {
				t.Errorf("output is still CMYK (%v); want sRGB", err)
			}
		}},
		{name: "exif-rotated.jpg", status: 200, w: 200, h: 400, format: resize.JPEG}, // 400×200 turned by orientation 6, never upscaled
		{name: "one.png", status: 200, w: 1, h: 1, format: resize.PNG},
		{name: "animated.gif", status: 200, w: 64, h: 48, format: resize.GIF, check: func(t *testing.T, _, out []byte) {
			if _, _, n, err := resize.Frames(out); err != nil || n != 3 {
				t.Errorf("animation lost: %d frames (%v), want 3", n, err) // no Accept: GIF, every frame
			}
		}},
		{name: "bomb.png", status: http.StatusUnprocessableEntity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, src := load(tc.name)
			start := time.Now()
			resp, body := get(t, g.base+"/img/medium/"+key)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %.200s", resp.StatusCode, tc.status, body)
			}
			if tc.status != 200 {
				if !bytes.Contains(body, []byte(`"error"`)) {
					t.Errorf("error answer is not JSON: %s", body)
				}
				if tc.name == "bomb.png" && time.Since(start) > time.Second {
					t.Errorf("bomb took %s to refuse", time.Since(start))
				}
				return
			}
			info := probe(t, body)
			if info.Width != tc.w || info.Height != tc.h || info.Format != tc.format {
				t.Fatalf("got %v %dx%d, want %v %dx%d", info.Format, info.Width, info.Height, tc.format, tc.w, tc.h)
			}
			if tc.check != nil {
				tc.check(t, src, body)
			}
		})
	}
	// A truncated JPEG: libvips decodes what is there and pads the rest,
	// as browsers do; either way the answer is never a 5xx.
	key, _ := load("truncated.jpg")
	resp, body := get(t, g.base+"/img/medium/"+key)
	switch {
	case resp.StatusCode == 200:
		if info := probe(t, body); info.Width != 640 || info.Height != 480 {
			t.Errorf("truncated: %dx%d", info.Width, info.Height)
		}
	case resp.StatusCode == http.StatusUnprocessableEntity:
	default:
		t.Errorf("truncated: status %d: %.200s", resp.StatusCode, body)
	}
}

// similarToBoxDownscale compares the gateway's 640×480 rendering of the
// 4000×3000 source with a plain box-filter downscale done here: the mean
// absolute difference per channel must stay small.
func similarToBoxDownscale(t *testing.T, src, out []byte) {
	a, err := jpeg.Decode(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	b, err := jpeg.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	ob := b.Bounds()
	sb := a.Bounds()
	var diff, n float64
	for y := 0; y < ob.Dy(); y += 4 {
		for x := 0; x < ob.Dx(); x += 4 {
			r0, g0, b0 := boxAverage(a, image.Rect(
				sb.Min.X+x*sb.Dx()/ob.Dx(), sb.Min.Y+y*sb.Dy()/ob.Dy(),
				sb.Min.X+(x+1)*sb.Dx()/ob.Dx(), sb.Min.Y+(y+1)*sb.Dy()/ob.Dy()))
			r1, g1, b1, _ := b.At(ob.Min.X+x, ob.Min.Y+y).RGBA()
			diff += abs(r0-float64(r1>>8)) + abs(g0-float64(g1>>8)) + abs(b0-float64(b1>>8))
			n += 3
		}
	}
	if mad := diff / n; mad > 12 {
		t.Errorf("mean absolute difference to a box downscale: %.1f of 255, want ≤ 12", mad)
	}
}

func boxAverage(img image.Image, r image.Rectangle) (float64, float64, float64) {
	var sr, sg, sb, n float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			sr, sg, sb, n = sr+float64(cr>>8), sg+float64(cg>>8), sb+float64(cb>>8), n+1
		}
	}
	return sr / n, sg / n, sb / n
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}
