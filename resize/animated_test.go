package resize

import (
	"bytes"
	"errors"
	"image/gif"
	"image/png"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgegate/edgegate/internal/testimages"
)

// The issue 17 inputs, built once per test binary (testimages/inputs.go).
type inputFixtures struct {
	gif     []byte // 320×180, 12 frames, 40 ms each, loop forever
	still   []byte // 320×180 GIF, one frame
	webp    []byte // the animated GIF as a lossless animated WebP
	heic    []byte // 640×480 photo, heif-enc
	tiff    []byte // 300×200
	png16   []byte // 120×80, 16 bits per channel, alpha
	cmyk    []byte // 400×200 CMYK JPEG
	rotated []byte // 400×200 JPEG, EXIF orientation 6
}

var loadInputs = sync.OnceValues(func() (*inputFixtures, error) {
	var f inputFixtures
	var err error
	if f.gif, err = testimages.AnimatedGIF(320, 180, 12); err != nil {
		return nil, err
	}
	if f.still, err = testimages.AnimatedGIF(320, 180, 1); err != nil {
		return nil, err
	}
	if f.webp, err = testimages.AnimatedWebP(f.gif); err != nil {
		return nil, err
	}
	if f.heic, err = testimages.HEIC(640, 480); err != nil {
		return nil, err
	}
	if f.tiff, err = testimages.TIFF(300, 200); err != nil {
		return nil, err
	}
	if f.png16, err = testimages.PNG16(120, 80); err != nil {
		return nil, err
	}
	all, err := testimages.All()
	if err != nil {
		return nil, err
	}
	for _, x := range all {
		switch x.Name {
		case "cmyk.jpg":
			f.cmyk = x.Data
		case "exif-rotated.jpg":
			f.rotated = x.Data
		}
	}
	return &f, nil
})

func inputs(tb testing.TB) *inputFixtures {
	tb.Helper()
	f, err := loadInputs()
	if err != nil {
		tb.Fatalf("input fixtures: %v", err)
	}
	return f
}

// Probe's Go parsers agree with libvips (all pages loaded) on every new
// input: format, size, frames, alpha.
func TestProbeInputs(t *testing.T) {
	in := inputs(t)
	for _, tc := range []struct {
		name   string
		data   []byte
		format Format
		w, h   int
		frames int
		alpha  bool
	}{
		{"animated gif", in.gif, GIF, 320, 180, 12, false},
		{"still gif", in.still, GIF, 320, 180, 1, false},
		{"animated webp", in.webp, WebP, 320, 180, 12, true},
		{"heic", in.heic, HEIF, 640, 480, 1, false},
		{"tiff", in.tiff, TIFF, 300, 200, 1, false},
		{"16-bit png", in.png16, PNG, 120, 80, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := Probe(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if info.Format != tc.format || info.Width != tc.w || info.Height != tc.h ||
				info.FrameCount() != tc.frames || info.HasAlpha != tc.alpha {
				t.Fatalf("Probe: %v %dx%d %d frames alpha %v, want %v %dx%d %d frames alpha %v",
					info.Format, info.Width, info.Height, info.FrameCount(), info.HasAlpha,
					tc.format, tc.w, tc.h, tc.frames, tc.alpha)
			}
			w, h, n, err := Frames(tc.data)
			if err != nil || w != tc.w || h != tc.h || n != tc.frames {
				t.Fatalf("libvips says %dx%d, %d frames (%v)", w, h, n, err)
			}
			if want := int((int64(tc.w)*int64(tc.h)*int64(tc.frames) + 999_999) / 1_000_000); tc.format != HEIF && info.Megapixels() != max(want, 1) {
				t.Errorf("Megapixels %d, want %d (every frame counts)", info.Megapixels(), max(want, 1))
			}
		})
	}
}

