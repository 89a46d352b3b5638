package imgproxy

import (
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/edgegate/edgegate/resize"
)

// Ranges edgegate's processing accepts (resize/options.go's grammar).
const (
	minBlur, maxBlur       = 0.3, 100
	minSharpen, maxSharpen = 0.3, 10
	minDPR, maxDPR         = 1, 4
	maxCrop                = 65535
)

// resizingTypes are imgproxy's resizing types.
var resizingTypes = map[string]bool{"fit": true, "fill": true, "fill-down": true, "force": true, "auto": true}

// gravities are imgproxy's gravity types other than fp (focus point).
var gravities = map[string]resize.Gravity{
	"ce": resize.GravityCentre, "no": resize.GravityNorth, "so": resize.GravitySouth,
	"ea": resize.GravityEast, "we": resize.GravityWest, "noea": resize.GravityNorthEast,
	"nowe": resize.GravityNorthWest, "soea": resize.GravitySouthEast, "sowe": resize.GravitySouthWest,
	"sm": resize.GravitySmart,
}

// unsupported lists imgproxy's processing options (open source and Pro)
// that edgegate does not implement: a URL with one is refused with 400
// "option X not supported", never served as if it were absent.
var unsupported = setOf(`min-width mw min-height mh zoom z extend_aspect_ratio extend_ar exar
		trim t pixelate pix keep_copyright kcr enforce_thumbnail eth max_bytes mb
		skip_processing skp raw filename fn return_attachment att max_src_resolution msr
		max_src_file_size msfs max_animation_frames maf max_animation_frame_resolution mafr
		max_result_dimension mrd resizing_algorithm ra background_alpha bga adjust a brightness br
		contrast co saturation sa monochrome mc duotone dt unsharp_masking ush unsharpening colorize col
		gradient gr watermark_url wmu watermark_text wmt watermark_size wms watermark_rotate wmr
		watermark_shadow wmsh style st jpeg_options jpgo png_options pngo webp_options webpo
		avif_options avifo gif_options gifo page pg pages pgs disable_animation da
		video_thumbnail_second vts video_thumbnail_keyframes vtk video_thumbnail_tile vtt
		video_thumbnail_animation vta fallback_image_url fiu hashsum hs dpi crop_aspect_ratio crop_ar car
		objects_position obj_pos op draw_detections dd blur_detections bd autoquality aq`)

func setOf(names string) map[string]bool {
	m := map[string]bool{}
	for _, n := range strings.Fields(names) {
		m[n] = true
	}
	return m
}

// state is the options applied so far, in imgproxy's terms; transform
// maps it onto a resize.Transform at the end, as imgproxy applies every
// option in URL order before processing.
type state struct {
	rt      string // fit (default), fill, fill-down, force, auto
	w, h    int
	enlarge bool
	t       resize.Transform // every other option
	// cropGravity is set when c: named its own gravity; otherwise the crop
	// takes the final gravity option's.
	cropGravity bool
	format      resize.Format
	// preset is the one preset the URL applied, when nothing else in it
	// changed the transform: then the preset's transform is used as is
	// (its variants and write-back shared with /img/{preset}/).
	preset  string
	changed bool
	// filename and attachment are the filename and return_attachment
	// options: the answer's Content-Disposition, not the image.
	filename   string
	attachment bool
	fq         resize.Quality // format_quality
}

