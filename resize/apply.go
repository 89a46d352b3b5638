package resize

import (
	"fmt"
	"math"
	"runtime"
)

// The options pipeline: transforms whose options bimg's single call cannot
// express run here, on libvips directly (apply_vips.go), in this order:
//
//	load, EXIF orientation → rotate → crop (c:) → sRGB (unless keep_profile)
//	→ resize and cover crop (gravity: edges, smart, focus point) → blur
//	→ sharpen → flatten onto the background → extend → padding
//	→ watermark → metadata stripped (or all but the ICC profile kept) → save
//
// Rotation comes first, as in imgproxy: the requested size is the size of
// the rotated image. A focus point and a crop's gravity are fractions of
// the image they cut (after rotation; the focus point of the crop's
// result). The output's size is computed before libvips runs, by the same
// rules as the bimg path (Processor.options), and Info reports the size of
// the image actually encoded.

// needsApply reports whether t has an option the bimg path cannot do.
func (t Transform) needsApply() bool {
	return t.Fit == FitCover && t.Gravity != GravityCentre && t.Gravity != GravitySmart || t.Crop != (Crop{}) ||
		t.Blur != 0 || t.Sharpen != 0 || t.HasBackground || t.Extend || !t.Padding.Zero() ||
		t.Rotate != 0 || t.KeepProfile || t.Watermark.Opacity > 0
}

// withDPR returns t with its size multiplied by DPR, the factor capped so
// that neither side exceeds MaxWidth/MaxHeight (a preset already over them
// keeps its size), and DPR cleared.
func (p *Processor) withDPR(t Transform) Transform {
	d := t.DPR
	t.DPR = 0
	if d <= 1 {
		return t
	}
	if t.Width > 0 {
		d = math.Min(d, float64(p.cfg.MaxWidth)/float64(t.Width))
	}
	if t.Height > 0 {
		d = math.Min(d, float64(p.cfg.MaxHeight)/float64(t.Height))
	}
	if d <= 1 {
		return t
	}
	t.Width = int(math.Round(float64(t.Width) * d))
	t.Height = int(math.Round(float64(t.Height) * d))
	return t
}

// ProcessWatermarked is Process for a transform with a watermark: wm is
// the watermark image's bytes (JPEG, PNG, WebP or AVIF; alpha is honoured),
// checked against the source limits like a source. Without a watermark in
// t it is Process. A watermark it cannot read is a 422 naming it.
func (p *Processor) ProcessWatermarked(data []byte, t Transform, f Format, wm []byte) ([]byte, Info, error) {
	if t.Watermark.Opacity <= 0 {
		return p.Process(data, t, f)
	}
	if !f.valid() {
		return nil, Info{}, badRequest(ErrBadSpec, "unknown output format", nil)
	}
	if _, err := p.Check(wm); err != nil {
		return nil, Info{}, unprocessable(ErrCorrupt, "watermark image unusable", err)
	}
	src, err := p.Check(data)
	if err != nil {
		return nil, Info{}, err
	}
	if src.Animated() && (f == WebP || f == GIF) {
		return p.processAnimated(data, src, p.withDPR(t), f) // refuses the watermark by name
	}
	return p.apply(data, src, p.withDPR(t), f, wm)
}

// apply runs the options pipeline on data (already checked: src) for t
// (DPR already applied).
func (p *Processor) apply(data []byte, src Info, t Transform, f Format, wm []byte) ([]byte, Info, error) {
	switch f {
	case JPEG, PNG, WebP, AVIF:
	default:
		return nil, Info{}, badRequest(ErrBadSpec, "processing options are not available for "+f.String()+" output", nil)
	}
	if t.Watermark.Opacity > 0 && len(wm) == 0 {
		return nil, Info{}, unprocessable(ErrCorrupt, "watermark image not given", nil)
	}
	// libvips keeps its error message per thread, and per-thread buffers
	// are released by vips_thread_shutdown.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer vipsThreadShutdown()
	// libvips reads the buffers lazily, up to the save, without copying
	// them: they must outlive the whole pipeline.
	defer runtime.KeepAlive(wm)
	defer runtime.KeepAlive(data)
	out, info, err := p.applyVips(data, src, t, f, wm)
	if err != nil {
		return nil, Info{}, unprocessable(ErrCorrupt, "image could not be processed",
			fmt.Errorf("libvips: %s", firstLine(err.Error())))
	}
	return out, info, nil
}

