package resize

import (
	"errors"
	"testing"

	"github.com/h2non/bimg"
)

func TestProbe(t *testing.T) {
	f := fx(t)
	tests := []struct {
		name string
		data []byte
		want Info
	}{
		{"jpeg", f.jpeg1080, Info{Format: JPEG, Width: 1920, Height: 1080}},
		{"jpeg small", f.jpegSmall, Info{Format: JPEG, Width: 100, Height: 80}},
		{"jpeg exif", f.exifJPEG, Info{Format: JPEG, Width: 200, Height: 100, Orientation: 6}},
		{"png alpha", f.alphaPNG, Info{Format: PNG, Width: 800, Height: 600, HasAlpha: true}},
		{"png bomb header", bombPNG(100000, 100000), Info{Format: PNG, Width: 100000, Height: 100000, HasAlpha: true}},
		// libvips writes an EXIF chunk (orientation 1) when not stripping.
		{"webp lossy", f.webp1080, Info{Format: WebP, Width: 1920, Height: 1080, Orientation: 1}},
		{"webp alpha", f.webpAlpha, Info{Format: WebP, Width: 800, Height: 600, HasAlpha: true, Orientation: 1}},
		{"webp lossless", f.webpLossls, Info{Format: WebP, Width: 64, Height: 48, HasAlpha: true, Orientation: 1}},
		{"avif", f.avif, Info{Format: AVIF, Width: 320, Height: 180}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Probe(tc.data)
			if err != nil || got != tc.want {
				t.Fatalf("Probe = %+v, %v; want %+v", got, err, tc.want)
			}
			if tc.data[0] == 0x89 && tc.want.Width == 100000 {
				return // libvips need not agree on a bomb
			}
			// Cross-check against libvips' own header reading.
			md, err := bimg.NewImage(tc.data).Metadata()
			if err != nil {
				t.Fatal(err)
			}
			if md.Size.Width != got.Width || md.Size.Height != got.Height || md.Alpha != got.HasAlpha {
				t.Errorf("libvips says %dx%d alpha=%v", md.Size.Width, md.Size.Height, md.Alpha)
			}
		})
	}
}

func TestInfoSizes(t *testing.T) {
	i := Info{Width: 200, Height: 100, Orientation: 6}
	if w, h := i.DisplaySize(); w != 100 || h != 200 {
		t.Errorf("DisplaySize = %dx%d", w, h)
	}
	i.Orientation = 3
	if w, h := i.DisplaySize(); w != 200 || h != 100 {
		t.Errorf("DisplaySize = %dx%d", w, h)
	}
	for _, tc := range []struct {
		w, h, mp int
	}{{1920, 1080, 3}, {1000, 1000, 1}, {1000, 1001, 2}, {1, 1, 1}, {8000, 8000, 64}} {
		if got := (Info{Width: tc.w, Height: tc.h}).Megapixels(); got != tc.mp {
			t.Errorf("%dx%d: %d MP, want %d", tc.w, tc.h, got, tc.mp)
		}
	}
}

func TestProbeRejects(t *testing.T) {
	f := fx(t)
	zeroPNG := bombPNG(0, 10)
	tests := []struct {
		name   string
		data   []byte
		status int
		is     error
	}{
		{"nil", nil, 415, ErrUnsupported},
		{"bmp", []byte("BM\x1e\x00\x00\x00\x00\x00\x00\x00\x1a\x00"), 415, ErrUnsupported},
		{"quicktime ftyp", []byte("\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  "), 415, ErrUnsupported},
		{"gif without a frame", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), 422, ErrCorrupt},
		{"gif bad block", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00\x99"), 422, ErrCorrupt},
		{"heic header only", []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00"), 422, ErrCorrupt},
		{"tiff IFD out of range", []byte("II*\x00\xff\x00\x00\x00"), 422, ErrCorrupt},
		{"tiff without size", []byte("MM\x00*\x00\x00\x00\x08\x00\x00"), 422, ErrCorrupt},
		{"soi only", []byte{0xFF, 0xD8, 0xFF}, 422, ErrCorrupt},
		{"jpeg no frame", []byte{0xFF, 0xD8, 0xFF, 0xD9}, 422, ErrCorrupt},
		{"jpeg segment overruns", []byte{0xFF, 0xD8, 0xFF, 0xE0, 0xFF, 0xFF, 0, 0}, 422, ErrCorrupt},
		{"jpeg zero height (DNL)", []byte{0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, 0, 0, 0, 10, 3, 0, 0, 0}, 422, ErrCorrupt},
		{"png no IHDR", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDX"), 422, ErrCorrupt},
		{"png zero width", zeroPNG, 422, ErrCorrupt},
		{"webp bad chunk", []byte("RIFF\x10\x00\x00\x00WEBPVP9 \x00\x00\x00\x00"), 422, ErrCorrupt},
		{"webp truncated", f.webp1080[:24], 422, ErrCorrupt},
		{"avif garbage", append([]byte("\x00\x00\x00\x1cftypavif"), make([]byte, 40)...), 422, ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Probe(tc.data)
			var e *Error
			if !errors.As(err, &e) || e.Status != tc.status || !errors.Is(err, tc.is) {
				t.Fatalf("Probe = %+v, %v; want %d wrapping %v", got, err, tc.status, tc.is)
			}
		})
	}
}

func TestProbeAllocations(t *testing.T) {
	f := fx(t)
	for name, data := range map[string][]byte{"jpeg": f.exifJPEG, "png": f.alphaPNG, "webp": f.webpAlpha} {
		if n := testing.AllocsPerRun(100, func() { _, _ = Probe(data) }); n != 0 {
			t.Errorf("Probe(%s) allocates %.0f times", name, n)
		}
	}
}

func FuzzProbe(fz *testing.F) {
	f := fx(fz)
	for _, d := range [][]byte{f.exifJPEG, f.jpegSmall[:300], f.alphaPNG[:200], f.webpAlpha[:100], f.webpLossls[:60], bombPNG(3, 3), f.webp1080[:64]} {
		fz.Add(d)
	}
	fz.Fuzz(func(t *testing.T, data []byte) {
		if len(data) >= 12 && string(data[4:8]) == "ftyp" {
			return // AVIF goes to libheif, which is not ours to fuzz
		}
		info, err := Probe(data)
		if err != nil {
			if s := StatusOf(err); s != 415 && s != 422 {
				t.Fatalf("status %d for %v", s, err)
			}
			return
		}
		if info.Width <= 0 || info.Height <= 0 || !info.Format.valid() || info.Orientation < 0 || info.Orientation > 8 {
			t.Fatalf("Probe accepted %+v", info)
		}
	})
}
