package testimages

// The input formats of issue 17: animated GIF and WebP, HEIC, TIFF, a
// 16-bit PNG, and animations whose headers alone must be refused. They are
// built when a test or benchmark asks, not committed: the HEIC comes from
// heif-enc (Debian's libheif-examples) and the animated WebP from the vips
// CLI (libvips-tools), both installed by scripts/deps.sh, and their
// encoders' exact bytes may change between versions; tests check what
// these images are (sizes, frames, formats), never their bytes.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/h2non/bimg"

	"github.com/edgegate/edgegate/internal/demo"
)

// AnimatedGIF draws frames frames of w×h, each different (a bar sweeping
// across rings, so no encoder can merge two frames), 40 ms apart, looping
// forever, with Go's image/gif (deterministic).
func AnimatedGIF(w, h, frames int) ([]byte, error) {
	pal := make(color.Palette, 0, 256)
	for i := range 256 {
		pal = append(pal, color.RGBA{uint8(i), uint8(255 - i), uint8(i * 7), 255})
	}
	g := &gif.GIF{LoopCount: 0}
	cx, cy := float64(w)/2, float64(h)/2
	for i := range frames {
		f := image.NewPaletted(image.Rect(0, 0, w, h), pal)
		bar := i * w / max(frames, 1)
		for y := range h {
			for x := range w {
				dx, dy := float64(x)-cx, float64(y)-cy
				c := uint8(int(127+127*math.Sin(math.Sqrt(dx*dx+dy*dy)/9+float64(i)/3)) / 2)
				if x >= bar && x < bar+max(w/20, 2) {
					c = 255
				}
				f.SetColorIndex(x, y, c)
			}
		}
		g.Image = append(g.Image, f)
		g.Delay = append(g.Delay, 4)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, g); err != nil {
		return nil, fmt.Errorf("testimages: animated GIF: %w", err)
	}
	return b.Bytes(), nil
}

// AnimatedWebP converts an animated GIF to an animated WebP, every frame
// kept (vips copy in.gif[n=-1] out.webp, lossless).
func AnimatedWebP(gifData []byte) ([]byte, error) {
	return convert(gifData, "in.gif", "out.webp", "vips", "copy", "{in}[n=-1]", "{out}[lossless]")
}

// HEIC encodes a w×h demo photo (demo.SampleJPEG) as HEIC with heif-enc,
// as a phone would store it.
func HEIC(w, h int) ([]byte, error) {
	jpg, err := demo.SampleJPEG(w, h)
	if err != nil {
		return nil, err
	}
	return convert(jpg, "in.jpg", "out.heic", "heif-enc", "-q", "60", "-o", "{out}", "{in}")
}

// TIFF is a w×h demo photo as a TIFF (libvips' tiffsave).
func TIFF(w, h int) ([]byte, error) {
	jpg, err := demo.SampleJPEG(w, h)
	if err != nil {
		return nil, err
	}
	out, err := bimg.NewImage(jpg).Process(bimg.Options{Type: bimg.TIFF, StripMetadata: true})
	if err != nil {
		return nil, fmt.Errorf("testimages: TIFF: %w", err)
	}
	return out, nil
}

// PNG16 is a w×h RGBA PNG with 16 bits per channel (a gradient finer than
// 8 bits can hold), with a real alpha ramp.
func PNG16(w, h int) ([]byte, error) {
	img := image.NewNRGBA64(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA64(x, y, color.NRGBA64{
				R: uint16(65535 * x / max(w-1, 1)), G: uint16(65535 * y / max(h-1, 1)), B: 12345,
				A: uint16(65535 - 30000*x/max(w-1, 1)),
			})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, fmt.Errorf("testimages: 16-bit PNG: %w", err)
	}
	return b.Bytes(), nil
}

// FrameBombGIF is a tiny, well-formed GIF whose logical screen is w×h and
// which holds frames frames of one pixel each: a decoder composes every
// frame on the full w×h canvas, so decoding costs w×h×frames pixels for a
// file of about 20 bytes a frame. A gateway must refuse it from the header
// (frame count, or frames × pixels).
func FrameBombGIF(w, h uint16, frames int) []byte {
	le := binary.LittleEndian
	b := []byte("GIF89a")
	b = le.AppendUint16(b, w)
	b = le.AppendUint16(b, h)
	b = append(b, 0x80, 0, 0)             // global colour table of 2 entries
	b = append(b, 0, 0, 0, 255, 255, 255) // black, white
	b = append(b, 0x21, 0xFF, 11)         // NETSCAPE2.0 loop forever
	b = append(b, "NETSCAPE2.0"...)
	b = append(b, 3, 1, 0, 0, 0)
	for range frames {
		b = append(b, 0x21, 0xF9, 4, 0, 4, 0, 0, 0) // graphic control: 40 ms
		b = append(b, 0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0)
		b = append(b, 2, 2, 0x44, 0x01, 0) // LZW: one pixel of colour 0
	}
	return append(b, 0x3B)
}

// convert writes data to a temporary file named in, runs the command with
// {in} and {out} in its arguments replaced by the files' paths, and
// returns what it wrote to out.
func convert(data []byte, in, out, cmd string, args ...string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "testimages-")
	if err != nil {
		return nil, fmt.Errorf("testimages: %w", err)
	}
	defer os.RemoveAll(dir)
	inPath, outPath := filepath.Join(dir, in), filepath.Join(dir, out)
	if err := os.WriteFile(inPath, data, 0o600); err != nil {
		return nil, fmt.Errorf("testimages: %w", err)
	}
	argv := make([]string, len(args))
	for i, a := range args {
		argv[i] = strings.NewReplacer("{in}", inPath, "{out}", outPath).Replace(a)
	}
	if msg, err := exec.Command(cmd, argv...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("testimages: %s %v: %w: %s (scripts/deps.sh installs it)", cmd, argv, err, bytes.TrimSpace(msg))
	}
	b, err := os.ReadFile(outPath)
	if err != nil {
		return nil, fmt.Errorf("testimages: %s wrote nothing: %w", cmd, err)
	}
	return b, nil
}
