package resize

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// EnvSigningKeys names the environment variable that, when set, replaces
// Config.SigningKeys: a comma-separated list of hex or base64 keys.
const EnvSigningKeys = "EDGEGATE_IMG_SIGNING_KEYS"

// MinKeyBytes is the shortest signing key accepted, after decoding.
const MinKeyBytes = 32

// maxDimension is the largest width or height libvips (through bimg) will
// crop or embed to; MaxWidth and MaxHeight may not exceed it.
const maxDimension = 16383

// Fit says how a Transform fits the source into Width×Height.
type Fit string

// Fits.
const (
	// FitInside scales to fit within Width×Height keeping the aspect ratio;
	// a zero dimension is unconstrained. The default.
	FitInside Fit = "inside"
	// FitCover scales to cover Width×Height keeping the aspect ratio, then
	// crops to exactly Width×Height (centre, or smart with SmartCrop).
	FitCover Fit = "cover"
	// FitFill stretches to exactly Width×Height, ignoring the aspect ratio.
	FitFill Fit = "fill"
)

func (f Fit) valid() bool { return f == FitInside || f == FitCover || f == FitFill }

// Preset is a named transform from configuration, e.g. thumbnail.
type Preset struct {
	// Width and Height in pixels; 0 means unconstrained (inside only).
	Width  int `yaml:"width"`
	Height int `yaml:"height"`
	// Fit is inside (default when empty), cover or fill.
	Fit Fit `yaml:"fit"`
	// SmartCrop makes cover crop around the most interesting region
	// (libvips smartcrop) instead of the centre. Default: false.
	SmartCrop bool `yaml:"smart_crop"`
	// Upscale allows output larger than the source. Default: false.
	Upscale bool `yaml:"upscale"`
	// Quality overrides Config.Quality for lossy formats (1–100); 0 keeps
	// the per-format default.
	Quality int `yaml:"quality"`
	// Folder is where the gateway writes results back, relative to the
	// source's prefix, ending in "/". Default: name + "/", except thumbnail
	// → "thumbnails/".
	Folder string `yaml:"folder"`

	// The processing options of a custom spec's grammar (options.go), all
	// off by default.

	// Gravity anchors the cover crop: ce (default), no, so, ea, we, noea,
	// nowe, soea, sowe, sm (smart, as smart_crop) or fp (at focus_x,
	// focus_y).
	Gravity string `yaml:"gravity,omitempty"`
	// FocusX and FocusY are gravity fp's point, fractions of the source's
	// width and height (0–1).
	FocusX float64 `yaml:"focus_x,omitempty"`
	FocusY float64 `yaml:"focus_y,omitempty"`
	// Crop cuts the source before resizing.
	Crop PresetCrop `yaml:"crop,omitempty"`
	// Blur is a Gaussian blur's sigma (0.3–100); Sharpen a sharpen's sigma
	// (0.3–10). 0 = off.
	Blur    float64 `yaml:"blur,omitempty"`
	Sharpen float64 `yaml:"sharpen,omitempty"`
	// Background is the colour alpha is flattened onto and extension and
	// padding are filled with, "RRGGBB" hex. Default: none (alpha kept
	// where the format has it; white for JPEG and borders).
	Background string `yaml:"background,omitempty"`
	// Extend pads the result to exactly width×height when it came out
	// smaller; ExtendGravity anchors it (edge gravities only, ce default).
	Extend        bool   `yaml:"extend,omitempty"`
	ExtendGravity string `yaml:"extend_gravity,omitempty"`
	// Padding around the result in pixels, filled with the background.
	Padding PresetPadding `yaml:"padding,omitempty"`
	// Rotate by 0, 90, 180 or 270 degrees clockwise after EXIF orientation.
	Rotate int `yaml:"rotate,omitempty"`
	// KeepProfile keeps the source's ICC colour profile instead of
	// converting to sRGB and stripping it.
	KeepProfile bool `yaml:"keep_profile,omitempty"`
	// Watermark composites an image from the source's bucket.
	Watermark PresetWatermark `yaml:"watermark,omitempty"`
}