// Animations over the frame limit, or whose frames × pixels are over
// max_source_pixels, are refused from the header: 422, in microseconds,
// although libvips would compose every frame on the full canvas.
func TestCheckRefusesAnimationBombs(t *testing.T) {
	p := newProcessor(t)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"1000 frames", testimages.FrameBombGIF(64, 64, 1000)},
		{"frames x pixels", testimages.FrameBombGIF(5000, 5000, 10)}, // 25 MP a frame is fine alone; 250 MP in all
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := gif.DecodeAll(bytes.NewReader(testimages.FrameBombGIF(4, 4, 3))); err != nil {
				t.Fatalf("the bomb builder makes broken GIFs: %v", err)
			}
			const n = 200
			start := time.Now()
			var err error
			for range n {
				_, err = p.Check(tc.data)
			}
			per := time.Since(start) / n
			t.Logf("%v per refusal", per)
			var re *Error
			if !errors.As(err, &re) || re.Status != 422 || !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Check: %v, want a 422 ErrTooLarge", err)
			}
			// Tens of µs here (a few hundred under -race, which instruments
			// the block walk): far from decoding 1000 frames or 720 MP.
			if per > 3*time.Millisecond {
				t.Errorf("refusal took %v per call, want microseconds", per)
			}
		})
	}
	// Within the limits the same shapes pass.
	if info, err := p.Check(testimages.FrameBombGIF(64, 64, 200)); err != nil || info.Frames != 200 {
		t.Errorf("200 frames of 64x64: %+v %v", info, err)
	}
}

func TestMegapixelsCountFramesAndHEIF(t *testing.T) {
	for _, tc := range []struct {
		info Info
		want int
	}{
		{Info{Format: JPEG, Width: 4000, Height: 3000}, 12},
		{Info{Format: GIF, Width: 480, Height: 270, Frames: 100}, 13},
		{Info{Format: HEIF, Width: 4000, Height: 3000}, 24},
		{Info{Format: GIF, Width: 10, Height: 10, Frames: 3}, 1},
	} {
		if got := tc.info.Megapixels(); got != tc.want {
			t.Errorf("%v %dx%d × %d frames: %d MP, want %d", tc.info.Format, tc.info.Width, tc.info.Height, tc.info.FrameCount(), got, tc.want)
		}
	}
}

func TestMaxSourceFramesValidated(t *testing.T) {
	c := DefaultConfig()
	c.MaxSourceFrames = 0
	if err := c.Validate(); err == nil {
		t.Fatal("max_source_frames 0 accepted")
	}
	c.MaxSourceFrames = 5
	p, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Check(inputs(t).gif); !errors.Is(err, ErrTooLarge) {
		t.Errorf("12 frames with max_source_frames 5: %v", err)
	}
}

func TestNegotiateInfo(t *testing.T) {
	anim := Info{Format: GIF, Frames: 12}
	for _, tc := range []struct {
		name, accept, explicit string
		src                    Info
		want                   Format
	}{
		{"animated gif, webp client", chromeAccept, "", anim, WebP},
		{"animated gif, old client", "image/*", "", anim, GIF},
		{"animated gif, avif but no webp", "image/avif", "", anim, GIF},
		{"animated webp, old client", "", "", Info{Format: WebP, Frames: 3, HasAlpha: true}, GIF},
		{"explicit gif", chromeAccept, "gif", anim, GIF},
		{"explicit jpeg takes the first frame", chromeAccept, "jpeg", anim, JPEG},
		{"still gif as other stills", "", "", Info{Format: GIF, Frames: 1}, JPEG},
		{"still gif with transparency", "", "", Info{Format: GIF, Frames: 1, HasAlpha: true}, PNG},
		{"still gif, modern client", chromeAccept, "", Info{Format: GIF, Frames: 1}, AVIF},
		{"heic, old client", "image/jpeg", "", Info{Format: HEIF}, JPEG},
		{"heic, modern client", chromeAccept, "", Info{Format: HEIF}, AVIF},
		{"tiff with alpha, old client", "", "", Info{Format: TIFF, HasAlpha: true}, PNG},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NegotiateInfo([]byte(tc.accept), tc.explicit, tc.src)
			if err != nil || got != tc.want {
				t.Fatalf("got %v %v, want %v", got, err, tc.want)
			}
		})
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = NegotiateInfo([]byte(chromeAccept), "", anim) }); n != 0 {
		t.Errorf("NegotiateInfo allocates %v times", n)
	}
}

