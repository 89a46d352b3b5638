package testimages

// Fixtures for issue 17's processing options: stripes of distinct colours
// to see where a crop or a gravity landed, an image with alpha for
// flattening, and a JPEG with an embedded ICC profile (libvips' built-in
// sRGB, attached by an ICC transform) for keep_profile.

import (
	"bytes"
	"image"
	"image/color"
	"image/png"

	"github.com/h2non/bimg"
)

// Stripe colours, in order.
var (
	Red    = color.RGBA{220, 20, 20, 255}
	Green  = color.RGBA{20, 200, 20, 255}
	Blue   = color.RGBA{20, 20, 220, 255}
	Yellow = color.RGBA{230, 220, 20, 255}
)

// Stripes draws a w×h PNG of len(colors) equal stripes, left to right
// (vertical) or top to bottom.
func Stripes(w, h int, vertical bool, colors ...color.RGBA) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y * len(colors) / h
			if vertical {
				i = x * len(colors) / w
			}
			img.SetRGBA(x, y, colors[i])
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// TranslucentPNG is a w×h PNG of c at alpha a (0–255) everywhere.
func TranslucentPNG(w, h int, c color.RGBA, a uint8) ([]byte, error) {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, color.NRGBA{c.R, c.G, c.B, a})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ProfileJPEG converts a PNG (Stripes) to a JPEG carrying an embedded
// ICC profile.
func ProfileJPEG(pngData []byte) ([]byte, error) {
	return bimg.NewImage(pngData).Process(bimg.Options{
		Type: bimg.JPEG, Quality: 90, InputICC: "srgb", OutputICC: "srgb", StripMetadata: false,
	})
}