// PresetCrop is a preset's crop before resizing.
type PresetCrop struct {
	// Width and Height in source pixels; 0 = the source's full side.
	Width  int `yaml:"width,omitempty"`
	Height int `yaml:"height,omitempty"`
	// Gravity anchors the crop: ce (default), an edge, or fp at focus_x,
	// focus_y (fractions of the source, 0–1).
	Gravity string  `yaml:"gravity,omitempty"`
	FocusX  float64 `yaml:"focus_x,omitempty"`
	FocusY  float64 `yaml:"focus_y,omitempty"`
}

// PresetPadding is a preset's padding in output pixels.
type PresetPadding struct {
	Top    int `yaml:"top,omitempty"`
	Right  int `yaml:"right,omitempty"`
	Bottom int `yaml:"bottom,omitempty"`
	Left   int `yaml:"left,omitempty"`
}

// PresetWatermark is a preset's watermark.
type PresetWatermark struct {
	// Key of the watermark object in the source's bucket; "" = the
	// gateway's images.watermark_key.
	Key string `yaml:"key,omitempty"`
	// Opacity 0–1; 0 = no watermark.
	Opacity float64 `yaml:"opacity,omitempty"`
	// Position: ce (default), no, so, ea, we, noea, nowe, soea or sowe.
	Position string `yaml:"position,omitempty"`
	// OffsetX and OffsetY in output pixels from the edge Position names.
	OffsetX int `yaml:"offset_x,omitempty"`
	OffsetY int `yaml:"offset_y,omitempty"`
	// Scale, when > 0, sizes the watermark to this fraction of the
	// output's width (0–1).
	Scale float64 `yaml:"scale,omitempty"`
}

// Quality holds per-format encoder settings.
type Quality struct {
	// JPEG quality 1–100. Default 82.
	JPEG int `yaml:"jpeg"`
	// WebP quality 1–100. Default 80.
	WebP int `yaml:"webp"`
	// AVIF quality 1–100. Default 60.
	AVIF int `yaml:"avif"`
	// PNG zlib compression level 0–9 (PNG is lossless). Default 6.
	PNG int `yaml:"png"`
}

// For returns the quality q sets for the lossy format f, 0 for the others.
func (q Quality) For(f Format) int {
	switch f {
	case JPEG:
		return q.JPEG
	case WebP:
		return q.WebP
	case AVIF:
		return q.AVIF
	}
	return 0
}

// Config configures presets, limits, encoders, admission and signing.
// Start from DefaultConfig, decode YAML over it, call ApplyEnv, then
// Validate (New does). It is treated as immutable once passed to New.
type Config struct {
	// Presets by name. Default: thumbnail (150×150 cover), medium (640 wide
	// inside), large (1280 wide inside). Names are lowercase [a-z0-9_-] and
	// must not look like a custom size ("300x200").
	Presets map[string]Preset `yaml:"presets"`
	// MaxWidth and MaxHeight bound custom sizes (pixels); larger → 400.
	// Default 4096 each; at most 16383.
	MaxWidth  int `yaml:"max_width"`
	MaxHeight int `yaml:"max_height"`
	// MaxSourceBytes bounds the size of a source image; larger → 422.
	// Default 40 MiB.
	MaxSourceBytes int64 `yaml:"max_source_bytes"`
	// MaxSourcePixels bounds width×height of a source (× frames for an
	// animation), checked from the header before decoding (decompression
	// bombs); larger → 422.
	// Default 50 000 000.
	MaxSourcePixels int `yaml:"max_source_pixels"`
	// MaxSourceFrames bounds the frames of an animated source (GIF,
	// WebP), counted from the header; more → 422. An animation's
	// width×height×frames must also stay within MaxSourcePixels, and its
	// admission cost counts every frame. Default 200.
	MaxSourceFrames int `yaml:"max_source_frames"`
	// Quality per output format. Defaults JPEG 82, WebP 80, AVIF 60, PNG 6.
	Quality Quality `yaml:"quality"`
	// AVIFSpeed is the AV1 encoder speed, 0 (slowest, smallest) – 9.
	// Default 9: AVIF then costs about 2× a JPEG of the same preset here
	// (speed 8: ~6×; bimg's default 0: over a second per 1080p image).
	AVIFSpeed int `yaml:"avif_speed"`
	// BudgetMegapixels is how many source megapixels may be processed at
	// once (Admission). Default 64.
	BudgetMegapixels int `yaml:"budget_megapixels"`
	// MaxQueue is how many requests may wait for budget; more → 429.
	// Default 64. 0 means no waiting: over budget is refused at once.
	MaxQueue int `yaml:"max_queue"`
	// MaxWait bounds a wait for budget; longer → 429. Default 2s.
	MaxWait time.Duration `yaml:"max_wait"`
	// Timeout is the deadline the gateway gives one image request (fetch,
	// admission, processing). resize cannot interrupt libvips mid-operation,
	// so it is enforced by the caller around Process. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// SigningKeys verify signatures on custom sizes: hex or base64 (std or
	// URL alphabet, padding optional), optionally prefixed "hex:" or
	// "base64:" to disambiguate, each at least 32 bytes decoded. The first
	// key signs; all verify (rotation). Overridden by EDGEGATE_IMG_SIGNING_KEYS.
	// Default: none, and custom sizes cannot be verified.
	SigningKeys []string `yaml:"signing_keys"`
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Presets: map[string]Preset{
			"thumbnail": {Width: 150, Height: 150, Fit: FitCover, Folder: "thumbnails/"},
			"medium":    {Width: 640, Fit: FitInside, Folder: "medium/"},
			"large":     {Width: 1280, Fit: FitInside, Folder: "large/"},
		},
		MaxWidth:         4096,
		MaxHeight:        4096,
		MaxSourceBytes:   40 << 20,
		MaxSourcePixels:  50_000_000,
		MaxSourceFrames:  200,
		Quality:          Quality{JPEG: 82, WebP: 80, AVIF: 60, PNG: 6},
		AVIFSpeed:        9,
		BudgetMegapixels: 64,
		MaxQueue:         64,
		MaxWait:          2 * time.Second,
		Timeout:          10 * time.Second,
	}
}

