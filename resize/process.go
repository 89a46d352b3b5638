package resize

import (
	"fmt"
	"math"

	"github.com/h2non/bimg"
)

// Processor resizes images under one validated Config. It is immutable and
// safe for concurrent use; build a new one to change configuration.
type Processor struct {
	cfg     Config
	presets map[string]Transform
	keys    [][]byte
}

// New validates cfg and returns a Processor. cfg is copied; later changes
// to it (or its maps) do not affect the Processor.
func New(cfg Config) (*Processor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	keys, err := DecodeKeys(cfg.SigningKeys)
	if err != nil {
		return nil, err
	}
	p := &Processor{cfg: cfg, presets: make(map[string]Transform, len(cfg.Presets)), keys: keys}
	p.cfg.Presets = make(map[string]Preset, len(cfg.Presets))
	p.cfg.SigningKeys = append([]string(nil), cfg.SigningKeys...)
	for name, pr := range cfg.Presets {
		if pr.Fit == "" {
			pr.Fit = FitInside
		}
		if pr.Folder == "" {
			pr.Folder = defaultFolder(name)
		}
		p.cfg.Presets[name] = pr
		p.presets[name], _ = presetTransform(name, pr) // validated above
	}
	return p, nil
}

// Config returns a copy of the Processor's configuration with preset
// defaults (fit, folder) filled in.
func (p *Processor) Config() Config {
	c := p.cfg
	c.Presets = make(map[string]Preset, len(p.cfg.Presets))
	for k, v := range p.cfg.Presets {
		c.Presets[k] = v
	}
	c.SigningKeys = append([]string(nil), p.cfg.SigningKeys...)
	return c
}

// Preset returns the Transform of a named preset.
func (p *Processor) Preset(name string) (Transform, bool) {
	t, ok := p.presets[name]
	return t, ok
}

// Sign signs path with the first configured key; ok is false when no key
// is configured.
func (p *Processor) Sign(path string) (sig string, ok bool) {
	if len(p.keys) == 0 {
		return "", false
	}
	return Sign(p.keys[0], path), true
}

// Verify checks sig against every configured key (see Verify). With no
// keys configured nothing verifies.
func (p *Processor) Verify(path, sig string) bool { return Verify(p.keys, path, sig) }

// Check enforces the source limits before any decoding: MaxSourceBytes,
// then the header (Probe), then MaxSourcePixels. Failures are *Error with
// Status 415 or 422; a header claiming 100000×100000 is refused in
// microseconds. The gateway calls it (or Process, which calls it) before
// Admission, and uses Info.Megapixels as the admission cost.
func (p *Processor) Check(data []byte) (Info, error) {
	if int64(len(data)) > p.cfg.MaxSourceBytes {
		return Info{}, unprocessable(ErrTooLarge, "source image too large",
			fmt.Errorf("%d bytes, limit %d", len(data), p.cfg.MaxSourceBytes))
	}
	info, err := Probe(data)
	if err != nil {
		return Info{}, err
	}
	if err := p.checkFrames(info); err != nil { // animated.go: frames, frames × pixels
		return Info{}, err
	}
	if info.Pixels() > int64(p.cfg.MaxSourcePixels) {
		return Info{}, unprocessable(ErrTooLarge, "source image resolution too large",
			fmt.Errorf("%dx%d is %d pixels, limit %d", info.Width, info.Height, info.Pixels(), p.cfg.MaxSourcePixels))
	}
	return info, nil
}

// Process resizes data as t says and encodes it as f: EXIF orientation is
// applied, colour converted to sRGB (through the embedded ICC profile when
// there is one), metadata stripped, and the format's configured quality
// used unless t.Quality overrides it. Alpha is kept for PNG, WebP and AVIF
// and flattened onto white for JPEG. It returns the encoded image and its
// Info (orientation applied, so Orientation is 0).
//
// Process runs Check first. Errors are *Error: 415/422 for the source
// (including a body libvips cannot read), 400 for an invalid f. Pixel data
// truncated mid-scan is decoded as far as it goes and padded, as libvips
// (and browsers) do by default, not refused. It does not take budget: callers wrap it in Admission.Acquire.
// libvips work cannot be interrupted, so Process has no context.
func (p *Processor) Process(data []byte, t Transform, f Format) ([]byte, Info, error) {
	if !f.valid() {
		return nil, Info{}, badRequest(ErrBadSpec, "unknown output format", nil)
	}
	src, err := p.Check(data)
	if err != nil {
		return nil, Info{}, err
	}
	if src.Animated() && (f == WebP || f == GIF) {
		return p.processAnimated(data, src, p.withDPR(t), f) // animated.go: bimg loads one frame
	}
	t = p.withDPR(t)
	opts, outW, outH := p.options(src, t, f)
	if t.needsApply() || (outW < tinySide || outH < tinySide) && f != GIF {
		// apply.go: options bimg cannot do, and outputs so small that
		// bimg's shrink leaves nothing ("shrinkv: image has shrunk to
		// nothing" for 1x1 from 640x190).
		return p.apply(data, src, t, f, nil)
	}
	out, err := bimg.NewImage(bimgReadable(data, src)).Process(opts)
	if err != nil {
		// The header was fine, so this is a broken body (truncated JPEG
		// scan, bad deflate stream) or an encoder failure.
		return nil, Info{}, unprocessable(ErrCorrupt, "image could not be processed",
			fmt.Errorf("libvips: %s", firstLine(err.Error())))
	}
	if f == WebP {
		out = stripWebP(out)
	}
	return out, Info{
		Format:   f,
		Width:    outW,
		Height:   outH,
		HasAlpha: src.HasAlpha && f != JPEG,
	}, nil
}

