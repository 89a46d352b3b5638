package resize

import "encoding/binary"

// stripWebP removes EXIF, XMP and ICCP chunks from a WebP file and clears
// their VP8X flags. libvips 8.14's webpsave writes EXIF even with strip set
// (observed here with 8.14.1), so Process finishes the job. It returns b
// unchanged when there is nothing to strip or the container is not as
// expected.
func stripWebP(b []byte) []byte {
	if len(b) < 30 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" || string(b[12:16]) != "VP8X" {
		return b
	}
	const drop = 0x20 | 0x08 | 0x04 // ICC, EXIF, XMP
	flags := b[20]
	if flags&drop == 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	out = append(out, b[:12]...)
	for pos := 12; pos+8 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[pos+4:]))
		end := pos + 8 + n + n&1
		if n > len(b)-pos-8 {
			return b
		}
		end = min(end, len(b))
		switch string(b[pos : pos+4]) {
		case "EXIF", "XMP ", "ICCP":
		default:
			out = append(out, b[pos:end]...)
		}
		pos = end
	}
	out[20] &^= drop
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out
}