// applyOptions applies the option segments in order.
func (p *Parser) applyOptions(segs []string, now time.Time) (*state, error) {
	st := &state{rt: "fit"}
	presets := 0
	for _, seg := range segs {
		args := strings.Split(seg, ":")
		name, args := args[0], args[1:]
		switch name {
		case "preset", "pr":
			for _, n := range args {
				pr, ok := p.lim.Preset(n)
				if !ok {
					return nil, badRequest("unknown preset %q", clip(n))
				}
				st.applyPreset(pr)
				st.preset = n
				presets++
			}
			continue
		case "format", "f", "ext":
			if len(args) != 1 {
				return nil, badRequest("option %s: want one format", name)
			}
			f, err := parseFormat("option "+name, args[0])
			if err != nil {
				return nil, err
			}
			st.format = f
			continue
		case "cachebuster", "cb":
			continue // changes the URL, not the image: imgproxy's meaning too
		case "filename", "fn":
			fn, err := parseFilename(name, args)
			if err != nil {
				return nil, err
			}
			st.filename = fn
			continue
		case "format_quality", "fq":
			if err := st.parseFormatQuality(name, args); err != nil {
				return nil, err
			}
			continue
		case "return_attachment", "att":
			b, err := parseBool(name, args)
			if err != nil {
				return nil, err
			}
			st.attachment = b
			continue
		case "expires", "exp":
			if err := checkExpires(name, args, now); err != nil {
				return nil, err
			}
			continue
		case "strip_metadata", "sm", "auto_rotate", "ar":
			b, err := parseBool(name, args)
			if err != nil {
				return nil, err
			}
			if !b {
				return nil, notSupported("option %s:%s (edgegate always strips metadata and applies the EXIF orientation)", name, args[0])
			}
			continue
		}
		st.changed = true
		if err := st.apply(name, args); err != nil {
			return nil, err
		}
	}
	if presets != 1 || st.changed {
		st.preset = ""
	}
	return st, nil
}

// apply applies one option that changes the transform.
func (st *state) apply(name string, args []string) error {
	switch name {
	case "resize", "rs":
		if len(args) > 8 || len(args) == 0 {
			return badRequest("option %s: want %s:{type}:{width}:{height}:{enlarge}:{extend}", name, name)
		}
		if args[0] != "" {
			if err := st.resizingType(name, args[0]); err != nil {
				return err
			}
		}
		return st.size(name, args[1:])
	case "size", "s":
		if len(args) > 7 {
			return badRequest("option %s: want %s:{width}:{height}:{enlarge}:{extend}", name, name)
		}
		return st.size(name, args)
	case "resizing_type", "rt":
		if len(args) != 1 {
			return badRequest("option %s: want one resizing type", name)
		}
		return st.resizingType(name, args[0])
	case "width", "w":
		return setDim(name, args, &st.w)
	case "height", "h":
		return setDim(name, args, &st.h)
	case "enlarge", "el":
		b, err := parseBool(name, args)
		st.enlarge = b
		return err
	case "extend", "ex":
		return st.extend(name, args)
	case "dpr":
		v, err := parseFloat(name, args)
		if err != nil {
			return err
		}
		if v < minDPR || v > maxDPR {
			return notSupported("option dpr: %s outside %d–%d is", clip(args[0]), minDPR, maxDPR)
		}
		st.t.DPR = v
		if v == 1 {
			st.t.DPR = 0
		}
		return nil
	case "gravity", "g":
		if len(args) == 0 {
			return badRequest("option %s: want a gravity", name)
		}
		g, fx, fy, err := parseGravity(name, args, true)
		if err != nil {
			return err
		}
		st.t.Gravity, st.t.FocusX, st.t.FocusY = g, fx, fy
		return nil
	case "crop", "c":
		return st.crop(name, args)
	case "quality", "q":
		v, err := parseInt(name, args)
		if err != nil {
			return err
		}
		if v < 0 || v > 100 {
			return badRequest("option %s: quality %d outside 1–100 (0 = default)", name, v)
		}
		st.t.Quality = v
		return nil
	case "blur", "bl":
		return setSigma(name, args, minBlur, maxBlur, &st.t.Blur)
	case "sharpen", "sh":
		return setSigma(name, args, minSharpen, maxSharpen, &st.t.Sharpen)
	case "background", "bg":
		return st.background(name, args)
	case "padding", "pd":
		return st.padding(name, args)
	case "rotate", "rot":
		v, err := parseInt(name, args)
		if err != nil {
			return err
		}
		if v%90 != 0 {
			return badRequest("option %s: angle %d is not a multiple of 90", name, v)
		}
		st.t.Rotate = (v%360 + 360) % 360
		return nil
	case "strip_color_profile", "scp":
		b, err := parseBool(name, args)
		st.t.KeepProfile = !b
		return err
	case "watermark", "wm":
		return st.watermark(name, args)
	}
	if unsupported[name] {
		return notSupported("option %s", name)
	}
	return badRequest("unknown processing option %q", clip(name))
}

