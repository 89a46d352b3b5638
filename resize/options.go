package resize

// Processing options beyond size and fit (issue 17). They are fields of
// Transform, set by a preset's configuration, by the options of a signed
// custom spec ("300x200-cover,g:fp:0.3:0.7,q:70"), by the imgproxy path,
// and by the gateway from client hints and the region's image policy. One
// vocabulary serves all of them; Transform.Spec writes every non-default
// option in a fixed order so that equal transforms have equal specs (the
// variant key and the write-back key are built from it).
//
// The custom spec's option grammar (each option ",name:arg[:arg…]", in any
// order, each at most once; Spec writes them in this order, shortest form,
// defaults left out). Numbers are plain decimals (no sign, exponent, NaN);
// every option can also spell its default, so a preset's can be undone.
//
//	el:{0|1}                                     enlarge: allow output larger than the source
//	g:{ce|no|so|ea|we|noea|nowe|soea|sowe|sm}    gravity (sm = smart)
//	g:fp:{x}:{y}                                 focus point, x,y in [0,1]
//	c:{w}:{h}[:{gravity}|:fp:{x}:{y}]            crop the source before resizing (0 = full side)
//	dpr:{1–4}                                    device pixel ratio (decimals allowed)
//	q:{0–100}                                    quality for lossy formats (0 = the format's default)
//	bl:{sigma}                                   Gaussian blur, sigma 0.3–100 (0 = off)
//	sh:{sigma}                                   sharpen, sigma 0.3–10 (0 = off)
//	bg:{RRGGBB}                                  background for flattening alpha, extension, padding
//	ex:{0|1}[:{gravity}]                         extend to the requested size (edge gravities)
//	pd:{t}[:{r}[:{b}[:{l}]]]                     padding in pixels (CSS order and shorthand)
//	rot:{0|90|180|270}                           rotate after EXIF orientation
//	scp:{0|1}                                    strip (1, default) or keep (0) the colour profile
//	wm:{opacity}[:{position}[:{x}:{y}[:{scale}]]] watermark, opacity 0–1 (0 = none), edge position
//	wmk:{key}                                    watermark object key, base64url without padding
//	                                             (default: the gateway's images.watermark_key)
//
// A preset name may be followed by options too ("thumbnail,q:60"): the
// result is a custom transform (signed, not written back), spelt in full
// by Spec ("150x150-cover,q:60"), unless the options only restate the
// preset.

// Gravity says where a crop (or an extension) is anchored.
type Gravity uint8

// Gravities. The zero Gravity is GravityCentre.
const (
	GravityCentre Gravity = iota
	GravityNorth
	GravitySouth
	GravityEast
	GravityWest
	GravityNorthEast
	GravityNorthWest
	GravitySouthEast
	GravitySouthWest
	// GravitySmart: libvips smartcrop (attention), for cover crops only.
	GravitySmart
	// GravityFocus: Transform.FocusX/FocusY, fractions of the source.
	GravityFocus
)

// Color is an sRGB colour without alpha.
type Color struct{ R, G, B uint8 }

// Padding in output pixels, CSS order.
type Padding struct{ Top, Right, Bottom, Left int }

// Zero reports no padding.
func (p Padding) Zero() bool { return p == Padding{} }

// Crop is an area cut from the source before resizing: Width×Height
// pixels (0 = the source's full dimension) anchored by Gravity.
type Crop struct {
	Width, Height int
	Gravity       Gravity
	// FocusX/FocusY with GravityFocus.
	FocusX, FocusY float64
}

// Watermark composites an image over the output. The image is an object
// in the source's bucket (Key), fetched and cached by the gateway; resize
// is handed its bytes.
type Watermark struct {
	// Key is the watermark object's key; "" means the configured default.
	Key string
	// Opacity 0–1 (0 means no watermark).
	Opacity float64
	// Position of the watermark; GravityCentre by default. GravitySmart
	// and GravityFocus are not positions.
	Position Gravity
	// OffsetX/OffsetY in output pixels from the edge Position names.
	OffsetX, OffsetY int
	// Scale, when > 0, sizes the watermark to this fraction of the
	// output's width.
	Scale float64
}
