package resize

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSpecOptions(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Presets["wm"] = Preset{Width: 100, Height: 100, Fit: FitCover, Quality: 60,
		Watermark: PresetWatermark{Key: "logo.png", Opacity: 0.5, Position: "soea"}}
	cfg.Presets["huge"] = Preset{Width: 8000, Fit: FitInside}
	p := newProcessorConfig(t, cfg)
	base := Transform{Width: 300, Height: 200, Fit: FitCover}
	with := func(f func(*Transform)) Transform { t := base; f(&t); return t }
	tests := []struct {
		in   string
		want Transform
		spec string // canonical; "" = in
	}{
		{in: "300x200-cover,g:no", want: with(func(t *Transform) { t.Gravity = GravityNorth })},
		{in: "300x200-cover,g:ce", want: base, spec: "300x200-cover"},
		{in: "300x200-cover,g:sm", want: with(func(t *Transform) { t.Gravity = GravitySmart })},
		{in: "300x200-cover,g:fp:0.3:0.70", spec: "300x200-cover,g:fp:0.3:0.7",
			want: with(func(t *Transform) { t.Gravity, t.FocusX, t.FocusY = GravityFocus, 0.3, 0.7 })},
		{in: "300x200-cover,c:500:400", want: with(func(t *Transform) { t.Crop = Crop{Width: 500, Height: 400} })},
		{in: "300x200-cover,c:500:0:fp:0:1", want: with(func(t *Transform) {
			t.Crop = Crop{Width: 500, Gravity: GravityFocus, FocusY: 1}
		})},
		{in: "300x200-cover,c:0:0", want: base, spec: "300x200-cover"},
		{in: "300x200-cover,dpr:2", want: with(func(t *Transform) { t.DPR = 2 })},
		{in: "300x200-cover,dpr:1.0", want: base, spec: "300x200-cover"},
		{in: "300x200-cover,dpr:2.625", want: with(func(t *Transform) { t.DPR = 2.625 })},
		{in: "300x200-cover,q:70", want: with(func(t *Transform) { t.Quality = 70 })},
		{in: "300x200-cover,bl:2", want: with(func(t *Transform) { t.Blur = 2 })},
		{in: "300x200-cover,bl:2.0", want: with(func(t *Transform) { t.Blur = 2 }), spec: "300x200-cover,bl:2"},
		{in: "300x200-cover,sh:0.5", want: with(func(t *Transform) { t.Sharpen = 0.5 })},
		{in: "300x200-cover,bg:FF8000", spec: "300x200-cover,bg:ff8000",
			want: with(func(t *Transform) { t.Background, t.HasBackground = Color{255, 128, 0}, true })},
		{in: "300x200-inside,ex:1:no", want: with(func(t *Transform) {
			t.Fit, t.Extend, t.ExtendGravity = FitInside, true, GravityNorth
		})},
		{in: "300x200-cover,pd:10", want: with(func(t *Transform) { t.Padding = Padding{10, 10, 10, 10} })},
		{in: "300x200-cover,pd:10:20:10:20", spec: "300x200-cover,pd:10:20",
			want: with(func(t *Transform) { t.Padding = Padding{10, 20, 10, 20} })},
		{in: "300x200-cover,pd:1:2:3", spec: "300x200-cover,pd:1:2:3",
			want: with(func(t *Transform) { t.Padding = Padding{1, 2, 3, 2} })},
		{in: "300x200-cover,pd:1:2:3:4", want: with(func(t *Transform) { t.Padding = Padding{1, 2, 3, 4} })},
		{in: "300x200-cover,rot:90", want: with(func(t *Transform) { t.Rotate = 90 })},
		{in: "300x200-cover,scp:0", want: with(func(t *Transform) { t.KeepProfile = true })},
		{in: "300x200-cover,scp:1", want: base, spec: "300x200-cover"},
		{in: "300x200-cover,el:1", want: with(func(t *Transform) { t.Upscale = true })},
		{in: "300x200-cover,wm:1:soea", want: with(func(t *Transform) {
			t.Watermark = Watermark{Opacity: 1, Position: GravitySouthEast}
		})},
		{in: "300x200-cover,wm:0.5:ce:10:0:0.25,wmk:bG9nb3MvYS5wbmc", want: with(func(t *Transform) {
			t.Watermark = Watermark{Key: "logos/a.png", Opacity: 0.5, OffsetX: 10, Scale: 0.25}
		})},
		{in: "300x200-cover,wm:0", want: base, spec: "300x200-cover"},
		// Any order in, canonical order out.
		{in: "300x200-cover,q:70,bl:2,g:no", spec: "300x200-cover,g:no,q:70,bl:2",
			want: with(func(t *Transform) { t.Quality, t.Blur, t.Gravity = 70, 2, GravityNorth })},
		// A preset with options is custom; restating the preset keeps it.
		{in: "thumbnail,q:60", spec: "150x150-cover,q:60",
			want: Transform{Width: 150, Height: 150, Fit: FitCover, Quality: 60}},
		{in: "thumbnail,g:ce", spec: "thumbnail",
			want: Transform{Preset: "thumbnail", Width: 150, Height: 150, Fit: FitCover, Folder: "thumbnails/"}},
		{in: "wm,q:60", spec: "wm,q:60,wm:0.5:soea,wmk:bG9nby5wbmc",
			want: Transform{Preset: "wm", Width: 100, Height: 100, Fit: FitCover, Quality: 60, Folder: "wm/",
				Watermark: Watermark{Key: "logo.png", Opacity: 0.5, Position: GravitySouthEast}}},
		{in: "wm,wm:0", spec: "100x100-cover,q:60",
			want: Transform{Width: 100, Height: 100, Fit: FitCover, Quality: 60}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := p.ParseSpec(tc.in)
			if err != nil || got != tc.want {
				t.Fatalf("ParseSpec(%q) =\n %+v, %v; want\n %+v", tc.in, got, err, tc.want)
			}
			spec := tc.spec
			if spec == "" {
				spec = tc.in
			}
			if got.Spec() != spec {
				t.Errorf("Spec() = %q, want %q", got.Spec(), spec)
			}
			if back, err := p.ParseSpec(got.Spec()); err != nil || back != got {
				t.Errorf("ParseSpec(Spec()) = %+v, %v", back, err)
			}
		})
	}
}