// applyPreset applies an edgegate preset: its size and fit always, its
// other options where they are not the defaults, over what came before.
func (st *state) applyPreset(pr resize.Transform) {
	st.w, st.h, st.enlarge = pr.Width, pr.Height, pr.Upscale
	switch pr.Fit {
	case resize.FitCover:
		st.rt = "fill"
	case resize.FitFill:
		st.rt = "force"
	default:
		st.rt = "fit"
	}
	t := &st.t
	if pr.Gravity != resize.GravityCentre {
		t.Gravity, t.FocusX, t.FocusY = pr.Gravity, pr.FocusX, pr.FocusY
	}
	if pr.Quality != 0 {
		t.Quality = pr.Quality
	}
	if pr.Crop != (resize.Crop{}) {
		t.Crop, st.cropGravity = pr.Crop, true
	}
	if pr.DPR != 0 {
		t.DPR = pr.DPR
	}
	if pr.Blur != 0 {
		t.Blur = pr.Blur
	}
	if pr.Sharpen != 0 {
		t.Sharpen = pr.Sharpen
	}
	if pr.HasBackground {
		t.Background, t.HasBackground = pr.Background, true
	}
	if pr.Extend {
		t.Extend, t.ExtendGravity = true, pr.ExtendGravity
	}
	if !pr.Padding.Zero() {
		t.Padding = pr.Padding
	}
	if pr.Rotate != 0 {
		t.Rotate = pr.Rotate
	}
	if pr.KeepProfile {
		t.KeepProfile = true
	}
	if pr.Watermark.Opacity > 0 {
		t.Watermark = pr.Watermark
	}
}

func (st *state) resizingType(name, v string) error {
	if !resizingTypes[v] {
		return badRequest("option %s: unknown resizing type %q (want fit, fill, fill-down, force or auto)", name, clip(v))
	}
	st.rt = v
	return nil
}

// size applies {width}:{height}:{enlarge}:{extend}:{extend gravity…};
// empty arguments keep their values.
func (st *state) size(name string, args []string) error {
	if len(args) > 0 && args[0] != "" {
		if err := setDim(name, args[:1], &st.w); err != nil {
			return err
		}
	}
	if len(args) > 1 && args[1] != "" {
		if err := setDim(name, args[1:2], &st.h); err != nil {
			return err
		}
	}
	if len(args) > 2 && args[2] != "" {
		b, err := parseBool(name, args[2:3])
		if err != nil {
			return err
		}
		st.enlarge = b
	}
	if len(args) > 3 && args[3] != "" {
		return st.extend(name, args[3:])
	}
	return nil
}

// extend applies {extend}[:{gravity}[:{x}:{y}]].
func (st *state) extend(name string, args []string) error {
	if len(args) == 0 || len(args) > 4 {
		return badRequest("option %s: want %s:{0|1}[:{gravity}]", name, name)
	}
	b, err := parseBool(name, args[:1])
	if err != nil {
		return err
	}
	st.t.Extend, st.t.ExtendGravity = b, resize.GravityCentre
	if len(args) > 1 {
		g, _, _, err := parseGravity(name, args[1:], false)
		if err != nil {
			return err
		}
		st.t.ExtendGravity = g
	}
	return nil
}

// crop applies {width}:{height}[:{gravity}…]: whole pixels, 0 the
// source's full side.
func (st *state) crop(name string, args []string) error {
	if len(args) == 0 {
		return badRequest("option %s: want %s:{width}:{height}[:{gravity}]", name, name)
	}
	var c resize.Crop
	for i, p := range []*int{&c.Width, &c.Height} {
		if i >= len(args) {
			break
		}
		v, err := strconv.ParseFloat(args[i], 64)
		switch {
		case err != nil || v < 0 || math.IsNaN(v) || v > maxCrop:
			return badRequest("option %s: size %q: want 0 (the full side) or whole pixels up to %d", name, clip(args[i]), maxCrop)
		case v > 0 && v < 1:
			return notSupported("option %s: relative sizes (%s) are", name, clip(args[i]))
		case v != math.Trunc(v):
			return badRequest("option %s: size %q: want whole pixels", name, clip(args[i]))
		}
		*p = int(v)
	}
	st.cropGravity = false
	if len(args) > 2 {
		g, fx, fy, err := parseGravity(name, args[2:], true)
		if err != nil {
			return err
		}
		c.Gravity, c.FocusX, c.FocusY = g, fx, fy
		st.cropGravity = true
	}
	st.t.Crop = c
	return nil
}

