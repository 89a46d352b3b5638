package resize

import (
	"bytes"
	"errors"
	"image/color"
	"testing"
	"time"

	"github.com/h2non/bimg"
)

func TestProcessPresetsOn1080p(t *testing.T) {
	p, f := newProcessor(t), fx(t)
	tests := []struct {
		preset string
		format Format
		w, h   int
	}{
		{"thumbnail", JPEG, 150, 150},
		{"medium", JPEG, 640, 360},
		{"large", JPEG, 1280, 720},
		{"thumbnail", WebP, 150, 150},
		{"medium", WebP, 640, 360},
		{"large", WebP, 1280, 720},
		{"thumbnail", PNG, 150, 150},
		{"medium", AVIF, 640, 360},
	}
	for _, tc := range tests {
		t.Run(tc.preset+"/"+tc.format.String(), func(t *testing.T) {
			tr, err := p.ParseSpec(tc.preset)
			if err != nil {
				t.Fatal(err)
			}
			out, info, err := p.Process(f.jpeg1080, tr, tc.format)
			if err != nil {
				t.Fatal(err)
			}
			if info.Width != tc.w || info.Height != tc.h || info.Format != tc.format {
				t.Errorf("Info = %+v, want %v %dx%d", info, tc.format, tc.w, tc.h)
			}
			got, err := Probe(out)
			if err != nil {
				t.Fatalf("output does not probe: %v", err)
			}
			if got.Format != tc.format || got.Width != tc.w || got.Height != tc.h {
				t.Errorf("output is %v %dx%d, want %v %dx%d", got.Format, got.Width, got.Height, tc.format, tc.w, tc.h)
			}
			if img := decodeViaPNG(t, out); img.Bounds().Dx() != tc.w || img.Bounds().Dy() != tc.h {
				t.Errorf("decoded output is %v", img.Bounds())
			}
		})
	}
}

func TestProcessFits(t *testing.T) {
	p := newProcessor(t)
	src, err := func() ([]byte, error) { return fx(t).jpeg1080, nil }()
	if err != nil {
		t.Fatal(err)
	}
	small := fx(t).jpegSmall // 100×80
	tests := []struct {
		name   string
		src    []byte
		tr     Transform
		wantW  int
		wantH  int
		resize bool
	}{
		{"inside width only", src, Transform{Width: 300, Fit: FitInside}, 300, 169, true},
		{"inside height only", src, Transform{Height: 300, Fit: FitInside}, 533, 300, true},
		{"inside box limited by height", src, Transform{Width: 1000, Height: 200, Fit: FitInside}, 356, 200, true},
		{"inside odd size", src, Transform{Width: 333, Height: 333, Fit: FitInside}, 333, 187, true},
		{"cover", src, Transform{Width: 300, Height: 200, Fit: FitCover}, 300, 200, true},
		{"cover tall", src, Transform{Width: 101, Height: 577, Fit: FitCover}, 101, 577, true},
		{"cover smart", src, Transform{Width: 200, Height: 200, Fit: FitCover, Gravity: GravitySmart}, 200, 200, true},
		{"fill stretches", src, Transform{Width: 300, Height: 300, Fit: FitFill}, 300, 300, true},
		{"medium never upscales a small source", small, Transform{Width: 640, Fit: FitInside}, 100, 80, false},
		{"cover never upscales: crops at scale 1", small, Transform{Width: 150, Height: 150, Fit: FitCover}, 100, 80, false},
		{"cover partly smaller: crops to what exists", small, Transform{Width: 50, Height: 150, Fit: FitCover}, 50, 80, false},
		{"fill never upscales", small, Transform{Width: 400, Height: 40, Fit: FitFill}, 100, 40, true},
		{"upscale when asked", small, Transform{Width: 200, Fit: FitInside, Upscale: true}, 200, 160, true},
		{"cover upscale when asked", small, Transform{Width: 300, Height: 300, Fit: FitCover, Upscale: true}, 300, 300, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, info, err := p.Process(tc.src, tc.tr, JPEG)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Probe(out)
			if err != nil {
				t.Fatal(err)
			}
			if got.Width != tc.wantW || got.Height != tc.wantH {
				t.Errorf("output %dx%d, want %dx%d", got.Width, got.Height, tc.wantW, tc.wantH)
			}
			if info.Width != got.Width || info.Height != got.Height {
				t.Errorf("Info says %dx%d, output is %dx%d", info.Width, info.Height, got.Width, got.Height)
			}
		})
	}
}