// ApplyEnv applies environment overrides using lookup (os.LookupEnv in
// production, a map in tests): EDGEGATE_IMG_SIGNING_KEYS, when set, replaces
// SigningKeys (comma-separated; blanks around commas ignored). Nothing
// else is read from the environment.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) {
	v, ok := lookup(EnvSigningKeys)
	if !ok {
		return
	}
	var keys []string
	for _, k := range strings.Split(v, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	c.SigningKeys = keys
}

// Validate reports the first problem in c, or nil. Presets are checked in
// name order so the error is deterministic.
func (c Config) Validate() error {
	if c.MaxWidth < 1 || c.MaxWidth > maxDimension {
		return fmt.Errorf("resize: max_width %d: want 1–%d", c.MaxWidth, maxDimension)
	}
	if c.MaxHeight < 1 || c.MaxHeight > maxDimension {
		return fmt.Errorf("resize: max_height %d: want 1–%d", c.MaxHeight, maxDimension)
	}
	if c.MaxSourceBytes < 1 {
		return fmt.Errorf("resize: max_source_bytes %d: want > 0", c.MaxSourceBytes)
	}
	if c.MaxSourcePixels < 1 {
		return fmt.Errorf("resize: max_source_pixels %d: want > 0", c.MaxSourcePixels)
	}
	if c.MaxSourceFrames < 1 {
		return fmt.Errorf("resize: max_source_frames %d: want > 0", c.MaxSourceFrames)
	}
	for _, q := range []struct {
		name string
		v    int
	}{{"jpeg", c.Quality.JPEG}, {"webp", c.Quality.WebP}, {"avif", c.Quality.AVIF}} {
		if q.v < 1 || q.v > 100 {
			return fmt.Errorf("resize: quality.%s %d: want 1–100", q.name, q.v)
		}
	}
	if c.Quality.PNG < 0 || c.Quality.PNG > 9 {
		return fmt.Errorf("resize: quality.png %d: want compression 0–9", c.Quality.PNG)
	}
	if c.AVIFSpeed < 0 || c.AVIFSpeed > 9 {
		return fmt.Errorf("resize: avif_speed %d: want 0–9", c.AVIFSpeed)
	}
	if c.BudgetMegapixels < 1 {
		return fmt.Errorf("resize: budget_megapixels %d: want > 0", c.BudgetMegapixels)
	}
	if c.MaxQueue < 0 {
		return fmt.Errorf("resize: max_queue %d: want >= 0", c.MaxQueue)
	}
	if c.MaxWait <= 0 {
		return fmt.Errorf("resize: max_wait %v: want > 0", c.MaxWait)
	}
	if c.Timeout <= 0 {
		return fmt.Errorf("resize: timeout %v: want > 0", c.Timeout)
	}
	names := make([]string, 0, len(c.Presets))
	for name := range c.Presets {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := validatePreset(name, c.Presets[name]); err != nil {
			return err
		}
	}
	if _, err := DecodeKeys(c.SigningKeys); err != nil {
		return err
	}
	return nil
}

