package resize

// The libvips calls of the options pipeline (apply.go). bimg runs one
// fixed pipeline: it cannot crop before resizing, anchor a crop at a focus
// point or a corner, rotate on top of the EXIF orientation (its Rotate
// replaces it), pad, or keep only the ICC profile while stripping the rest
// of the metadata. So transforms with those options run these few
// libvips operations directly, each wrapped here because cgo cannot call
// variadic C functions. Transforms without them keep bimg's one call.

/*
#cgo pkg-config: vips
#include <stdlib.h>
#include <vips/vips.h>

static int egopt_load(void *buf, size_t len, int shrink, VipsImage **out) {
	VipsImage *in = shrink > 1 ?
		vips_image_new_from_buffer(buf, len, "", "shrink", shrink, NULL) : // JPEG: DCT scaling
		vips_image_new_from_buffer(buf, len, "", NULL);
	if (in == NULL) return -1;
	int r = vips_autorot(in, out, NULL);
	g_object_unref(in);
	return r;
}
static int egopt_rot(VipsImage *in, VipsImage **out, int angle) {
	VipsAngle a = angle == 90 ? VIPS_ANGLE_D90 : angle == 180 ? VIPS_ANGLE_D180 : VIPS_ANGLE_D270;
	return vips_rot(in, out, a, NULL);
}
static int egopt_extract(VipsImage *in, VipsImage **out, int l, int t, int w, int h) {
	return vips_extract_area(in, out, l, t, w, h, NULL);
}
static int egopt_srgb(VipsImage *in, VipsImage **out) {
	if (vips_image_get_typeof(in, VIPS_META_ICC_NAME)) {
		if (vips_icc_transform(in, out, "srgb", "embedded", TRUE, "intent", VIPS_INTENT_PERCEPTUAL, NULL) == 0) return 0;
		vips_error_clear(); // a broken profile: convert without it, as bimg does
	}
	return vips_colourspace(in, out, VIPS_INTERPRETATION_sRGB, NULL);
}
static int egopt_resize(VipsImage *in, VipsImage **out, double h, double v) {
	return vips_resize(in, out, h, "vscale", v, NULL);
}
static int egopt_smartcrop(VipsImage *in, VipsImage **out, int w, int h) {
	return vips_smartcrop(in, out, w, h, "interesting", VIPS_INTERESTING_ATTENTION, NULL);
}
static int egopt_blur(VipsImage *in, VipsImage **out, double sigma) {
	return vips_gaussblur(in, out, sigma, NULL);
}
static int egopt_sharpen(VipsImage *in, VipsImage **out, double sigma) {
	return vips_sharpen(in, out, "sigma", sigma, NULL);
}
static int egopt_flatten(VipsImage *in, VipsImage **out, double r, double g, double b) {
	double bg[3] = {r, g, b};
	VipsArrayDouble *a = vips_array_double_new(bg, 3);
	int ret = vips_flatten(in, out, "background", a, NULL);
	vips_area_unref(VIPS_AREA(a));
	return ret;
}
static int egopt_embed(VipsImage *in, VipsImage **out, int l, int t, int w, int h, double r, double g, double b, double a) {
	double bg[4] = {r, g, b, a};
	int n = in->Bands >= 4 ? 4 : in->Bands == 2 ? 2 : in->Bands;
	if (in->Bands == 2 || in->Bands == 1) { bg[1] = a; } // grey (+alpha): the red channel stands for grey
	VipsArrayDouble *arr = vips_array_double_new(bg, n);
	int ret = vips_embed(in, out, l, t, w, h, "extend", VIPS_EXTEND_BACKGROUND, "background", arr, NULL);
	vips_area_unref(VIPS_AREA(arr));
	return ret;
}
static int egopt_cast_uchar(VipsImage *in, VipsImage **out) {
	return vips_cast(in, out, VIPS_FORMAT_UCHAR, NULL);
}
// egopt_watermark composites wm (any bands, sRGB) over in at x,y with its
// alpha multiplied by opacity; the result keeps in's bands.
static int egopt_watermark(VipsImage *in, VipsImage *wm, VipsImage **out, int x, int y, double opacity) {
	VipsImage *t[6] = {0};
	int ret = -1;
	if (vips_colourspace(wm, &t[0], VIPS_INTERPRETATION_sRGB, NULL)) goto done;
	if (t[0]->Bands == 3) {
		if (vips_bandjoin_const1(t[0], &t[1], 255, NULL)) goto done;
	} else {
		t[1] = t[0]; g_object_ref(t[1]);
	}
	double a[4] = {1, 1, 1, opacity}, b[4] = {0, 0, 0, 0};
	if (vips_linear(t[1], &t[2], a, b, 4, "uchar", TRUE, NULL)) goto done;
	if (vips_composite2(in, t[2], &t[3], VIPS_BLEND_MODE_OVER, "x", x, "y", y, NULL)) goto done;
	if (in->Bands < t[3]->Bands) {
		if (vips_extract_band(t[3], &t[4], 0, "n", in->Bands, NULL)) goto done;
	} else {
		t[4] = t[3]; g_object_ref(t[4]);
	}
	ret = vips_cast(t[4], out, VIPS_FORMAT_UCHAR, NULL);
done:
	for (int i = 0; i < 6; i++) if (t[i]) g_object_unref(t[i]);
	return ret;
}
// egopt_keep_profile_only drops the metadata but the ICC profile.
static int egopt_keep_profile_only(VipsImage *in, VipsImage **out) {
	if (vips_copy(in, out, NULL)) return -1;
	char **names = vips_image_get_fields(*out);
	for (int i = 0; names[i]; i++) {
		if (strcmp(names[i], VIPS_META_ICC_NAME) != 0 &&
			(vips_isprefix("exif-", names[i]) || strcmp(names[i], VIPS_META_XMP_NAME) == 0 ||
			 strcmp(names[i], VIPS_META_IPTC_NAME) == 0 || strcmp(names[i], VIPS_META_PHOTOSHOP_NAME) == 0 ||
			 strcmp(names[i], VIPS_META_ORIENTATION) == 0))
			vips_image_remove(*out, names[i]);
	}
	g_strfreev(names);
	return 0;
}
static int egopt_jpegsave(VipsImage *in, void **buf, size_t *len, int strip, int q) {
	return vips_jpegsave_buffer(in, buf, len, "strip", strip, "Q", q, "optimize_coding", TRUE, NULL);
}
static int egopt_webpsave(VipsImage *in, void **buf, size_t *len, int strip, int q) {
	return vips_webpsave_buffer(in, buf, len, "strip", strip, "Q", q, NULL);
}
static int egopt_pngsave(VipsImage *in, void **buf, size_t *len, int strip, int compression) {
	return vips_pngsave_buffer(in, buf, len, "strip", strip, "compression", compression, "effort", 7, NULL);
}
static int egopt_avifsave(VipsImage *in, void **buf, size_t *len, int strip, int q, int speed) {
	return vips_heifsave_buffer(in, buf, len, "strip", strip, "Q", q,
		"compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1, "effort", 9 - speed, NULL);
}
static int egopt_width(VipsImage *in) { return in->Xsize; }
static int egopt_height(VipsImage *in) { return in->Ysize; }
static int egopt_bands(VipsImage *in) { return in->Bands; }
static int egopt_has_alpha(VipsImage *in) { return vips_image_hasalpha(in); }
*/
import "C"