func TestParseSpecOptionErrors(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Presets["huge"] = Preset{Width: 8000, Fit: FitInside}
	p := newProcessorConfig(t, cfg)
	tests := []struct {
		in   string
		msg  string // in the public message
		kind error
	}{
		{"300x200,bl:500", "option bl: sigma 500 out of range 0.3–100", ErrBadSpec},
		{"300x200,bl:0.1", "option bl: sigma 0.1 out of range 0.3–100", ErrBadSpec},
		{"300x200,bl:-1", `option bl: sigma "-1"`, ErrBadSpec},
		{"300x200,bl:NaN", `option bl: sigma "NaN"`, ErrBadSpec},
		{"300x200,bl:1e2", `option bl: sigma "1e2"`, ErrBadSpec},
		{"300x200,sh:11", "option sh: sigma 11 out of range 0.3–10", ErrBadSpec},
		{"300x200,zz:1", "option zz: unknown option", ErrBadSpec},
		{"300x200,", "empty option", ErrBadSpec},
		{"300x200,q:70,q:80", "option q: given twice", ErrBadSpec},
		{"300x200,q:101", "option q: quality 101 out of range 0–100", ErrBadSpec},
		{"300x200,q:07", `option q: quality "07"`, ErrBadSpec},
		{"300x200,g:up", `option g: gravity "up"`, ErrBadSpec},
		{"300x200,g:fp:1.5:0", "option g: focus x 1.5 out of range 0–1", ErrBadSpec},
		{"300x200,g:fp:0.5", "option g: want fp:{x}:{y}", ErrBadSpec},
		{"300x200,g:no:1", "option g: gravity no takes no arguments", ErrBadSpec},
		{"300x200,c:10", "option c: want c:{width}:{height}", ErrBadSpec},
		{"300x200,c:10:10:sm", `option c: gravity "sm"`, ErrBadSpec},
		{"300x200,c:0:0:no", "option c: a gravity without a crop size", ErrBadSpec},
		{"300x200,dpr:5", "option dpr: dpr 5 out of range 1–4", ErrBadSpec},
		{"300x200,dpr:0.5", "option dpr: dpr 0.5 out of range 1–4", ErrBadSpec},
		{"300x200,bg:fff", `option bg: colour "fff"`, ErrBadSpec},
		{"300x200,ex:2", "option ex: want ex:0 or ex:1", ErrBadSpec},
		{"300x200,ex:1:sm", `option ex: gravity "sm"`, ErrBadSpec},
		{"300x200,ex:0:no", "option ex: a gravity with ex:0", ErrBadSpec},
		{"300x200,pd:1:2:3:4:5", "option pd: want pd:", ErrBadSpec},
		{"300x200,pd:3000", "option pd: padding over the maximum size", ErrBadSpec},
		{"300x200,rot:45", `option rot: angle "45"`, ErrBadSpec},
		{"300x200,scp:yes", "option scp: want scp:0 or scp:1", ErrBadSpec},
		{"300x200,wm:2", "option wm: opacity 2 out of range 0–1", ErrBadSpec},
		{"300x200,wm:1:fp", `option wm: position "fp"`, ErrBadSpec},
		{"300x200,wm:1:ce:1", "option wm: want wm:{opacity}", ErrBadSpec},
		{"300x200,wm:0:no", "option wm: a position, offset or scale with opacity 0", ErrBadSpec},
		{"300x200,wmk:bG9nbw", "option wmk: needs a watermark", ErrBadSpec},
		{"300x200,wm:1,wmk:***", `option wmk: key "***"`, ErrBadSpec},
		{"300x200-ciover,q:1", "unknown preset or malformed size", ErrBadSpec},
		{"nope,q:1", "unknown preset or malformed size", ErrBadSpec},
		{"huge,q:1", "preset huge with options: size 8000x0 over the maximum 4096x4096", ErrTooLarge},
		{strings.Repeat(",q:1", 17)[1:], "", ErrBadSpec},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := p.ParseSpec(tc.in)
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 || !errors.Is(err, tc.kind) {
				t.Fatalf("ParseSpec(%q) = %+v, %v; want a 400 wrapping %v", tc.in, got, err, tc.kind)
			}
			if !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("message %q does not contain %q", e.Msg, tc.msg)
			}
		})
	}
}