func TestProcessAlpha(t *testing.T) {
	p, f := newProcessor(t), fx(t)
	tr, _ := p.ParseSpec("medium")

	t.Run("png to webp keeps alpha", func(t *testing.T) {
		out, info, err := p.Process(f.alphaPNG, tr, WebP)
		if err != nil {
			t.Fatal(err)
		}
		if !info.HasAlpha {
			t.Error("Info.HasAlpha = false")
		}
		if got, _ := Probe(out); !got.HasAlpha {
			t.Error("WebP header has no alpha flag")
		}
		img := decodeViaPNG(t, out)
		_, _, _, corner := img.At(0, 0).RGBA()
		b := img.Bounds()
		_, _, _, centre := img.At(b.Dx()/2, b.Dy()/2).RGBA()
		if corner > 0x1000 || centre < 0xf000 {
			t.Errorf("alpha corner=%#x centre=%#x, want transparent corner and opaque centre", corner, centre)
		}
	})
	t.Run("negotiation never turns alpha into jpeg", func(t *testing.T) {
		for _, accept := range []string{"", "image/jpeg", "*/*", "image/webp;q=0,image/avif;q=0"} {
			got, err := Negotiate([]byte(accept), "", PNG, true)
			if err != nil || got == JPEG {
				t.Errorf("Negotiate(%q, alpha PNG) = %v, %v", accept, got, err)
			}
		}
	})
	t.Run("explicit jpeg flattens onto white", func(t *testing.T) {
		out, info, err := p.Process(f.alphaPNG, tr, JPEG)
		if err != nil {
			t.Fatal(err)
		}
		if info.HasAlpha {
			t.Error("JPEG Info.HasAlpha = true")
		}
		r, g, b, _ := decodeViaPNG(t, out).At(0, 0).RGBA()
		if r < 0xf000 || g < 0xf000 || b < 0xf000 {
			t.Errorf("transparent corner became %#x,%#x,%#x, want white", r, g, b)
		}
	})
}

func TestProcessEXIFOrientationAndStrip(t *testing.T) {
	p, f := newProcessor(t), fx(t)
	info, err := Probe(f.exifJPEG)
	if err != nil || info.Orientation != 6 || info.Width != 200 || info.Height != 100 {
		t.Fatalf("fixture probes as %+v, %v; want 200x100 orientation 6", info, err)
	}
	if !bytes.Contains(f.exifJPEG, []byte("EdgegateCam")) {
		t.Fatal("fixture lacks its EXIF Make")
	}
	keep := Transform{Width: 1000, Height: 1000, Fit: FitInside} // no resize, only re-encode
	for _, format := range []Format{JPEG, PNG, WebP, AVIF} {
		t.Run(format.String(), func(t *testing.T) {
			out, oi, err := p.Process(f.exifJPEG, keep, format)
			if err != nil {
				t.Fatal(err)
			}
			if oi.Width != 100 || oi.Height != 200 {
				t.Errorf("Info %dx%d, want 100x200 (rotated)", oi.Width, oi.Height)
			}
			got, err := Probe(out)
			if err != nil {
				t.Fatal(err)
			}
			if got.Width != 100 || got.Height != 200 {
				t.Errorf("output %dx%d, want 100x200: orientation not applied", got.Width, got.Height)
			}
			if got.Orientation != 0 {
				t.Errorf("output orientation %d, want none", got.Orientation)
			}
			for _, leak := range []string{"EdgegateCam", "Exif"} {
				if bytes.Contains(out, []byte(leak)) {
					t.Errorf("output still contains %q: metadata not stripped", leak)
				}
			}
			// Orientation 6 = rotate 90° clockwise: the red left half
			// becomes the top.
			img := decodeViaPNG(t, out)
			top, bottom := img.At(50, 20), img.At(50, 180)
			if !reddish(top) || reddish(bottom) {
				t.Errorf("top %v bottom %v, want red on top", top, bottom)
			}
		})
	}
}

func reddish(c color.Color) bool {
	r, _, b, _ := c.RGBA()
	return r > 0x8000 && b < 0x4000
}

func TestProcessAVIF(t *testing.T) {
	p, f := newProcessor(t), fx(t)
	tr, _ := p.ParseSpec("large")
	start := time.Now()
	out, info, err := p.Process(f.jpeg1080, tr, AVIF)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("AVIF 1920x1080 → 1280x720 in %v, %d bytes", time.Since(start), len(out))
	if !bytes.Equal(out[4:12], []byte("ftypavif")) {
		t.Errorf("output starts %q, want an AVIF ftyp", out[:12])
	}
	if info.Width != 1280 || info.Height != 720 {
		t.Errorf("Info %dx%d", info.Width, info.Height)
	}
	if img := decodeViaPNG(t, out); img.Bounds().Dx() != 1280 || img.Bounds().Dy() != 720 {
		t.Errorf("decoded AVIF is %v", img.Bounds())
	}
	// AVIF as a source works too.
	out2, info2, err := p.Process(f.avif, Transform{Width: 160, Fit: FitInside}, WebP)
	if err != nil || info2.Width != 160 || info2.Height != 90 {
		t.Fatalf("AVIF source: %+v, %v", info2, err)
	}
	if got, _ := Probe(out2); got.Format != WebP || got.Width != 160 {
		t.Errorf("AVIF→WebP output probes as %+v", got)
	}
}

func TestProcessQuality(t *testing.T) {
	p, f := newProcessor(t), fx(t)
	tr, _ := p.ParseSpec("medium")
	lo, hi := tr, tr
	lo.Quality, hi.Quality = 30, 95
	a, _, err := p.Process(f.jpeg1080, lo, JPEG)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := p.Process(f.jpeg1080, hi, JPEG)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) >= len(b) {
		t.Errorf("quality 30 gave %d bytes, quality 95 gave %d: override ignored", len(a), len(b))
	}
}