import (
	"errors"
	"runtime"
	"unsafe"
)

// vimg is a libvips image owned by the pipeline: each step replaces it and
// releases the previous one.
type vimg struct{ p *C.VipsImage }

// vipsErr takes libvips' error buffer (per thread: the caller has locked
// its OS thread) as an error.
func vipsErr() error {
	s := C.GoString(C.vips_error_buffer())
	C.vips_error_clear()
	if s == "" {
		s = "libvips failed"
	}
	return errors.New(s)
}

func (v *vimg) free() {
	if v.p != nil {
		C.g_object_unref(C.gpointer(v.p))
		v.p = nil
	}
}

// step replaces v with out when rc is 0.
func (v *vimg) step(rc C.int, out *C.VipsImage) error {
	if rc != 0 {
		return vipsErr()
	}
	v.free()
	v.p = out
	return nil
}

func (v *vimg) width() int     { return int(C.egopt_width(v.p)) }
func (v *vimg) height() int    { return int(C.egopt_height(v.p)) }
func (v *vimg) bands() int     { return int(C.egopt_bands(v.p)) }
func (v *vimg) hasAlpha() bool { return C.egopt_has_alpha(v.p) != 0 }

// vipsLoad decodes data with its EXIF orientation applied; shrink (2, 4
// or 8; JPEG only) decodes at 1/shrink the size, as libvips' thumbnail
// and bimg do.
func vipsLoad(data []byte, shrink int) (*vimg, error) {
	var out *C.VipsImage
	if C.egopt_load(unsafe.Pointer(&data[0]), C.size_t(len(data)), C.int(shrink), &out) != 0 {
		return nil, vipsErr()
	}
	runtime.KeepAlive(data)
	return &vimg{p: out}, nil
}