func validatePreset(name string, p Preset) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("resize: preset %q: name must be 1–64 characters", name)
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_' || b == '-') {
			return fmt.Errorf("resize: preset %q: name may hold only a-z, 0-9, _ and -", name)
		}
	}
	if _, _, _, ok := splitCustom(name); ok {
		return fmt.Errorf("resize: preset %q: name looks like a custom size", name)
	}
	fit := p.Fit
	if fit == "" {
		fit = FitInside
	}
	if !fit.valid() {
		return fmt.Errorf("resize: preset %q: fit %q: want inside, cover or fill", name, p.Fit)
	}
	if p.Width < 0 || p.Height < 0 || p.Width > maxDimension || p.Height > maxDimension {
		return fmt.Errorf("resize: preset %q: size %dx%d: want 0–%d", name, p.Width, p.Height, maxDimension)
	}
	if p.Width == 0 && p.Height == 0 {
		return fmt.Errorf("resize: preset %q: width and height are both 0", name)
	}
	if fit != FitInside && (p.Width == 0 || p.Height == 0) {
		return fmt.Errorf("resize: preset %q: fit %s needs both width and height", name, fit)
	}
	if p.Quality < 0 || p.Quality > 100 {
		return fmt.Errorf("resize: preset %q: quality %d: want 0–100", name, p.Quality)
	}
	if _, err := presetTransform(name, p); err != nil {
		return fmt.Errorf("resize: preset %q: %w", name, err)
	}
	if f := p.Folder; f != "" {
		if !strings.HasSuffix(f, "/") || strings.HasPrefix(f, "/") || strings.Contains(f, "//") {
			return fmt.Errorf("resize: preset %q: folder %q: want a relative path ending in /", name, f)
		}
		for _, seg := range strings.Split(strings.TrimSuffix(f, "/"), "/") {
			if seg == "." || seg == ".." {
				return fmt.Errorf("resize: preset %q: folder %q: no . or .. segments", name, f)
			}
		}
	}
	return nil
}

// defaultFolder is the write-back folder of a preset without one.
func defaultFolder(name string) string {
	if name == "thumbnail" {
		return "thumbnails/"
	}
	return name + "/"
}

// DecodeKeys decodes signing keys as Config.SigningKeys documents them. The
// error names the key's index, never its content.
func DecodeKeys(keys []string) ([][]byte, error) {
	out := make([][]byte, 0, len(keys))
	for i, k := range keys {
		b, err := decodeKey(strings.TrimSpace(k))
		if err != nil {
			return nil, fmt.Errorf("resize: signing_keys[%d]: %w", i, err)
		}
		if len(b) < MinKeyBytes {
			return nil, fmt.Errorf("resize: signing_keys[%d]: %d bytes, want at least %d", i, len(b), MinKeyBytes)
		}
		out = append(out, b)
	}
	return out, nil
}

var errKeyEncoding = errors.New("not valid hex or base64")

func decodeKey(k string) ([]byte, error) {
	switch {
	case strings.HasPrefix(k, "hex:"):
		b, err := hex.DecodeString(k[len("hex:"):])
		if err != nil {
			return nil, errKeyEncoding
		}
		return b, nil
	case strings.HasPrefix(k, "base64:"):
		return decodeBase64(k[len("base64:"):])
	}
	if len(k)%2 == 0 && isHex(k) {
		return hex.DecodeString(k)
	}
	return decodeBase64(k)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F') {
			return false
		}
	}
	return s != ""
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, errKeyEncoding
	}
	return b, nil
}