func TestProcessRejects(t *testing.T) {
	p, f := newProcessor(t), fx(t)
	tr, _ := p.ParseSpec("thumbnail")

	// A JPEG whose headers are complete but that ends before its scan.
	// (Truncation inside the scan is decoded as far as it goes and padded,
	// libvips' default and what browsers do, so it is not an error.)
	sos := bytes.Index(f.jpeg1080, []byte{0xFF, 0xDA})

	cfg := DefaultConfig()
	cfg.MaxSourceBytes = 1000
	tiny, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		p      *Processor
		data   []byte
		format Format
		status int
		is     error
	}{
		{"empty", p, nil, JPEG, 415, ErrUnsupported},
		{"text", p, []byte("<html>not an image</html>"), JPEG, 415, ErrUnsupported},
		{"bmp is not served", p, []byte("BM\x1e\x00\x00\x00\x00\x00\x00\x00\x1a\x00"), JPEG, 415, ErrUnsupported},
		{"gif without a frame", p, []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), JPEG, 422, ErrCorrupt},
		{"jpeg magic then garbage", p, []byte("\xff\xd8\xff\xe0garbage garbage garbage"), JPEG, 422, ErrCorrupt},
		{"truncated jpeg header", p, f.jpeg1080[:40], JPEG, 422, ErrCorrupt},
		{"jpeg cut before its scan", p, f.jpeg1080[:sos], JPEG, 422, ErrCorrupt},
		{"webp cut in half", p, f.webp1080[:len(f.webp1080)/2], JPEG, 422, ErrCorrupt},
		{"png truncated after IHDR", p, f.alphaPNG[:40], PNG, 422, ErrCorrupt},
		{"webp truncated", p, f.webp1080[:20], WebP, 422, ErrCorrupt},
		{"avif truncated", p, f.avif[:64], WebP, 422, ErrCorrupt},
		{"bomb header", p, bombPNG(100000, 100000), JPEG, 422, ErrTooLarge},
		{"over max source bytes", tiny, f.jpeg1080, JPEG, 422, ErrTooLarge},
		{"unknown output format", p, f.jpeg1080, Format(0), 400, ErrBadSpec},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := tc.p.Process(tc.data, tr, tc.format)
			if err == nil {
				t.Fatalf("Process succeeded with %d bytes", len(out))
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not *Error", err, err)
			}
			if e.Status != tc.status || !errors.Is(err, tc.is) {
				t.Errorf("got status %d err %v, want %d wrapping %v", e.Status, err, tc.status, tc.is)
			}
			if StatusOf(err) != tc.status {
				t.Errorf("StatusOf = %d", StatusOf(err))
			}
		})
	}
}

func TestBombRejectedQuickly(t *testing.T) {
	p := newProcessor(t)
	bomb := bombPNG(100000, 100000) // claims 10 G pixels, 40 GB decoded
	if len(bomb) > 100 {
		t.Fatalf("bomb is %d bytes, want tiny", len(bomb))
	}
	start := time.Now()
	_, err := p.Check(bomb)
	elapsed := time.Since(start)
	if !errors.Is(err, ErrTooLarge) || StatusOf(err) != 422 {
		t.Fatalf("Check(bomb) = %v", err)
	}
	// Reading the header takes microseconds; decoding would take minutes
	// or run out of memory. The bound leaves room for a loaded CI box.
	if elapsed > time.Second {
		t.Errorf("rejecting the bomb took %v", elapsed)
	}
	allocs := testing.AllocsPerRun(100, func() { _, _ = Probe(bomb) })
	if allocs > 0 {
		t.Errorf("Probe of a PNG header allocates %.0f times", allocs)
	}
}

func TestProcessConvertsToSRGBAndDropsProfile(t *testing.T) {
	p, f := newProcessor(t), fx(t)
	for _, profile := range []string{"p3", "cmyk"} {
		// A source tagged with a Display P3 or CMYK profile (libvips'
		// built-in profiles), made from the sRGB sample.
		src, err := bimg.NewImage(f.jpegSmall).Process(bimg.Options{Type: bimg.JPEG, InputICC: "srgb", OutputICC: profile})
		if err != nil {
			t.Fatalf("make %s source: %v", profile, err)
		}
		if md, err := bimg.NewImage(src).Metadata(); err != nil || !md.Profile {
			t.Fatalf("%s source has no profile: %+v %v", profile, md, err)
		}
		for _, format := range []Format{JPEG, PNG, WebP, AVIF} {
			t.Run(profile+"/"+format.String(), func(t *testing.T) {
				out, _, err := p.Process(src, Transform{Width: 50, Fit: FitInside}, format)
				if err != nil {
					t.Fatal(err)
				}
				md, err := bimg.NewImage(out).Metadata()
				if err != nil {
					t.Fatal(err)
				}
				if md.Profile || md.Space != "srgb" || md.Channels != 3 {
					t.Errorf("output profile=%v space=%s channels=%d; want sRGB, 3 channels, no profile", md.Profile, md.Space, md.Channels)
				}
			})
		}
	}
}