// Animations stay animated: every frame resized as a still would be
// (inside, cover, fill), delays and loop count kept; checked on the
// decoded output (libvips n=-1 for WebP, image/gif for GIF).
func TestProcessAnimated(t *testing.T) {
	p := newProcessor(t)
	in := inputs(t)
	for _, tc := range []struct {
		name string
		src  []byte
		tr   Transform
		f    Format
		w, h int
	}{
		{"gif to webp, inside", in.gif, Transform{Width: 160, Fit: FitInside}, WebP, 160, 90},
		{"gif to gif, cover", in.gif, Transform{Width: 100, Height: 100, Fit: FitCover}, GIF, 100, 100},
		{"gif to webp, cover north-west", in.gif, Transform{Width: 50, Height: 120, Fit: FitCover, Gravity: GravityNorthWest}, WebP, 50, 120},
		{"gif to gif, fill", in.gif, Transform{Width: 100, Height: 40, Fit: FitFill}, GIF, 100, 40},
		{"never upscaled", in.gif, Transform{Width: 1000, Fit: FitInside}, WebP, 320, 180},
		{"webp to gif", in.webp, Transform{Width: 80, Fit: FitInside}, GIF, 80, 45},
		{"webp to webp, cover", in.webp, Transform{Width: 64, Height: 64, Fit: FitCover}, WebP, 64, 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, info, err := p.Process(tc.src, tc.tr, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if info.Format != tc.f || info.Width != tc.w || info.Height != tc.h || info.Frames != 12 {
				t.Errorf("Info: %v %dx%d %d frames, want %v %dx%d 12 frames", info.Format, info.Width, info.Height, info.Frames, tc.f, tc.w, tc.h)
			}
			w, h, n, err := Frames(out)
			if err != nil || w != tc.w || h != tc.h || n != 12 {
				t.Fatalf("output per libvips: %dx%d, %d frames (%v); want %dx%d, 12 frames", w, h, n, err, tc.w, tc.h)
			}
			if got, _ := Probe(out); got.Format != tc.f || got.Frames != 12 {
				t.Errorf("output probes as %v with %d frames", got.Format, got.Frames)
			}
			if tc.f == GIF {
				g, err := gif.DecodeAll(bytes.NewReader(out))
				if err != nil {
					t.Fatal(err)
				}
				if len(g.Image) != 12 || g.Config.Width != tc.w || g.Config.Height != tc.h || g.LoopCount != 0 {
					t.Fatalf("image/gif: %d frames %dx%d loop %d", len(g.Image), g.Config.Width, g.Config.Height, g.LoopCount)
				}
				for i, d := range g.Delay {
					if d != 4 {
						t.Fatalf("frame %d delay %d cs, want 4", i, d)
					}
				}
			}
		})
	}
	// Other formats get the first frame, as a still.
	out, info, err := p.Process(in.gif, Transform{Width: 160, Fit: FitInside}, JPEG)
	if err != nil || info.Frames > 1 {
		t.Fatalf("to jpeg: %v, %d frames", err, info.Frames)
	}
	if got := probeOK(t, out); got.Format != JPEG || got.Width != 160 || got.Height != 90 {
		t.Errorf("to jpeg: %v %dx%d", got.Format, got.Width, got.Height)
	}
}

// The still inputs render through the usual path into every output.
func TestProcessStillInputs(t *testing.T) {
	p := newProcessor(t)
	in := inputs(t)
	for _, tc := range []struct {
		name  string
		src   []byte
		tr    Transform
		f     Format
		w, h  int
		alpha bool
	}{
		{"heic to jpeg", in.heic, Transform{Width: 320, Fit: FitInside}, JPEG, 320, 240, false},
		{"heic to webp", in.heic, Transform{Width: 100, Height: 100, Fit: FitCover}, WebP, 100, 100, false},
		{"tiff to jpeg", in.tiff, Transform{Width: 150, Fit: FitInside}, JPEG, 150, 100, false},
		{"tiff to avif", in.tiff, Transform{Width: 150, Fit: FitInside}, AVIF, 150, 100, false},
		{"16-bit png to png", in.png16, Transform{Width: 60, Fit: FitInside}, PNG, 60, 40, true},
		{"16-bit png to webp", in.png16, Transform{Width: 60, Fit: FitInside}, WebP, 60, 40, true},
		{"still gif to gif", in.still, Transform{Width: 160, Fit: FitInside}, GIF, 160, 90, false},
		{"still gif to png", in.still, Transform{Width: 160, Fit: FitInside}, PNG, 160, 90, false},
		{"cmyk jpeg to webp", in.cmyk, Transform{Width: 200, Fit: FitInside}, WebP, 200, 100, false},
		{"exif-rotated to jpeg", in.rotated, Transform{Width: 100, Fit: FitInside}, JPEG, 100, 200, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := p.Process(tc.src, tc.tr, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			got := probeOK(t, out)
			if got.Format != tc.f || got.Width != tc.w || got.Height != tc.h || got.FrameCount() != 1 || got.HasAlpha != tc.alpha {
				t.Fatalf("got %v %dx%d %d frames alpha %v, want %v %dx%d alpha %v", got.Format, got.Width, got.Height,
					got.FrameCount(), got.HasAlpha, tc.f, tc.w, tc.h, tc.alpha)
			}
		})
	}
}

