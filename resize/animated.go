package resize

/*
#cgo pkg-config: vips
#include <stdlib.h>
#include <vips/vips.h>
#include "vips_anim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"unsafe"
)

// Animated GIF and WebP are processed here, with a few lines of our own
// cgo (vips_anim.c), because bimg cannot: bimg loads one page only (its
// loaders take no "n" option), so every animation came out as its first
// frame. vips_anim.c loads every page (n=-1), resizes the frames with
// vips_thumbnail (which respects page-height), crops them one by one for
// fit=cover, and saves an animated WebP or GIF keeping the delays and the
// loop count. Stills stay on bimg. See BENCHMARKS.md (animated GIF →
// WebP, edgegate / the vips CLI) for what it costs.

// NegotiateInfo picks the output format knowing the probed source: an
// animation (Info.Frames > 1) stays animated — WebP when the client
// accepts image/webp, else GIF (libvips 8.14 writes no animated AVIF, so
// AVIF alone does not count) — unless explicit asks for a format: webp or
// gif keep the animation, jpeg, png or avif get the first frame. Stills
// are negotiated as Negotiate does. It does not allocate.
func NegotiateInfo(accept []byte, explicit string, src Info) (Format, error) {
	if !src.Animated() || explicit != "" {
		return Negotiate(accept, explicit, src.Format, src.HasAlpha)
	}
	if _, webp := acceptsModern(accept); webp {
		return WebP, nil
	}
	return GIF, nil
}

// MayAnimate reports whether a source of format src (0 when unknown, e.g.
// from a missing or unexpected Content-Type) may be an animation, so that
// the output format can only be chosen after probing (NegotiateInfo).
func MayAnimate(src Format) bool {
	return src != JPEG && src != PNG && src != AVIF && src != HEIF && src != TIFF
}

// processAnimated renders an animated src into f (WebP or GIF), every
// frame sized as options sizes a still: inside, cover (each frame cropped
// where the gravity says; smart falls back to centre) or fill, never
// upscaled unless t.Upscale. The size limits hold per frame. Of the
// processing options only size, fit, gravity and quality apply to
// animations.
func (p *Processor) processAnimated(data []byte, src Info, t Transform, f Format) ([]byte, Info, error) {
	if name := t.stillOnlyOption(); name != "" {
		return nil, Info{}, badRequest(ErrBadSpec, "option "+name+" is not available for animated output; "+
			"?format=jpeg, png or avif renders the first frame", nil)
	}
	_, outW, outH := p.options(src, t, f)
	w, h := src.DisplaySize()
	params := C.eg_anim_t{
		width: C.int(outW), height: C.int(outH),
		gif:     C.int(0),
		quality: C.int(p.cfg.Quality.WebP),
	}
	if t.Quality > 0 {
		params.quality = C.int(t.Quality)
	}
	if f == GIF {
		params.gif = 1
	}
	if t.Fit == FitCover && (outW != w || outH != h) {
		// Scale to cover outW×outH, then cut each frame.
		s := math.Max(float64(outW)/float64(w), float64(outH)/float64(h))
		sw := max(outW, int(math.Round(float64(w)*s)))
		sh := max(outH, int(math.Round(float64(h)*s)))
		left, top := anchor(sw, sh, outW, outH, t.Gravity, t.FocusX, t.FocusY) // apply.go, as stills
		params.width, params.height = C.int(sw), C.int(sh)
		params.crop = 1
		params.crop_w, params.crop_h = C.int(outW), C.int(outH)
		params.left, params.top = C.int(left), C.int(top)
	}
	var (
		out  unsafe.Pointer
		n    C.size_t
		hdr  C.eg_header_t
		verr error
	)
	runtime.LockOSThread() // libvips' error buffer is per thread
	rc := C.eg_anim(unsafe.Pointer(&data[0]), C.size_t(len(data)), &params, &out, &n, &hdr)
	if rc != 0 {
		verr = vipsError()
	}
	runtime.UnlockOSThread()
	if rc != 0 {
		return nil, Info{}, unprocessable(ErrCorrupt, "image could not be processed",
			fmt.Errorf("libvips: animated %s: %w", f, verr))
	}
	b := C.GoBytes(out, C.int(n))
	C.g_free(C.gpointer(out))
	return b, Info{
		Format:   f,
		Width:    int(hdr.width),
		Height:   int(hdr.page_height),
		Frames:   int(hdr.pages),
		HasAlpha: src.HasAlpha,
	}, nil
}

// Frames reads an image's header through libvips with every page loaded
// (n=-1, for the formats that have pages: GIF, WebP, HEIF, TIFF; other
// formats one page): one frame's width and height and the number of
// frames. It decodes no pixels. Tests use it to check animated output
// independently of Probe's Go parsers.
func Frames(data []byte) (width, height, frames int, err error) {
	hdr, err := vipsHeader(data, true)
	return int(hdr.width), int(hdr.page_height), int(hdr.pages), err
}

// vipsHeader reads data's header through libvips without decoding pixels.
func vipsHeader(data []byte, allPages bool) (C.eg_header_t, error) {
	var hdr C.eg_header_t
	if len(data) == 0 {
		return hdr, errors.New("empty")
	}
	all := C.int(0)
	if allPages {
		all = 1
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if C.eg_header(unsafe.Pointer(&data[0]), C.size_t(len(data)), all, &hdr) != 0 {
		return hdr, vipsError()
	}
	return hdr, nil
}

// vipsError takes libvips' error buffer (this thread's) and clears it.
func vipsError() error {
	s := C.GoString(C.vips_error_buffer())
	C.vips_error_clear()
	return errors.New(firstLine(s))
}

// checkFrames enforces MaxSourceFrames, and MaxSourcePixels over every
// frame (width × height × frames): what decoding the animation touches.
func (p *Processor) checkFrames(info Info) error {
	if info.FrameCount() > p.cfg.MaxSourceFrames {
		return unprocessable(ErrTooLarge, "source animation has too many frames",
			fmt.Errorf("%d frames, limit %d", info.FrameCount(), p.cfg.MaxSourceFrames))
	}
	if info.Animated() && info.TotalPixels() > int64(p.cfg.MaxSourcePixels) {
		return unprocessable(ErrTooLarge, "source animation resolution too large",
			fmt.Errorf("%dx%d × %d frames is %d pixels, limit %d", info.Width, info.Height,
				info.FrameCount(), info.TotalPixels(), p.cfg.MaxSourcePixels))
	}
	return nil
}

// bimgReadable returns data as bimg can load it: bimg recognises HEIF
// only by the major brands heic, mif1, msf1, heis and hevc, so a HEIF with
// another one (heix: 10-bit, iPhones in HDR mode) is handed over with
// mif1, the generic brand libheif reads the same way.
func bimgReadable(data []byte, src Info) []byte {
	if src.Format != HEIF {
		return data
	}
	switch string(data[8:12]) {
	case "heic", "mif1", "msf1", "heis", "hevc":
		return data
	}
	c := append([]byte(nil), data...)
	copy(c[8:12], "mif1")
	return c
}

// stillOnlyOption names the first option of t that the animated path does
// not apply (it sizes, fits, anchors and sets quality), or "": such a
// transform is refused for an animation rather than rendered without it.
func (t Transform) stillOnlyOption() string {
	switch {
	case t.Crop != (Crop{}):
		return "c"
	case t.Blur != 0:
		return "bl"
	case t.Sharpen != 0:
		return "sh"
	case t.HasBackground:
		return "bg"
	case t.Extend:
		return "ex"
	case !t.Padding.Zero():
		return "pd"
	case t.Rotate != 0:
		return "rot"
	case t.KeepProfile:
		return "scp"
	case t.Watermark.Opacity > 0:
		return "wm"
	}
	return ""
}
