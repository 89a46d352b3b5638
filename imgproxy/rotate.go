package imgproxy

import "github.com/edgegate/edgegate/resize"

// imgproxy reads a URL in the frame of its result: with rot:90 the size,
// the crop and every gravity are those of the rotated image. edgegate's
// Transform is in the source's frame (EXIF orientation applied): it crops
// and resizes, extends to Width×Height, and rotates after. toSourceFrame
// turns the first into the second for a clockwise rotation rot (90, 180,
// 270): sizes swap for 90 and 270, and gravities and focus points are
// turned back. Padding and the watermark are placed on the final result
// in both, so they stay as they are.
func toSourceFrame(t *resize.Transform, rot int) {
	if rot == 90 || rot == 270 {
		t.Width, t.Height = t.Height, t.Width
		t.Crop.Width, t.Crop.Height = t.Crop.Height, t.Crop.Width
	}
	t.Gravity, t.FocusX, t.FocusY = turnBack(t.Gravity, t.FocusX, t.FocusY, rot)
	t.Crop.Gravity, t.Crop.FocusX, t.Crop.FocusY = turnBack(t.Crop.Gravity, t.Crop.FocusX, t.Crop.FocusY, rot)
	t.ExtendGravity, _, _ = turnBack(t.ExtendGravity, 0, 0, rot)
}

// sourceSide[r][g] is the source's side that becomes side g of a result
// turned clockwise by 90×(r+1) degrees.
var sourceSide = [3]map[resize.Gravity]resize.Gravity{
	{ // 90: the source's west edge is the result's top
		resize.GravityNorth: resize.GravityWest, resize.GravityEast: resize.GravityNorth,
		resize.GravitySouth: resize.GravityEast, resize.GravityWest: resize.GravitySouth,
		resize.GravityNorthEast: resize.GravityNorthWest, resize.GravityNorthWest: resize.GravitySouthWest,
		resize.GravitySouthEast: resize.GravityNorthEast, resize.GravitySouthWest: resize.GravitySouthEast,
	},
	{ // 180
		resize.GravityNorth: resize.GravitySouth, resize.GravityEast: resize.GravityWest,
		resize.GravitySouth: resize.GravityNorth, resize.GravityWest: resize.GravityEast,
		resize.GravityNorthEast: resize.GravitySouthWest, resize.GravityNorthWest: resize.GravitySouthEast,
		resize.GravitySouthEast: resize.GravityNorthWest, resize.GravitySouthWest: resize.GravityNorthEast,
	},
	{ // 270: the source's east edge is the result's top
		resize.GravityNorth: resize.GravityEast, resize.GravityEast: resize.GravitySouth,
		resize.GravitySouth: resize.GravityWest, resize.GravityWest: resize.GravityNorth,
		resize.GravityNorthEast: resize.GravitySouthEast, resize.GravityNorthWest: resize.GravityNorthEast,
		resize.GravitySouthEast: resize.GravitySouthWest, resize.GravitySouthWest: resize.GravityNorthWest,
	},
}

// turnBack maps a gravity (and a focus point, fractions) of the result
// to the source's frame.
func turnBack(g resize.Gravity, x, y float64, rot int) (resize.Gravity, float64, float64) {
	if rot != 90 && rot != 180 && rot != 270 {
		return g, x, y
	}
	if g == resize.GravityFocus {
		switch rot {
		case 90: // source (sx, sy) lands at (1-sy, sx)
			return g, y, 1 - x
		case 180:
			return g, 1 - x, 1 - y
		default: // 270: source (sx, sy) lands at (sy, 1-sx)
			return g, 1 - y, x
		}
	}
	if s, ok := sourceSide[rot/90-1][g]; ok {
		return s, x, y
	}
	return g, x, y // centre, smart
}
