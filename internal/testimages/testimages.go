// Package testimages builds the image fixtures of the images tests: real
// photos of every awkward kind (large, alpha, CMYK, EXIF-rotated, animated,
// 1×1, truncated, a decompression bomb). They are written to
// gateway/testdata/images by
//
//	go run ./internal/testimages/gen -out gateway/testdata/images
//
// and the tests check that the committed files are what this package
// builds, so the fixtures are documented by code, not downloaded.
package testimages

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/png"

	"github.com/h2non/bimg"

	"github.com/edgegate/edgegate/internal/demo"
)

// Fixture is one test image and what a correct gateway does with it.
type Fixture struct {
	Name        string
	ContentType string
	Data        []byte
}

// All builds every fixture, deterministically.
func All() ([]Fixture, error) {
	large, err := demo.SampleJPEG(4000, 3000)
	if err != nil {
		return nil, err
	}
	alpha, err := demo.AlphaPNG(800, 600)
	if err != nil {
		return nil, err
	}
	small, err := demo.SampleJPEG(400, 200)
	if err != nil {
		return nil, err
	}
	cmyk, err := bimg.NewImage(small).Process(bimg.Options{Type: bimg.JPEG, Quality: 90, Interpretation: bimg.InterpretationCMYK, StripMetadata: true})
	if err != nil {
		return nil, fmt.Errorf("testimages: CMYK: %w", err)
	}
	one, err := onePixel()
	if err != nil {
		return nil, err
	}
	anim, err := animatedGIF()
	if err != nil {
		return nil, err
	}
	return []Fixture{
		{"large.jpg", "image/jpeg", large},
		{"alpha.png", "image/png", alpha},
		{"cmyk.jpg", "image/jpeg", cmyk},
		{"exif-rotated.jpg", "image/jpeg", WithEXIF(small, 6, "")},
		{"animated.gif", "image/gif", anim},
		{"one.png", "image/png", one},
		{"truncated.jpg", "image/jpeg", large[:len(large)/3]},
		{"bomb.png", "image/png", BombPNG(30000, 30000)},
	}, nil
}

func onePixel() ([]byte, error) {
	img := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.NRGBA{200, 10, 10, 255})
	var b bytes.Buffer
	err := png.Encode(&b, img)
	return b.Bytes(), err
}

func animatedGIF() ([]byte, error) {
	g := &gif.GIF{}
	for i := range 3 {
		f := image.NewPaletted(image.Rect(0, 0, 64, 48), palette.Plan9)
		for y := range 48 {
			for x := range 64 {
				f.SetColorIndex(x, y, uint8((x+y+40*i)%256))
			}
		}
		g.Image = append(g.Image, f)
		g.Delay = append(g.Delay, 10)
	}
	var b bytes.Buffer
	err := gif.EncodeAll(&b, g)
	return b.Bytes(), err
}

// WithEXIF inserts an APP1 Exif segment right after the JPEG's SOI,
// holding IFD0 with Make (ASCII, omitted when empty) and Orientation
// (SHORT), big-endian.
func WithEXIF(jpg []byte, orientation uint16, make string) []byte {
	be := binary.BigEndian
	entries := uint16(1)
	if make != "" {
		entries = 2
	}
	var t []byte
	t = append(t, "MM"...)
	t = be.AppendUint16(t, 42)
	t = be.AppendUint32(t, 8)
	t = be.AppendUint16(t, entries)
	dataOff := uint32(8 + 2 + int(entries)*12 + 4)
	if make != "" {
		t = be.AppendUint16(t, 0x010F) // Make
		t = be.AppendUint16(t, 2)      // ASCII
		t = be.AppendUint32(t, uint32(len(make)+1))
		t = be.AppendUint32(t, dataOff)
	}
	t = be.AppendUint16(t, 0x0112) // Orientation
	t = be.AppendUint16(t, 3)      // SHORT
	t = be.AppendUint32(t, 1)
	t = be.AppendUint16(t, orientation)
	t = be.AppendUint16(t, 0)
	t = be.AppendUint32(t, 0) // no next IFD
	if make != "" {
		t = append(append(t, make...), 0)
	}
	seg := append([]byte("Exif\x00\x00"), t...)
	out := []byte{0xFF, 0xD8, 0xFF, 0xE1}
	out = be.AppendUint16(out, uint16(len(seg)+2))
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// BombPNG is a tiny, well-formed PNG whose header claims w×h RGBA pixels:
// decoding it would need w×h×4 bytes; a gateway must refuse it from the
// header alone.
func BombPNG(w, h uint32) []byte {
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
