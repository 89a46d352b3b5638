package resize

// Test fixtures are generated in Go on first use rather than stored in
// testdata/: demo.SampleJPEG and demo.AlphaPNG render the photos the demo
// serves, bimg converts them to WebP and AVIF, and the EXIF-tagged JPEG and
// the decompression-bomb PNG header are assembled byte by byte below. So
// `go test ./resize/` is the documented command that (re)generates them,
// and nothing binary is checked in.

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"sync"
	"testing"

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

// withEXIF inserts an APP1 Exif segment right after SOI holding IFD0 with
// Make (ASCII) and Orientation (SHORT), big-endian.
func withEXIF(jpg []byte, orientation uint16, make string) []byte {
	be := binary.BigEndian
	var t []byte
	t = append(t, "MM"...)
	t = be.AppendUint16(t, 42)
	t = be.AppendUint32(t, 8)
	t = be.AppendUint16(t, 2) // entries
	const dataOff = 8 + 2 + 2*12 + 4
	t = be.AppendUint16(t, 0x010F) // Make
	t = be.AppendUint16(t, 2)      // ASCII
	t = be.AppendUint32(t, uint32(len(make)+1))
	t = be.AppendUint32(t, dataOff)
	t = be.AppendUint16(t, 0x0112) // Orientation
	t = be.AppendUint16(t, 3)      // SHORT
	t = be.AppendUint32(t, 1)
	t = be.AppendUint16(t, orientation)
	t = be.AppendUint16(t, 0)
	t = be.AppendUint32(t, 0) // no next IFD
	t = append(t, make...)
	t = append(t, 0)

	seg := append([]byte("Exif\x00\x00"), t...)
	var out []byte
	out = append(out, 0xFF, 0xD8, 0xFF, 0xE1)
	out = be.AppendUint16(out, uint16(len(seg)+2))
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// bombPNG is a tiny, well-formed PNG whose header claims w×h RGBA pixels.
func bombPNG(w, h uint32) []byte {
	var b []byte
	b = append(b, "\x89PNG\r\n\x1a\n"...)
	chunk := func(typ string, data []byte) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
		start := len(b)
		b = append(b, typ...)
		b = append(b, data...)
		b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // 8-bit RGBA
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b
}

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