// options builds bimg options for src → t in format f, and the exact output
// size they produce. Sizes are computed here rather than left to bimg so
// "never upscale" holds for every fit and Info is known without re-reading
// the output.
func (p *Processor) options(src Info, t Transform, f Format) (o bimg.Options, outW, outH int) {
	w, h := src.DisplaySize()
	o = bimg.Options{
		StripMetadata:  true,
		Interpretation: bimg.InterpretationSRGB,
		OutputICC:      "srgb", // libvips built-in profile; used only when the source has one
		Type:           bimgType(f),
	}
	switch f {
	case JPEG:
		o.Quality = p.cfg.Quality.JPEG
		if src.HasAlpha {
			o.Background = bimg.Color{R: 255, G: 255, B: 255}
		}
	case WebP:
		o.Quality = p.cfg.Quality.WebP
	case AVIF:
		o.Quality = p.cfg.Quality.AVIF
		o.Speed = p.cfg.AVIFSpeed
	case PNG:
		o.Compression = p.cfg.Quality.PNG
		o.Speed = 3 // bimg passes effort = 10 - Speed; 7 is libvips' default
	}
	if t.Quality > 0 && f != PNG {
		o.Quality = t.Quality
	}

	outW, outH = w, h
	switch t.Fit {
	case FitCover:
		scale := math.Max(float64(t.Width)/float64(w), float64(t.Height)/float64(h))
		cw, ch := t.Width, t.Height
		if scale > 1 && !t.Upscale {
			// Crop what the source has at scale 1, never enlarging.
			cw, ch = min(cw, w), min(ch, h)
		}
		outW, outH = cw, ch
		if cw == w && ch == h {
			break // identity
		}
		o.Width, o.Height, o.Crop = cw, ch, true
		o.Enlarge = t.Upscale
		o.Gravity = bimg.GravityCentre
		if t.Gravity == GravitySmart {
			o.Gravity = bimg.GravitySmart
		}
	case FitFill:
		fw, fh := t.Width, t.Height
		if !t.Upscale {
			fw, fh = min(fw, w), min(fh, h)
		}
		outW, outH = fw, fh
		if fw == w && fh == h {
			break
		}
		o.Width, o.Height, o.Force = fw, fh, true
	default: // FitInside
		scale := math.Inf(1)
		if t.Width > 0 {
			scale = float64(t.Width) / float64(w)
		}
		if t.Height > 0 {
			scale = math.Min(scale, float64(t.Height)/float64(h))
		}
		if scale > 1 && !t.Upscale || math.IsInf(scale, 1) {
			scale = 1
		}
		outW = max(1, int(math.Round(float64(w)*scale)))
		outH = max(1, int(math.Round(float64(h)*scale)))
		if t.Width > 0 && scale == float64(t.Width)/float64(w) {
			outW = t.Width // exact on the constrained side
		}
		if t.Height > 0 && scale == float64(t.Height)/float64(h) {
			outH = t.Height
		}
		if outW == w && outH == h {
			break
		}
		o.Width, o.Height, o.Force = outW, outH, true
	}
	return o, outW, outH
}

// tinySide: an output side under this many pixels is rendered by the
// options pipeline, not bimg.
const tinySide = 4

func bimgType(f Format) bimg.ImageType {
	switch f {
	case PNG:
		return bimg.PNG
	case WebP:
		return bimg.WEBP
	case AVIF:
		return bimg.AVIF
	case GIF:
		return bimg.GIF
	}
	return bimg.JPEG
}