func probeOK(tb testing.TB, data []byte) Info {
	tb.Helper()
	info, err := Probe(data)
	if err != nil {
		tb.Fatalf("output does not probe: %v", err)
	}
	return info
}

// Options the animated path does not apply are refused by name, not
// silently left out; a first frame (a still format) takes them all.
func TestAnimatedRefusesStillOnlyOptions(t *testing.T) {
	p := newProcessor(t)
	in := inputs(t)
	for _, tc := range []struct {
		opt string
		tr  Transform
	}{
		{"bl", Transform{Width: 100, Fit: FitInside, Blur: 2}},
		{"c", Transform{Width: 100, Fit: FitInside, Crop: Crop{Width: 100, Height: 100}}},
		{"rot", Transform{Width: 100, Fit: FitInside, Rotate: 90}},
		{"pd", Transform{Width: 100, Fit: FitInside, Padding: Padding{Top: 4}}},
	} {
		for _, f := range []Format{WebP, GIF} {
			_, _, err := p.Process(in.gif, tc.tr, f)
			var re *Error
			if !errors.As(err, &re) || re.Status != 400 || !strings.Contains(re.Msg, "option "+tc.opt+" ") {
				t.Errorf("%s to %v: %v, want a 400 naming option %s", tc.opt, f, err, tc.opt)
			}
		}
		if _, info, err := p.Process(in.gif, tc.tr, PNG); err != nil || info.Frames > 1 {
			t.Errorf("%s to png (the first frame): %v, %d frames", tc.opt, err, info.Frames)
		}
	}
	wm := Transform{Width: 100, Fit: FitInside, Watermark: Watermark{Opacity: 1}}
	if _, _, err := p.ProcessWatermarked(in.gif, wm, WebP, in.gif); err == nil || !strings.Contains(err.Error(), "option wm ") {
		t.Errorf("watermark on an animation: %v, want option wm refused", err)
	}
}

// A focus point anchors an animation's cover crop as it anchors a
// still's: the crop centred on the point, kept inside (imgproxy's fp).
// The fixture's first frame has a bright bar at its left edge; fp 0.1
// puts the crop against that edge, so the bar is in the output's first
// columns for the animation (frame 0) as for the still (the first frame).
func TestAnimatedFocusPointAsStill(t *testing.T) {
	p := newProcessor(t)
	in := inputs(t)
	tr := Transform{Width: 100, Height: 100, Fit: FitCover, Gravity: GravityFocus, FocusX: 0.1, FocusY: 0.5}
	anim, _, err := p.Process(in.gif, tr, GIF)
	if err != nil {
		t.Fatal(err)
	}
	still, _, err := p.Process(in.gif, tr, PNG)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gif.DecodeAll(bytes.NewReader(anim))
	if err != nil {
		t.Fatal(err)
	}
	s, err := png.Decode(bytes.NewReader(still))
	if err != nil {
		t.Fatal(err)
	}
	ar, _, _, _ := g.Image[0].At(3, 50).RGBA()
	sr, _, _, _ := s.At(3, 50).RGBA()
	if ar>>8 < 200 || sr>>8 < 200 {
		t.Fatalf("red at (3,50): animation frame 0 %d, still %d; want both on the bright bar (> 200)", ar>>8, sr>>8)
	}
}