// background applies {hex} or {r}:{g}:{b}; no argument (or "") removes it.
func (st *state) background(name string, args []string) error {
	switch {
	case len(args) == 0 || len(args) == 1 && args[0] == "":
		st.t.Background, st.t.HasBackground = resize.Color{}, false
		return nil
	case len(args) == 1:
		h := args[0]
		if len(h) == 3 {
			h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
		}
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != 3 {
			return badRequest("option %s: %q is not a hex colour (RRGGBB or RGB)", name, clip(args[0]))
		}
		st.t.Background, st.t.HasBackground = resize.Color{R: b[0], G: b[1], B: b[2]}, true
		return nil
	case len(args) == 3:
		var c [3]uint8
		for i, a := range args {
			v, err := strconv.ParseUint(a, 10, 8)
			if err != nil {
				return badRequest("option %s: channel %q: want 0–255", name, clip(a))
			}
			c[i] = uint8(v)
		}
		st.t.Background, st.t.HasBackground = resize.Color{R: c[0], G: c[1], B: c[2]}, true
		return nil
	}
	return badRequest("option %s: want %s:{RRGGBB} or %s:{r}:{g}:{b}", name, name, name)
}

// padding applies {top}[:{right}[:{bottom}[:{left}]]] the CSS way: right
// defaults to top, bottom to top, left to right.
func (st *state) padding(name string, args []string) error {
	if len(args) == 0 || len(args) > 4 {
		return badRequest("option %s: want %s:{top}[:{right}[:{bottom}[:{left}]]]", name, name)
	}
	var v [4]int
	set := [4]bool{}
	for i, a := range args {
		if a == "" {
			continue
		}
		n, err := strconv.Atoi(a)
		if err != nil || n < 0 || n > maxCrop {
			return badRequest("option %s: %q: want whole pixels, 0–%d", name, clip(a), maxCrop)
		}
		v[i], set[i] = n, true
	}
	if !set[1] {
		v[1] = v[0]
	}
	if !set[2] {
		v[2] = v[0]
	}
	if !set[3] {
		v[3] = v[1]
	}
	st.t.Padding = resize.Padding{Top: v[0], Right: v[1], Bottom: v[2], Left: v[3]}
	return nil
}

// watermark applies {opacity}[:{position}[:{x}[:{y}[:{scale}]]]]; the
// image is the gateway's configured watermark.
func (st *state) watermark(name string, args []string) error {
	if len(args) == 0 || len(args) > 5 {
		return badRequest("option %s: want %s:{opacity}[:{position}[:{x}:{y}[:{scale}]]]", name, name)
	}
	op, err := strconv.ParseFloat(args[0], 64)
	if err != nil || !(op >= 0 && op <= 1) {
		return badRequest("option %s: opacity %q: want 0–1", name, clip(args[0]))
	}
	wm := resize.Watermark{Opacity: op}
	if len(args) > 1 && args[1] != "" {
		if args[1] == "re" {
			return notSupported("option %s: position re (replicate) is", name)
		}
		g, ok := gravities[args[1]]
		if !ok || g == resize.GravitySmart {
			return badRequest("option %s: unknown position %q", name, clip(args[1]))
		}
		wm.Position = g
	}
	for i, p := range []*int{&wm.OffsetX, &wm.OffsetY} {
		if len(args) <= 2+i || args[2+i] == "" {
			continue
		}
		v, err := strconv.ParseFloat(args[2+i], 64)
		if err != nil || v != math.Trunc(v) || math.Abs(v) > maxCrop {
			return badRequest("option %s: offset %q: want whole pixels", name, clip(args[2+i]))
		}
		*p = int(v)
	}
	if len(args) > 4 && args[4] != "" {
		v, err := strconv.ParseFloat(args[4], 64)
		if err != nil || !(v >= 0 && v <= 1) {
			return badRequest("option %s: scale %q: want 0–1 (0 = the watermark's own size)", name, clip(args[4]))
		}
		wm.Scale = v
	}
	if op == 0 {
		wm = resize.Watermark{}
	}
	st.t.Watermark = wm
	return nil
}