func (p *Processor) applyVips(data []byte, src Info, t Transform, f Format, wmData []byte) ([]byte, Info, error) {
	// Sizes are computed on the source's full size (oriented, rotated,
	// cropped), so that they do not depend on shrink-on-load's rounding.
	w, h := src.DisplaySize()
	if t.Rotate == 90 || t.Rotate == 270 {
		w, h = h, w
	}
	var cl, ct, cw, ch int // the crop, in full-size pixels
	if c := t.Crop; c != (Crop{}) {
		cw, ch = c.Width, c.Height
		if cw == 0 || cw > w {
			cw = w
		}
		if ch == 0 || ch > h {
			ch = h
		}
		cl, ct = anchor(w, h, cw, ch, c.Gravity, c.FocusX, c.FocusY)
	}
	fw, fh := w, h // full-size pixels the resize starts from
	if cw > 0 {
		fw, fh = cw, ch
	}
	shrink := 1
	if src.Format == JPEG {
		_, outW, outH := p.options(Info{Format: src.Format, Width: fw, Height: fh}, t, f)
		if t.Fit == FitCover {
			scale := math.Max(float64(outW)/float64(fw), float64(outH)/float64(fh))
			outW, outH = int(math.Ceil(float64(fw)*scale)), int(math.Ceil(float64(fh)*scale))
		}
		for _, s := range []int{8, 4, 2} {
			if fw >= outW*s && fh >= outH*s {
				shrink = s
				break
			}
		}
	}
	img, err := vipsLoad(data, shrink)
	if err != nil {
		return nil, Info{}, err
	}
	defer img.free()
	if t.Rotate != 0 {
		if err := img.rot(t.Rotate); err != nil {
			return nil, Info{}, err
		}
	}
	if cw > 0 {
		// Full-size coordinates scaled to the image as decoded.
		sx, sy := float64(img.width())/float64(w), float64(img.height())/float64(h)
		l, tp := int(float64(cl)*sx), int(float64(ct)*sy)
		ew := min(max(1, int(math.Round(float64(cw)*sx))), img.width()-l)
		eh := min(max(1, int(math.Round(float64(ch)*sy))), img.height()-tp)
		if err := img.extract(l, tp, ew, eh); err != nil {
			return nil, Info{}, err
		}
	}
	w, h = fw, fh
	if !t.KeepProfile {
		if err := img.srgb(); err != nil {
			return nil, Info{}, err
		}
	}
	o, outW, outH := p.options(Info{Format: src.Format, Width: w, Height: h, HasAlpha: src.HasAlpha}, t, f)
	if t.Fit == FitCover && (outW != img.width() || outH != img.height()) {
		scale := math.Max(float64(outW)/float64(w), float64(outH)/float64(h))
		rw := max(outW, int(math.Round(float64(w)*scale)))
		rh := max(outH, int(math.Round(float64(h)*scale)))
		if err := img.resizeTo(rw, rh); err != nil {
			return nil, Info{}, err
		}
		if t.Gravity == GravitySmart {
			err = img.smartcrop(outW, outH)
		} else if rw != outW || rh != outH {
			l, tp := anchor(rw, rh, outW, outH, t.Gravity, t.FocusX, t.FocusY)
			err = img.extract(l, tp, outW, outH)
		}
	} else {
		err = img.resizeTo(outW, outH)
	}
	if err != nil {
		return nil, Info{}, err
	}
	if t.Blur > 0 {
		if err := img.blur(t.Blur); err != nil {
			return nil, Info{}, err
		}
	}
	if t.Sharpen > 0 {
		if err := img.sharpen(t.Sharpen); err != nil {
			return nil, Info{}, err
		}
	}
	bg := Color{255, 255, 255}
	if t.HasBackground {
		bg = t.Background
	}
	if img.hasAlpha() && (t.HasBackground || f == JPEG) {
		if err := img.flatten(bg); err != nil {
			return nil, Info{}, err
		}
	}
	// Borders: the background, or transparent on an image that kept its
	// alpha (no background given).
	if err := img.castUchar(); err != nil {
		return nil, Info{}, err
	}
	if t.Extend {
		tw, th := max(t.Width, img.width()), max(t.Height, img.height())
		if tw != img.width() || th != img.height() {
			l, tp := anchor(tw, th, img.width(), img.height(), t.ExtendGravity, 0, 0)
			if err := img.embed(l, tp, tw, th, bg, 0); err != nil {
				return nil, Info{}, err
			}
		}
	}
	if pd := t.Padding; !pd.Zero() {
		if err := img.embed(pd.Left, pd.Top, img.width()+pd.Left+pd.Right, img.height()+pd.Top+pd.Bottom, bg, 0); err != nil {
			return nil, Info{}, err
		}
	}
	if wm := t.Watermark; wm.Opacity > 0 {
		if err := img.applyWatermark(wmData, wm); err != nil {
			return nil, Info{}, err
		}
	}
	strip := !t.KeepProfile
	if t.KeepProfile {
		if err := img.keepProfileOnly(); err != nil {
			return nil, Info{}, err
		}
	}
	out, err := img.save(f, strip, o.Quality, o.Compression, p.cfg.AVIFSpeed)
	if err != nil {
		return nil, Info{}, err
	}
	if f == WebP && strip {
		out = stripWebP(out)
	}
	return out, Info{Format: f, Width: img.width(), Height: img.height(), HasAlpha: img.hasAlpha() && f != JPEG}, nil
}

