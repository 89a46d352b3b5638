package resize

import "errors"

// isoBrand tells AVIF from HEIF (HEIC) by an ISO-BMFF ftyp box: its major
// brand, or for the generic mif1/msf1 its compatible brands (avif → AVIF).
// It returns 0 for other brands.
func isoBrand(b []byte) Format {
	switch string(b[8:12]) {
	case "avif", "avis":
		return AVIF
	case "heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs":
		return HEIF
	case "mif1", "msf1":
	default:
		return 0
	}
	// ftyp: size, "ftyp", major brand, minor version, compatible brands.
	size := int(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
	size = min(size, len(b))
	for pos := 16; pos+4 <= size; pos += 4 {
		if c := string(b[pos : pos+4]); c == "avif" || c == "avis" {
			return AVIF
		}
	}
	return HEIF
}

// probeHEIF reads a HEIF (HEIC) header through libvips/libheif, which
// parses the container without decoding the HEVC payload: the primary
// image's size (libheif applies the container's rotation and mirroring,
// so these are display sizes and Orientation stays 0), and alpha.
func probeHEIF(b []byte) (Info, error) {
	info := Info{Format: HEIF}
	hdr, err := vipsHeader(b, false)
	if err != nil {
		return info, errors.New(firstLine(err.Error()))
	}
	info.Width, info.Height = int(hdr.width), int(hdr.page_height)
	info.HasAlpha = hdr.alpha != 0
	return info, nil
}