// transform maps the applied options onto a resize.Transform.
func (st *state) transform(lim Limits) (resize.Transform, error) {
	if st.preset != "" {
		pr, _ := lim.Preset(st.preset)
		return pr, nil
	}
	if st.w > lim.MaxWidth || st.h > lim.MaxHeight {
		return resize.Transform{}, badRequest("size %dx%d over the maximum %dx%d", st.w, st.h, lim.MaxWidth, lim.MaxHeight)
	}
	t := st.t
	t.Preset, t.Folder = "", ""
	t.Upscale = st.enlarge
	if t.Crop != (resize.Crop{}) && !st.cropGravity {
		t.Crop.Gravity, t.Crop.FocusX, t.Crop.FocusY = t.Gravity, t.FocusX, t.FocusY
	}
	t.Width, t.Height = st.w, st.h
	both := st.w > 0 && st.h > 0
	switch {
	case st.rt == "force":
		t.Fit = resize.FitFill
		if st.w == 0 && st.h == 0 {
			t.Fit = resize.FitInside // the source's size
		}
	case !both:
		t.Fit = resize.FitInside // one side (or none) given: every type fits
	case st.rt == "fill":
		t.Fit = resize.FitCover
	case st.rt == "fill-down":
		t.Fit = FitFillDown
		if st.enlarge {
			t.Fit = resize.FitCover // never smaller than asked: plain fill
		}
	case st.rt == "auto":
		t.Fit = FitAuto
	default:
		t.Fit = resize.FitInside
	}
	return t, nil
}

// parseFormat reads an output format name: what resize writes.
func parseFormat(what, s string) (resize.Format, error) {
	f, ok := resize.ParseFormat(s)
	if !ok {
		if s == "best" || s == "tiff" || s == "heic" || s == "bmp" || s == "ico" || s == "svg" || s == "jxl" || s == "pdf" || s == "mp4" {
			return 0, notSupported("%s: output format %s", what, s)
		}
		return 0, badRequest("%s: unknown format %q", what, clip(s))
	}
	return f, nil
}

func parseBool(name string, args []string) (bool, error) {
	if len(args) != 1 {
		return false, badRequest("option %s: want one of 1, t, true, 0, f, false", name)
	}
	b, err := strconv.ParseBool(args[0])
	if err != nil {
		return false, badRequest("option %s: %q is not a boolean (want 1, t, true, 0, f, false)", name, clip(args[0]))
	}
	return b, nil
}

func parseInt(name string, args []string) (int, error) {
	if len(args) != 1 {
		return 0, badRequest("option %s: want one number", name)
	}
	v, err := strconv.Atoi(args[0])
	if err != nil || v < -1<<20 || v > 1<<20 {
		return 0, badRequest("option %s: %q is not a whole number", name, clip(args[0]))
	}
	return v, nil
}

func parseFloat(name string, args []string) (float64, error) {
	if len(args) != 1 {
		return 0, badRequest("option %s: want one number", name)
	}
	v, err := strconv.ParseFloat(args[0], 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, badRequest("option %s: %q is not a number", name, clip(args[0]))
	}
	return v, nil
}

// setDim sets a width or height: whole pixels, 0 meaning "from the other
// side and the source's aspect ratio".
func setDim(name string, args []string, dst *int) error {
	v, err := parseInt(name, args)
	if err != nil {
		return err
	}
	if v < 0 {
		return badRequest("option %s: %d is negative", name, v)
	}
	*dst = v
	return nil
}

