package resize

import (
	"fmt"
	"strconv"
	"strings"
)

// Transform is a parsed size spec: what Process should produce.
type Transform struct {
	// Preset is the preset's name, or "" for a custom size.
	Preset string
	// Width and Height in pixels; 0 means unconstrained (FitInside only).
	Width, Height int
	// Fit is never empty in a Transform from ParseSpec.
	Fit Fit
	// Gravity anchors a cover crop (and extension): centre by default,
	// an edge, GravitySmart (libvips smartcrop; a preset's smart_crop) or
	// GravityFocus at FocusX/FocusY (fractions of the source, 0–1).
	Gravity        Gravity
	FocusX, FocusY float64
	// Upscale allows output larger than the source.
	Upscale bool
	// Quality overrides the per-format default when non-zero.
	Quality int

	// The processing options of options.go; zero values are the defaults
	// (no crop, DPR 1, no blur, no sharpen, white background, no extension,
	// no padding, no rotation, profile stripped, no watermark).

	// Crop cuts the source before resizing when Width or Height > 0.
	Crop Crop
	// DPR multiplies Width and Height (1–4; 0 means 1), capped by
	// Config.MaxWidth/MaxHeight.
	DPR float64
	// Blur is a Gaussian blur's sigma; Sharpen a sharpen's sigma (0 = off).
	Blur, Sharpen float64
	// Background flattens alpha when HasBackground (JPEG output flattens
	// onto white otherwise).
	Background    Color
	HasBackground bool
	// Extend pads the result to exactly Width×Height with the background,
	// anchored by ExtendGravity, when it came out smaller.
	Extend        bool
	ExtendGravity Gravity
	// Padding adds a border of the background colour around the result.
	Padding Padding
	// Rotate by 0, 90, 180 or 270 degrees clockwise, after EXIF orientation.
	Rotate int
	// KeepProfile keeps the source's ICC colour profile (and converts
	// nothing); the default strips it after converting to sRGB.
	KeepProfile bool
	// Watermark, when Opacity > 0.
	Watermark Watermark
	// Folder is the preset's write-back folder ("thumbnails/"); "" for
	// custom sizes, which are not written back.
	Folder string
}

// Custom reports whether t is a custom size, which the gateway should only
// serve with a valid signature.
func (t Transform) Custom() bool { return t.Preset == "" }

// Spec returns t's canonical spec: the preset name, or "{W}x{H}-{fit}",
// followed by every non-default option in a fixed order in its shortest
// spelling (",g:no,q:70"; see options.go). Equal transforms have equal
// specs, and ParseSpec(t.Spec()) returns t again for every t ParseSpec
// returned, so the gateway keys variants by it. A preset's spec does not
// spell its size: code that changes a preset transform's Width, Height,
// Fit or Upscale must clear Preset and Folder first (it is then a custom
// transform, spelt in full).
func (t Transform) Spec() string {
	var b []byte
	if t.Preset != "" {
		b = append(b, t.Preset...)
	} else {
		b = strconv.AppendInt(b, int64(t.Width), 10)
		b = append(b, 'x')
		b = strconv.AppendInt(b, int64(t.Height), 10)
		b = append(b, '-')
		b = append(b, t.Fit...)
	}
	return string(t.appendOptions(b))
}

// ParseSpec parses a size spec: a preset name ("thumbnail") or a custom
// size "{W}x{H}[-{fit}]" ("300x200", "300x0-inside", "640x480-cover") with
// fit inside (the default), cover or fill. Dimensions are decimal without
// sign or leading zeros; 0 means unconstrained and is allowed only with
// inside, and not for both. Custom sizes never upscale (but for el:1). Any failure is an
// *Error with Status 400 wrapping ErrBadSpec or, over MaxWidth/MaxHeight,
// ErrTooLarge. Safe for concurrent use.
//
// Options follow the size or preset name, each ",name:args" (options.go
// has the grammar): "300x200-cover,g:fp:0.3:0.7,q:70". A preset name with
// options ("thumbnail,q:60") is a custom transform, signed like a custom
// size and not written back, unless the options only restate the preset.
func (p *Processor) ParseSpec(s string) (Transform, error) {
	base, opts, hasOpts := strings.Cut(s, ",")
	t, err := p.parseSize(base)
	if err != nil || !hasOpts {
		return t, err
	}
	return p.applyOptions(t, opts)
}

// parseSize parses a spec without options: a preset name or a custom size.
func (p *Processor) parseSize(s string) (Transform, error) {
	if pr, ok := p.presets[s]; ok {
		return pr, nil
	}
	w, h, fit, ok := splitCustom(s)
	if !ok {
		return Transform{}, badRequest(ErrBadSpec, "unknown preset or malformed size", fmt.Errorf("spec %q", clip(s)))
	}
	if w == 0 && h == 0 {
		return Transform{}, badRequest(ErrBadSpec, "size 0x0", nil)
	}
	if fit != FitInside && (w == 0 || h == 0) {
		return Transform{}, badRequest(ErrBadSpec, "fit "+string(fit)+" needs both width and height", nil)
	}
	if w > p.cfg.MaxWidth || h > p.cfg.MaxHeight {
		return Transform{}, badRequest(ErrTooLarge,
			fmt.Sprintf("size %dx%d over the maximum %dx%d", w, h, p.cfg.MaxWidth, p.cfg.MaxHeight), nil)
	}
	return Transform{Width: w, Height: h, Fit: fit}, nil
}

// clip shortens untrusted input quoted in error details.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// splitCustom parses "{W}x{H}[-{fit}]" syntactically. It does not allocate.
func splitCustom(s string) (w, h int, fit Fit, ok bool) {
	w, s, ok = parseDim(s)
	if !ok || len(s) == 0 || s[0] != 'x' {
		return 0, 0, "", false
	}
	h, s, ok = parseDim(s[1:])
	if !ok {
		return 0, 0, "", false
	}
	switch s {
	case "", "-inside":
		return w, h, FitInside, true
	case "-cover":
		return w, h, FitCover, true
	case "-fill":
		return w, h, FitFill, true
	}
	return 0, 0, "", false
}

// parseDim reads 1–5 decimal digits without a leading zero (except "0").
func parseDim(s string) (n int, rest string, ok bool) {
	i := 0
	for i < len(s) && i < 6 && s[i] >= '0' && s[i] <= '9' {
		n = n*10 + int(s[i]-'0')
		i++
	}
	if i == 0 || i > 5 || (i > 1 && s[0] == '0') {
		return 0, s, false
	}
	return n, s[i:], true
}
