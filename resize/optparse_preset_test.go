package resize

import (
	"strings"
	"testing"
)

func TestPresetOptions(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Presets["card"] = Preset{Width: 400, Height: 300, Fit: FitCover, Gravity: "fp", FocusX: 0.25, FocusY: 0.75,
		Crop: PresetCrop{Width: 1000, Gravity: "no"}, Quality: 70, Blur: 1.5, Sharpen: 0.5, Background: "102030",
		Extend: true, ExtendGravity: "so", Padding: PresetPadding{Top: 4, Right: 4, Bottom: 4, Left: 4}, Rotate: 90, KeepProfile: true,
		Watermark: PresetWatermark{Key: "logo.png", Opacity: 0.8, Position: "soea", OffsetX: 5, OffsetY: 6, Scale: 0.2}}
	p := newProcessorConfig(t, cfg)
	got, ok := p.Preset("card")
	want := Transform{Preset: "card", Width: 400, Height: 300, Fit: FitCover, Gravity: GravityFocus, FocusX: 0.25, FocusY: 0.75,
		Crop: Crop{Width: 1000, Gravity: GravityNorth}, Quality: 70, Blur: 1.5, Sharpen: 0.5,
		Background: Color{0x10, 0x20, 0x30}, HasBackground: true, Extend: true, ExtendGravity: GravitySouth,
		Padding: Padding{4, 4, 4, 4}, Rotate: 90, KeepProfile: true, Folder: "card/",
		Watermark: Watermark{Key: "logo.png", Opacity: 0.8, Position: GravitySouthEast, OffsetX: 5, OffsetY: 6, Scale: 0.2}}
	if !ok || got != want {
		t.Fatalf("Preset(card) =\n %+v\nwant\n %+v", got, want)
	}
	const spec = "card,g:fp:0.25:0.75,c:1000:0:no,q:70,bl:1.5,sh:0.5,bg:102030,ex:1:so,pd:4,rot:90,scp:0,wm:0.8:soea:5:6:0.2,wmk:bG9nby5wbmc"
	if got.Spec() != spec {
		t.Errorf("Spec() = %q, want %q", got.Spec(), spec)
	}
	if back, err := p.ParseSpec(spec); err != nil || back != got {
		t.Errorf("ParseSpec(Spec()) = %+v, %v; want the preset", back, err)
	}
	if back, err := p.ParseSpec("card,q:71"); err != nil || !back.Custom() || back.Quality != 71 || back.Folder != "" || back.Blur != 1.5 {
		t.Errorf("ParseSpec(card,q:71) = %+v, %v; want a custom transform with the preset's options and q 71", back, err)
	}
}

func TestPresetOptionErrors(t *testing.T) {
	tests := []struct {
		p    Preset
		want string
	}{
		{Preset{Gravity: "up"}, `preset "x": gravity "up": want ce`},
		{Preset{Gravity: "no", SmartCrop: true}, "gravity no and smart_crop: give one"},
		{Preset{Gravity: "fp", FocusX: 2}, "focus 2,0: want fractions 0–1"},
		{Preset{FocusX: 0.5}, "focus_x/focus_y without gravity fp"},
		{Preset{Crop: PresetCrop{Gravity: "no"}}, "crop 0x0: want 0–99999 each, not both 0"},
		{Preset{Crop: PresetCrop{Width: 5, Gravity: "sm"}}, `crop.gravity "sm"`},
		{Preset{Crop: PresetCrop{Width: 5, FocusY: 0.5}}, "crop.focus_x/focus_y without crop.gravity fp"},
		{Preset{Blur: 500}, "blur 500: want a sigma 0.3–100 (0 = off)"},
		{Preset{Sharpen: 0.1}, "sharpen 0.1: want a sigma 0.3–10"},
		{Preset{Background: "#fff"}, `background "#fff": want 6 hex digits`},
		{Preset{ExtendGravity: "no"}, "extend_gravity without extend: true"},
		{Preset{Extend: true, ExtendGravity: "fp"}, `extend_gravity "fp"`},
		{Preset{Padding: PresetPadding{Left: -1}}, "padding -1: want 0–16383"},
		{Preset{Rotate: 45}, "rotate 45: want 0, 90, 180 or 270"},
		{Preset{Watermark: PresetWatermark{Key: "a.png"}}, "watermark.opacity 0: want over 0"},
		{Preset{Watermark: PresetWatermark{Opacity: 1, Position: "sm"}}, `watermark.position "sm"`},
		{Preset{Watermark: PresetWatermark{Opacity: 1, Scale: 2}}, "watermark.scale 2: want 0–1"},
		{Preset{Watermark: PresetWatermark{Opacity: 1, OffsetX: -3}}, "watermark.offset -3,0"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.p.Width, tc.p.Height = 100, 100
			cfg.Presets = map[string]Preset{"x": tc.p}
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "resize: ") {
				t.Fatalf("Validate() = %v; want an error containing %q", err, tc.want)
			}
		})
	}
}
