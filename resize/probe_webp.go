package resize

import "encoding/binary"

// webpFrames counts the ANMF (animation frame) chunks of an animated WebP
// from the chunk at pos on, without decoding any: each chunk is skipped by
// its length. A truncated file counts the frames it holds whole; an
// animation flag with no frame counts as 1.
func webpFrames(b []byte, pos int) int {
	n := 0
	for pos >= 0 && pos+8 <= len(b) {
		size := int(binary.LittleEndian.Uint32(b[pos+4:]))
		if size < 0 || size > len(b)-pos-8 {
			break
		}
		if string(b[pos:pos+4]) == "ANMF" {
			n++
		}
		pos += 8 + size + size&1
	}
	return max(n, 1)
}
