package resize

import (
	"encoding/binary"
	"errors"
)

// TIFF tags read by probeTIFF.
const (
	tiffImageWidth   = 256
	tiffImageLength  = 257
	tiffOrientation  = 274
	tiffExtraSamples = 338
)

// probeTIFF reads IFD0 of a classic (not Big) TIFF: width, height,
// orientation, and alpha (ExtraSamples 1 or 2, associated or unassociated
// alpha). Only the first page (IFD0) is read: libvips loads the first page
// of a multi-page TIFF, and so does Process, so it counts as a still.
func probeTIFF(b []byte) (Info, error) {
	info := Info{Format: TIFF}
	if len(b) < 8 {
		return info, errTruncated
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if b[0] == 'M' {
		bo = binary.BigEndian
	}
	off := int64(bo.Uint32(b[4:]))
	if off < 8 || off+2 > int64(len(b)) {
		return info, errTruncated
	}
	n := int64(bo.Uint16(b[off:]))
	if off+2+12*n > int64(len(b)) {
		return info, errTruncated
	}
	for i := range n {
		e := b[off+2+12*i:]
		tag, typ, count := bo.Uint16(e), bo.Uint16(e[2:]), bo.Uint32(e[4:])
		var v uint32 // the first value, when it is stored in the entry
		switch {
		case typ == 3 && count >= 1: // SHORT
			v = uint32(bo.Uint16(e[8:]))
		case typ == 4 && count == 1: // LONG
			v = bo.Uint32(e[8:])
		default:
			continue
		}
		switch tag {
		case tiffImageWidth:
			info.Width = int(v)
		case tiffImageLength:
			info.Height = int(v)
		case tiffOrientation:
			if v >= 1 && v <= 8 {
				info.Orientation = int(v)
			}
		case tiffExtraSamples:
			if count <= 2 && (v == 1 || v == 2) {
				info.HasAlpha = true
			}
		}
	}
	if info.Width <= 0 || info.Height <= 0 || info.Width > 1<<30 || info.Height > 1<<30 {
		return info, errors.New("no or bad ImageWidth/ImageLength in IFD0")
	}
	return info, nil
}