func setSigma(name string, args []string, lo, hi float64, dst *float64) error {
	v, err := parseFloat(name, args)
	if err != nil {
		return err
	}
	if v < lo || v > hi {
		return badRequest("option %s: sigma %s outside %g–%g", name, clip(args[0]), lo, hi)
	}
	*dst = v
	return nil
}

// parseGravity reads {type}[:{x}:{y}] (offsets must be 0: edgegate has
// none), sm, or fp:{x}:{y} (fractions of the source, 0–1). Extension
// gravities (crop == false) allow neither sm nor fp.
func parseGravity(name string, args []string, crop bool) (g resize.Gravity, fx, fy float64, err error) {
	if args[0] == "fp" {
		if !crop {
			return 0, 0, 0, notSupported("option %s: gravity fp for extending is", name)
		}
		if len(args) != 3 {
			return 0, 0, 0, badRequest("option %s: want fp:{x}:{y}", name)
		}
		x, errx := strconv.ParseFloat(args[1], 64)
		y, erry := strconv.ParseFloat(args[2], 64)
		if errx != nil || erry != nil || !(x >= 0 && x <= 1) || !(y >= 0 && y <= 1) {
			return 0, 0, 0, badRequest("option %s: focus point %q:%q: want x and y in 0–1", name, clip(args[1]), clip(args[2]))
		}
		return resize.GravityFocus, x, y, nil
	}
	g, ok := gravities[args[0]]
	if !ok || !crop && g == resize.GravitySmart {
		return 0, 0, 0, badRequest("option %s: unknown gravity %q (want ce, no, so, ea, we, noea, nowe, soea, sowe%s)", name, clip(args[0]), map[bool]string{true: ", sm or fp:{x}:{y}", false: ""}[crop])
	}
	if g == resize.GravitySmart && len(args) > 1 || len(args) > 3 {
		return 0, 0, 0, badRequest("option %s: too many arguments", name)
	}
	for _, a := range args[1:] {
		v, err := strconv.ParseFloat(a, 64)
		if err != nil {
			return 0, 0, 0, badRequest("option %s: offset %q is not a number", name, clip(a))
		}
		if v != 0 {
			return 0, 0, 0, notSupported("option %s: gravity offsets (%s) are", name, clip(a))
		}
	}
	return g, 0, 0, nil
}

// checkExpires applies expires:{unix time}: a URL past it is refused with
// 404, as imgproxy does; 0 never expires.
func checkExpires(name string, args []string, now time.Time) error {
	if len(args) != 1 {
		return badRequest("option %s: want one unix timestamp", name)
	}
	ts, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil {
		return badRequest("option %s: %q is not a unix timestamp", name, clip(args[0]))
	}
	if ts > 0 && ts < now.Unix() {
		return &Error{Status: statusNotFound, Msg: "URL expired at " + time.Unix(ts, 0).UTC().Format(time.RFC3339)}
	}
	return nil
}

// parseFormatQuality reads format_quality:%format1:%quality1:...: a
// quality 0–100 (0: the default) for each lossy format named (jpeg or
// jpg, webp, avif); a later pair for a format replaces an earlier one.
func (st *state) parseFormatQuality(name string, args []string) error {
	if len(args) == 0 || len(args)%2 != 0 {
		return badRequest("option %s: want %s:{format}:{quality}[:{format}:{quality}...]", name, name)
	}
	for i := 0; i < len(args); i += 2 {
		q, err := strconv.Atoi(args[i+1])
		if err != nil || q < 0 || q > 100 {
			return badRequest("option %s: quality %q for %s is not 0–100", name, clip(args[i+1]), clip(args[i]))
		}
		switch strings.ToLower(args[i]) {
		case "jpeg", "jpg":
			st.fq.JPEG = q
		case "webp":
			st.fq.WebP = q
		case "avif":
			st.fq.AVIF = q
		case "png", "gif":
			return notSupported("option %s for %s (a lossless format here) is", name, args[i])
		default:
			return badRequest("option %s: unknown format %q (want jpeg, webp or avif)", name, clip(args[i]))
		}
	}
	return nil
}
