package resize

import (
	"errors"
	"fmt"
)

// presetTransform builds a preset's Transform from its configuration, or
// says which field is wrong (validatePreset prefixes the preset's name).
// Size and fit are validated by validatePreset itself.
func presetTransform(name string, pr Preset) (Transform, error) {
	t := Transform{
		Preset: name, Width: pr.Width, Height: pr.Height, Fit: pr.Fit,
		Upscale: pr.Upscale, Quality: pr.Quality, Folder: pr.Folder,
		Blur: pr.Blur, Sharpen: pr.Sharpen, Extend: pr.Extend, Rotate: pr.Rotate, KeepProfile: pr.KeepProfile,
	}
	if pr.SmartCrop {
		t.Gravity = GravitySmart
	}
	if pr.Gravity != "" {
		g, ok := ParseGravity(pr.Gravity)
		if !ok {
			return t, fmt.Errorf("gravity %q: want ce, no, so, ea, we, noea, nowe, soea, sowe, sm or fp", pr.Gravity)
		}
		if pr.SmartCrop && g != GravitySmart {
			return t, fmt.Errorf("gravity %s and smart_crop: give one", pr.Gravity)
		}
		t.Gravity = g
	}
	var err error
	if t.FocusX, t.FocusY, err = presetFocus("", t.Gravity, pr.FocusX, pr.FocusY); err != nil {
		return t, err
	}
	if c := pr.Crop; c != (PresetCrop{}) {
		if c.Width < 0 || c.Height < 0 || c.Width > 99999 || c.Height > 99999 || c.Width == 0 && c.Height == 0 {
			return t, fmt.Errorf("crop %dx%d: want 0–99999 each, not both 0", c.Width, c.Height)
		}
		t.Crop = Crop{Width: c.Width, Height: c.Height}
		if c.Gravity != "" {
			g, ok := ParseGravity(c.Gravity)
			if !ok || g == GravitySmart {
				return t, fmt.Errorf("crop.gravity %q: want ce, no, so, ea, we, noea, nowe, soea, sowe or fp", c.Gravity)
			}
			t.Crop.Gravity = g
		}
		if t.Crop.FocusX, t.Crop.FocusY, err = presetFocus("crop.", t.Crop.Gravity, c.FocusX, c.FocusY); err != nil {
			return t, err
		}
	}
	if pr.Quality < 0 || pr.Quality > 100 {
		return t, fmt.Errorf("quality %d: want 0–100", pr.Quality)
	}
	if pr.Blur != 0 && (pr.Blur < minBlur || pr.Blur > maxBlur) {
		return t, fmt.Errorf("blur %g: want a sigma %g–%g (0 = off)", pr.Blur, minBlur, maxBlur)
	}
	if pr.Sharpen != 0 && (pr.Sharpen < minSharpen || pr.Sharpen > maxSharpen) {
		return t, fmt.Errorf("sharpen %g: want a sigma %g–%g (0 = off)", pr.Sharpen, minSharpen, maxSharpen)
	}
	if pr.Background != "" {
		c, ok := parseHexColor(pr.Background)
		if !ok {
			return t, fmt.Errorf("background %q: want 6 hex digits RRGGBB", pr.Background)
		}
		t.Background, t.HasBackground = c, true
	}
	if pr.ExtendGravity != "" {
		g, ok := ParseGravity(pr.ExtendGravity)
		if !ok || !g.edge() {
			return t, fmt.Errorf("extend_gravity %q: want ce, no, so, ea, we, noea, nowe, soea or sowe", pr.ExtendGravity)
		}
		if !pr.Extend {
			return t, errors.New("extend_gravity without extend: true")
		}
		t.ExtendGravity = g
	}
	pd := pr.Padding
	for _, v := range []int{pd.Top, pd.Right, pd.Bottom, pd.Left} {
		if v < 0 || v > maxDimension {
			return t, fmt.Errorf("padding %d: want 0–%d pixels", v, maxDimension)
		}
	}
	t.Padding = Padding(pd)
	switch pr.Rotate {
	case 0, 90, 180, 270:
	default:
		return t, fmt.Errorf("rotate %d: want 0, 90, 180 or 270", pr.Rotate)
	}
	if w := pr.Watermark; w != (PresetWatermark{}) {
		if w.Opacity <= 0 || w.Opacity > 1 {
			return t, fmt.Errorf("watermark.opacity %g: want over 0, at most 1", w.Opacity)
		}
		if len(w.Key) > maxWatermarkKey {
			return t, fmt.Errorf("watermark.key: %d bytes, want at most %d", len(w.Key), maxWatermarkKey)
		}
		t.Watermark = Watermark{Key: w.Key, Opacity: w.Opacity, OffsetX: w.OffsetX, OffsetY: w.OffsetY, Scale: w.Scale}
		if w.Position != "" {
			g, ok := ParseGravity(w.Position)
			if !ok || !g.edge() {
				return t, fmt.Errorf("watermark.position %q: want ce, no, so, ea, we, noea, nowe, soea or sowe", w.Position)
			}
			t.Watermark.Position = g
		}
		if w.OffsetX < 0 || w.OffsetY < 0 || w.OffsetX > maxDimension || w.OffsetY > maxDimension {
			return t, fmt.Errorf("watermark.offset %d,%d: want 0–%d pixels", w.OffsetX, w.OffsetY, maxDimension)
		}
		if w.Scale < 0 || w.Scale > 1 {
			return t, fmt.Errorf("watermark.scale %g: want 0–1 (0 = the watermark's own size)", w.Scale)
		}
	}
	return t, nil
}

// presetFocus checks a focus point: set only with gravity fp, each 0–1.
func presetFocus(prefix string, g Gravity, x, y float64) (float64, float64, error) {
	if g != GravityFocus {
		if x != 0 || y != 0 {
			return 0, 0, fmt.Errorf("%sfocus_x/focus_y without %sgravity fp", prefix, prefix)
		}
		return 0, 0, nil
	}
	if !(x >= 0 && x <= 1 && y >= 0 && y <= 1) {
		return 0, 0, fmt.Errorf("%sfocus %g,%g: want fractions 0–1", prefix, x, y)
	}
	return x, y, nil
}
