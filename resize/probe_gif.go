package resize

import (
	"encoding/binary"
	"errors"
)

// probeGIF reads a GIF's logical screen (the canvas every frame is drawn
// on, and the size libvips decodes to) and counts its frames by walking
// the block structure: extensions and image data are skipped sub-block by
// sub-block (a length byte each), so no LZW is decoded and a 40 MiB GIF is
// walked in well under a millisecond. Transparency in any Graphic Control
// Extension sets HasAlpha. A file cut short counts the frames it starts,
// as decoders show what is there; a GIF without a single frame is corrupt.
func probeGIF(b []byte) (Info, error) {
	info := Info{Format: GIF}
	if len(b) < 13 {
		return info, errTruncated
	}
	info.Width = int(binary.LittleEndian.Uint16(b[6:]))
	info.Height = int(binary.LittleEndian.Uint16(b[8:]))
	pos := 13
	if flags := b[10]; flags&0x80 != 0 { // global colour table
		pos += 3 << (flags&7 + 1)
	}
	frames := 0
	// skipSubBlocks returns the position after a sub-block chain's
	// terminator, or -1 when the data ends first.
	skipSubBlocks := func(p int) int {
		for p < len(b) {
			n := int(b[p])
			if n == 0 {
				return p + 1
			}
			p += 1 + n
		}
		return -1
	}
walk:
	for pos < len(b) {
		switch b[pos] {
		case 0x21: // extension: label, then sub-blocks
			if pos+2 > len(b) {
				break walk
			}
			if b[pos+1] == 0xF9 && pos+4 <= len(b) && b[pos+2] >= 4 && b[pos+3]&1 != 0 {
				info.HasAlpha = true // Graphic Control: transparent colour index
			}
			if pos = skipSubBlocks(pos + 2); pos < 0 {
				break walk
			}
		case 0x2C: // image descriptor, local colour table, LZW size, data
			frames++
			if pos+10 > len(b) {
				break walk
			}
			flags := b[pos+9]
			pos += 10
			if flags&0x80 != 0 {
				pos += 3 << (flags&7 + 1)
			}
			pos++ // LZW minimum code size
			if pos >= len(b) {
				break walk
			}
			if pos = skipSubBlocks(pos); pos < 0 {
				break walk
			}
		case 0x3B: // trailer
			break walk
		default:
			if frames == 0 {
				return info, errors.New("bad block")
			}
			break walk // trailing garbage after frames: decoders stop here too
		}
	}
	if frames == 0 {
		return info, errors.New("no frame")
	}
	info.Frames = frames
	return info, nil
}