// FuzzSpecOptions: whatever ParseSpec accepts spells back to itself
// (ParseSpec(t.Spec()) == t), and Spec is a fixed point; anything else is a
// 400 *Error.
func FuzzSpecOptions(f *testing.F) {
	for _, s := range []string{
		"300x200-cover,g:fp:0.3:0.7,q:70", "thumbnail,q:60", "thumbnail,g:ce", "300x0,ex:1:soea,pd:1:2:3",
		"10x10-fill,bl:2,sh:0.5,bg:00ff00,rot:270,scp:0,el:1,dpr:3.5",
		"300x200,wm:0.5:noea:3:4:0.2,wmk:bG9nbw", "300x200,c:100:0:fp:0.1:0.9", "1x1,pd:0:1", "300x200,wm:1,wm:1",
	} {
		f.Add(s)
	}
	cfg := DefaultConfig()
	cfg.Presets["wm"] = Preset{Width: 100, Height: 100, Fit: FitCover, Quality: 60,
		Watermark: PresetWatermark{Key: "logo.png", Opacity: 0.5, Position: "soea"}}
	p := newProcessorConfig(f, cfg)
	f.Fuzz(func(t *testing.T, s string) {
		tr, err := p.ParseSpec(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("ParseSpec(%q) error %v is not a 400 *Error", s, err)
			}
			return
		}
		spec := tr.Spec()
		back, err := p.ParseSpec(spec)
		if err != nil || back != tr {
			t.Fatalf("ParseSpec(%q) = %+v\nSpec() = %q parses to %+v, %v", s, tr, spec, back, err)
		}
		if back.Spec() != spec {
			t.Fatalf("Spec not a fixed point: %q then %q", spec, back.Spec())
		}
		if tr.Custom() && (tr.Width > p.cfg.MaxWidth || tr.Height > p.cfg.MaxHeight || tr.Folder != "") {
			t.Fatalf("ParseSpec(%q) accepted %+v", s, tr)
		}
	})
}

func newProcessorConfig(tb testing.TB, cfg Config) *Processor {
	tb.Helper()
	p, err := New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return p
}