// resizeTo scales v to exactly w×h (no-op when it is that size already).
func (v *vimg) resizeTo(w, h int) error {
	if v.width() == w && v.height() == h {
		return nil
	}
	if err := v.resize(float64(w)/float64(v.width()), float64(h)/float64(v.height())); err != nil {
		return err
	}
	// libvips rounds each side; make it exact.
	if v.width() > w || v.height() > h {
		if err := v.extract(0, 0, min(w, v.width()), min(h, v.height())); err != nil {
			return err
		}
	}
	if v.width() < w || v.height() < h {
		return v.resize(float64(w)/float64(v.width()), float64(h)/float64(v.height()))
	}
	return nil
}

// applyWatermark composites the watermark image over v.
func (v *vimg) applyWatermark(data []byte, wm Watermark) error {
	mark, err := vipsLoad(data, 1)
	if err != nil {
		return err
	}
	defer mark.free()
	if wm.Scale > 0 {
		sw := max(1, int(math.Round(wm.Scale*float64(v.width()))))
		sh := max(1, int(math.Round(float64(mark.height())*float64(sw)/float64(mark.width()))))
		if err := mark.resizeTo(sw, sh); err != nil {
			return err
		}
	}
	x, y := place(v.width(), v.height(), mark.width(), mark.height(), wm.Position, wm.OffsetX, wm.OffsetY)
	return v.watermark(mark, x, y, wm.Opacity)
}

// anchor returns where a cw×ch area sits in a w×h one for gravity g (a
// focus point at fx,fy: the area centred on it, kept inside).
func anchor(w, h, cw, ch int, g Gravity, fx, fy float64) (l, t int) {
	if g == GravityFocus {
		l = int(math.Round(fx*float64(w) - float64(cw)/2))
		t = int(math.Round(fy*float64(h) - float64(ch)/2))
		return min(max(l, 0), w-cw), min(max(t, 0), h-ch)
	}
	return place(w, h, cw, ch, g, 0, 0)
}

// place positions a cw×ch area in w×h by an edge gravity, dx,dy pixels in
// from the edges it names (shifting right and down from the centre).
func place(w, h, cw, ch int, g Gravity, dx, dy int) (l, t int) {
	switch g {
	case GravityWest, GravityNorthWest, GravitySouthWest:
		l = dx
	case GravityEast, GravityNorthEast, GravitySouthEast:
		l = w - cw - dx
	default:
		l = (w-cw)/2 + dx
	}
	switch g {
	case GravityNorth, GravityNorthEast, GravityNorthWest:
		t = dy
	case GravitySouth, GravitySouthEast, GravitySouthWest:
		t = h - ch - dy
	default:
		t = (h-ch)/2 + dy
	}
	return l, t
}
