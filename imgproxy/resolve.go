package imgproxy

import "github.com/edgegate/edgegate/resize"

// Fits of imgproxy's resizing types that depend on the source's size. A
// Transform carrying one must go through Resolve before resize.Process;
// as a variant key (Transform.Spec) it names the request as parsed, which
// with the source's version determines the output.
const (
	// FitAuto is rt:auto: fill (cover) when the source and the requested
	// size have the same orientation (landscape or square, or portrait),
	// else fit (inside).
	FitAuto resize.Fit = "auto"
	// FitFillDown is rt:fill-down without enlarge: fill, but when the
	// source is smaller than the requested size the result keeps the
	// requested aspect ratio (the largest such crop of the source).
	FitFillDown resize.Fit = "fill-down"
)

// NeedsResolve reports whether t must be completed by Resolve: FitAuto,
// FitFillDown, or rt:force (FitFill) with one dimension 0 (which keeps the
// source's).
func NeedsResolve(t resize.Transform) bool {
	return t.Fit == FitAuto || t.Fit == FitFillDown ||
		t.Fit == resize.FitFill && (t.Width == 0) != (t.Height == 0)
}

// Resolve completes t for a source of the probed size (EXIF orientation
// applied, then the transform's rotation and crop, which come before
// resizing in imgproxy and in resize alike), as imgproxy's resizing types
// define: it returns t unchanged unless NeedsResolve(t).
func Resolve(t resize.Transform, src resize.Info) resize.Transform {
	if !NeedsResolve(t) {
		return t
	}
	sw, sh := src.DisplaySize()
	if t.Rotate == 90 || t.Rotate == 270 {
		sw, sh = sh, sw
	}
	if t.Crop.Width > 0 {
		sw = min(sw, t.Crop.Width)
	}
	if t.Crop.Height > 0 {
		sh = min(sh, t.Crop.Height)
	}
	switch t.Fit {
	case FitAuto:
		t.Fit = autoFit(sw, sh, t.Width, t.Height)
	case FitFillDown:
		t.Fit = resize.FitCover
		// The largest W:H area within both the request (at its DPR,
		// which the processing multiplies the size by) and the source.
		d := max(1, t.DPR)
		if k := min(1, float64(sw)/(float64(t.Width)*d), float64(sh)/(float64(t.Height)*d)); k < 1 {
			t.Width = max(1, int(float64(t.Width)*k+0.5))
			t.Height = max(1, int(float64(t.Height)*k+0.5))
		}
	default: // force with one dimension 0: that one is the source's
		if t.Width == 0 {
			t.Width = sw
		} else {
			t.Height = sh
		}
	}
	return t
}

// autoFit is rt:auto's choice: cover when the source (sw×sh) and the
// request (w×h, a zero side taking the source's) lean the same way, a
// square counting as landscape, else inside.
func autoFit(sw, sh, w, h int) resize.Fit {
	if w == 0 || h == 0 {
		return resize.FitInside // one side given: fill and fit agree
	}
	if (sw-sh >= 0) == (w-h >= 0) {
		return resize.FitCover
	}
	return resize.FitInside
}