func (v *vimg) rot(angle int) error {
	var out *C.VipsImage
	return v.step(C.egopt_rot(v.p, &out, C.int(angle)), out)
}

func (v *vimg) extract(l, t, w, h int) error {
	var out *C.VipsImage
	return v.step(C.egopt_extract(v.p, &out, C.int(l), C.int(t), C.int(w), C.int(h)), out)
}

func (v *vimg) srgb() error {
	var out *C.VipsImage
	return v.step(C.egopt_srgb(v.p, &out), out)
}

func (v *vimg) resize(h, vs float64) error {
	var out *C.VipsImage
	return v.step(C.egopt_resize(v.p, &out, C.double(h), C.double(vs)), out)
}

func (v *vimg) smartcrop(w, h int) error {
	var out *C.VipsImage
	return v.step(C.egopt_smartcrop(v.p, &out, C.int(w), C.int(h)), out)
}

func (v *vimg) blur(sigma float64) error {
	var out *C.VipsImage
	return v.step(C.egopt_blur(v.p, &out, C.double(sigma)), out)
}

func (v *vimg) sharpen(sigma float64) error {
	var out *C.VipsImage
	return v.step(C.egopt_sharpen(v.p, &out, C.double(sigma)), out)
}

func (v *vimg) flatten(c Color) error {
	var out *C.VipsImage
	return v.step(C.egopt_flatten(v.p, &out, C.double(c.R), C.double(c.G), C.double(c.B)), out)
}

// embed places v at l,t in a w×h canvas of c (alpha a, 0–255, used when v
// has an alpha band).
func (v *vimg) embed(l, t, w, h int, c Color, a float64) error {
	var out *C.VipsImage
	return v.step(C.egopt_embed(v.p, &out, C.int(l), C.int(t), C.int(w), C.int(h),
		C.double(c.R), C.double(c.G), C.double(c.B), C.double(a)), out)
}

func (v *vimg) castUchar() error {
	var out *C.VipsImage
	return v.step(C.egopt_cast_uchar(v.p, &out), out)
}

func (v *vimg) watermark(wm *vimg, x, y int, opacity float64) error {
	var out *C.VipsImage
	return v.step(C.egopt_watermark(v.p, wm.p, &out, C.int(x), C.int(y), C.double(opacity)), out)
}

func (v *vimg) keepProfileOnly() error {
	var out *C.VipsImage
	return v.step(C.egopt_keep_profile_only(v.p, &out), out)
}

// save encodes v as f; strip drops all metadata (the profile too).
func (v *vimg) save(f Format, strip bool, q, pngCompression, avifSpeed int) ([]byte, error) {
	var buf unsafe.Pointer
	var n C.size_t
	s := C.int(0)
	if strip {
		s = 1
	}
	var rc C.int
	switch f {
	case PNG:
		rc = C.egopt_pngsave(v.p, &buf, &n, s, C.int(pngCompression))
	case WebP:
		rc = C.egopt_webpsave(v.p, &buf, &n, s, C.int(q))
	case AVIF:
		rc = C.egopt_avifsave(v.p, &buf, &n, s, C.int(q), C.int(avifSpeed))
	default:
		rc = C.egopt_jpegsave(v.p, &buf, &n, s, C.int(q))
	}
	if rc != 0 {
		return nil, vipsErr()
	}
	defer C.g_free(C.gpointer(buf))
	return C.GoBytes(buf, C.int(n)), nil
}

// vipsThreadShutdown frees libvips' per-thread state of this OS thread.
func vipsThreadShutdown() { C.vips_thread_shutdown() }
