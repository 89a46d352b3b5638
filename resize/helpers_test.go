package resize

// Test fixtures are generated in Go on first use rather than stored in
// testdata/: demo.SampleJPEG and demo.AlphaPNG render the photos the demo
// serves, bimg converts them to WebP and AVIF, and the EXIF-tagged JPEG and
// the decompression-bomb PNG header are assembled byte by byte below. So
// `go test ./resize/` is the documented command that (re)generates them,
// and nothing binary is checked in.

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"sync"
	"testing"

	"github.com/edgegate/edgegate/internal/testimages"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/h2non/bimg"
)

type fixtures struct {
	jpeg1080   []byte // 1920×1080 test card
	jpegSmall  []byte // 100×80
	alphaPNG   []byte // 800×600 with alpha
	webp1080   []byte // lossy WebP of jpeg1080
	webpAlpha  []byte // lossy WebP with alpha (VP8X)
	webpLossls []byte // lossless WebP (VP8L)
	avif       []byte // AVIF of a 320×180 card
	exifJPEG   []byte // 200×100, left red/right blue, EXIF orientation 6 + Make
}

var loadFixtures = sync.OnceValues(func() (*fixtures, error) {
	var f fixtures
	var err error
	if f.jpeg1080, err = demo.SampleJPEG(1920, 1080); err != nil {
		return nil, err
	}
	if f.jpegSmall, err = demo.SampleJPEG(100, 80); err != nil {
		return nil, err
	}
	if f.alphaPNG, err = demo.AlphaPNG(800, 600); err != nil {
		return nil, err
	}
	if f.webp1080, err = bimg.NewImage(f.jpeg1080).Process(bimg.Options{Type: bimg.WEBP, Quality: 80}); err != nil {
		return nil, err
	}
	if f.webpAlpha, err = bimg.NewImage(f.alphaPNG).Process(bimg.Options{Type: bimg.WEBP, Quality: 80}); err != nil {
		return nil, err
	}
	small, err := demo.AlphaPNG(64, 48)
	if err != nil {
		return nil, err
	}
	if f.webpLossls, err = bimg.NewImage(small).Process(bimg.Options{Type: bimg.WEBP, Lossless: true}); err != nil {
		return nil, err
	}
	card, err := demo.SampleJPEG(320, 180)
	if err != nil {
		return nil, err
	}
	if f.avif, err = bimg.NewImage(card).Process(bimg.Options{Type: bimg.AVIF, Quality: 60, Speed: 8}); err != nil {
		return nil, err
	}
	f.exifJPEG = withEXIF(halvesJPEG(200, 100), 6, "EdgegateCam")
	return &f, nil
})

func fx(tb testing.TB) *fixtures {
	tb.Helper()
	f, err := loadFixtures()
	if err != nil {
		tb.Fatalf("fixtures: %v", err)
	}
	return f
}

func newProcessor(tb testing.TB) *Processor {
	tb.Helper()
	p, err := New(DefaultConfig())
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return p
}

// halvesJPEG renders a w×h JPEG whose left half is red and right half blue.
func halvesJPEG(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{R: 230, A: 255}
			if x >= w/2 {
				c = color.RGBA{B: 230, A: 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// The EXIF and bomb builders are shared with the gateway's fixtures.
var (
	withEXIF = testimages.WithEXIF
	bombPNG  = testimages.BombPNG
)

// decodePNG converts any image libvips reads to PNG and decodes it in Go,
// so pixel assertions do not depend on resize's own code.
func decodeViaPNG(tb testing.TB, data []byte) image.Image {
	tb.Helper()
	pngb, err := bimg.NewImage(data).Process(bimg.Options{Type: bimg.PNG})
	if err != nil {
		tb.Fatalf("convert to png: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(pngb))
	if err != nil {
		tb.Fatalf("decode png: %v", err)
	}
	return img
}
