package resize

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/h2non/bimg"
)

// Info describes an image.
type Info struct {
	Format Format
	// Width and Height as stored, in pixels. For Probe these are before
	// EXIF orientation (see DisplaySize); for Process's output orientation
	// is already applied.
	Width, Height int
	// HasAlpha reports an alpha channel (PNG colour type 4/6 or tRNS, WebP
	// alpha, AVIF alpha).
	HasAlpha bool
	// Orientation is the EXIF orientation, 1–8, or 0 when absent. Read for
	// JPEG (APP1), PNG (eXIf) and WebP (EXIF chunk) and AVIF.
	Orientation int
	// Frames is the number of animation frames, counted from the header
	// for GIF and WebP; 1 for a still (0, in an Info built by hand, also
	// means 1). Width and Height are then each frame's (the canvas).
	Frames int
}

// Pixels returns Width×Height: one frame's pixels.
func (i Info) Pixels() int64 { return int64(i.Width) * int64(i.Height) }

// FrameCount returns Frames, at least 1.
func (i Info) FrameCount() int { return max(i.Frames, 1) }

// Animated reports more than one frame.
func (i Info) Animated() bool { return i.Frames > 1 }

// TotalPixels returns Pixels × FrameCount: what decoding every frame
// touches. MaxSourcePixels bounds it, and Megapixels counts it.
func (i Info) TotalPixels() int64 { return i.Pixels() * int64(i.FrameCount()) }

// Megapixels returns TotalPixels in millions, rounded up, at least 1: the
// unit Admission budgets in. An animation costs all its frames. A HEIF
// costs twice its pixels: libheif decodes the whole image, with the HEVC
// decoder's planes beside the RGB result, about 8 bytes a pixel where the
// budget assumes 4 (measured: vips thumbnail of a 4000×3000 HEIC to 1280
// px peaks ~90 MB over the process's baseline; a JPEG, shrunk on load,
// ~0), so counting it once let 8 concurrent HEICs take the gateway past
// the budget's RSS promise (scripts/bench-images2.sh).
func (i Info) Megapixels() int {
	px := i.TotalPixels()
	if i.Format == HEIF {
		px *= 2
	}
	mp := int((px + 999_999) / 1_000_000)
	return max(mp, 1)
}

// DisplaySize returns the size once EXIF orientation is applied: width and
// height swap for orientations 5–8.
func (i Info) DisplaySize() (w, h int) {
	if i.Orientation >= 5 && i.Orientation <= 8 {
		return i.Height, i.Width
	}
	return i.Width, i.Height
}

// Probe reads an image's header: format, size, alpha, EXIF orientation
// and frame count, without decoding pixels. JPEG, PNG, WebP (frames from
// its ANMF chunks), GIF (frames by walking its blocks, never decoding LZW)
// and TIFF (IFD0) headers are parsed in Go in microseconds; AVIF and HEIF
// headers are read by libvips (libheif), still without decoding. Unknown formats are an *Error with Status 415 (ErrUnsupported);
// truncated or inconsistent headers are 422 (ErrCorrupt). Probe never
// panics on any input and is safe for concurrent use.
func Probe(data []byte) (Info, error) {
	var (
		info Info
		err  error
	)
	switch {
	case len(data) >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF:
		info, err = probeJPEG(data)
	case len(data) >= 8 && string(data[:8]) == "\x89PNG\r\n\x1a\n":
		info, err = probePNG(data)
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		info, err = probeWebP(data)
	case len(data) >= 12 && string(data[4:8]) == "ftyp" && isoBrand(data) == AVIF:
		info, err = probeAVIF(data)
	case len(data) >= 12 && string(data[4:8]) == "ftyp" && isoBrand(data) == HEIF:
		info, err = probeHEIF(data)
	case len(data) >= 6 && (string(data[:6]) == "GIF87a" || string(data[:6]) == "GIF89a"):
		info, err = probeGIF(data)
	case len(data) >= 4 && (string(data[:4]) == "II*\x00" || string(data[:4]) == "MM\x00*"):
		info, err = probeTIFF(data)
	default:
		return Info{}, unsupported(ErrUnsupported, "unsupported image format: want jpeg, png, webp, avif, gif, heic or tiff", nil)
	}
	if err != nil {
		return Info{}, unprocessable(ErrCorrupt, "corrupt image", fmt.Errorf("%s: %w", info.Format, err))
	}
	if info.Width <= 0 || info.Height <= 0 {
		return Info{}, unprocessable(ErrCorrupt, "corrupt image", fmt.Errorf("%s: zero size", info.Format))
	}
	return info, nil
}

var errTruncated = errors.New("truncated header")

func probeJPEG(b []byte) (Info, error) {
	info := Info{Format: JPEG}
	pos := 2
	for {
		// Markers may be preceded by any number of 0xFF fill bytes.
		if pos >= len(b) || b[pos] != 0xFF {
			return info, errTruncated
		}
		for pos < len(b) && b[pos] == 0xFF {
			pos++
		}
		if pos >= len(b) {
			return info, errTruncated
		}
		m := b[pos]
		pos++
		switch {
		case m == 0x01 || m >= 0xD0 && m <= 0xD8: // standalone markers
			continue
		case m == 0xD9 || m == 0xDA: // EOI or SOS before any frame header
			return info, errors.New("no frame header")
		}
		if pos+2 > len(b) {
			return info, errTruncated
		}
		n := int(binary.BigEndian.Uint16(b[pos:]))
		if n < 2 || pos+n > len(b) {
			return info, errTruncated
		}
		seg := b[pos+2 : pos+n]
		pos += n
		switch {
		case m == 0xE1 && info.Orientation == 0 && len(seg) > 6 && string(seg[:6]) == "Exif\x00\x00":
			info.Orientation = exifOrientation(seg[6:])
		case m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC: // SOFn
			if len(seg) < 6 {
				return info, errTruncated
			}
			info.Height = int(binary.BigEndian.Uint16(seg[1:]))
			info.Width = int(binary.BigEndian.Uint16(seg[3:]))
			return info, nil
		}
	}
}

// exifOrientation reads tag 0x0112 from IFD0 of a TIFF-structured EXIF
// block, returning 0 when absent or invalid.
func exifOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(t[2:]) != 42 {
		return 0
	}
	off := int64(bo.Uint32(t[4:]))
	if off < 8 || off+2 > int64(len(t)) {
		return 0
	}
	n := int64(bo.Uint16(t[off:]))
	for i := int64(0); i < n; i++ {
		e := off + 2 + 12*i
		if e+12 > int64(len(t)) {
			return 0
		}
		if bo.Uint16(t[e:]) != 0x0112 {
			continue
		}
		if bo.Uint16(t[e+2:]) != 3 { // SHORT
			return 0
		}
		if v := int(bo.Uint16(t[e+8:])); v >= 1 && v <= 8 {
			return v
		}
		return 0
	}
	return 0
}

func probePNG(b []byte) (Info, error) {
	info := Info{Format: PNG}
	if len(b) < 33 || string(b[12:16]) != "IHDR" || binary.BigEndian.Uint32(b[8:]) != 13 {
		return info, errors.New("missing IHDR")
	}
	w, h := binary.BigEndian.Uint32(b[16:]), binary.BigEndian.Uint32(b[20:])
	if w > 1<<31-1 || h > 1<<31-1 {
		return info, errors.New("size out of range")
	}
	info.Width, info.Height = int(w), int(h)
	switch b[25] { // colour type
	case 4, 6:
		info.HasAlpha = true
	case 0, 2, 3:
	default:
		return info, errors.New("bad colour type")
	}
	// Ancillary chunks before IDAT: tRNS adds alpha, eXIf holds orientation.
	pos := int64(33)
	for pos+8 <= int64(len(b)) {
		n := int64(binary.BigEndian.Uint32(b[pos:]))
		typ := string(b[pos+4 : pos+8])
		if typ == "IDAT" || typ == "IEND" {
			break
		}
		end := pos + 8 + n
		if end > int64(len(b)) {
			break
		}
		switch typ {
		case "tRNS":
			info.HasAlpha = true
		case "eXIf":
			info.Orientation = exifOrientation(b[pos+8 : end])
		}
		pos = end + 4 // CRC
	}
	return info, nil
}

func probeWebP(b []byte) (Info, error) {
	info := Info{Format: WebP}
	if len(b) < 20 {
		return info, errTruncated
	}
	chunk := func(pos int) (typ string, data []byte, next int, ok bool) {
		if pos+8 > len(b) {
			return "", nil, 0, false
		}
		n := int(binary.LittleEndian.Uint32(b[pos+4:]))
		if n < 0 || n > len(b)-pos-8 {
			return "", nil, 0, false
		}
		return string(b[pos : pos+4]), b[pos+8 : pos+8+n], pos + 8 + n + n&1, true
	}
	typ, d, next, ok := chunk(12)
	if !ok {
		return info, errTruncated
	}
	switch typ {
	case "VP8 ":
		if len(d) < 10 || d[3] != 0x9d || d[4] != 0x01 || d[5] != 0x2a {
			return info, errors.New("bad VP8 frame header")
		}
		info.Width = int(binary.LittleEndian.Uint16(d[6:]) & 0x3fff)
		info.Height = int(binary.LittleEndian.Uint16(d[8:]) & 0x3fff)
	case "VP8L":
		if len(d) < 5 || d[0] != 0x2f {
			return info, errors.New("bad VP8L header")
		}
		v := binary.LittleEndian.Uint32(d[1:])
		info.Width = int(v&0x3fff) + 1
		info.Height = int(v>>14&0x3fff) + 1
		info.HasAlpha = v>>28&1 == 1
	case "VP8X":
		if len(d) < 10 {
			return info, errTruncated
		}
		flags := d[0]
		info.HasAlpha = flags&0x10 != 0
		info.Width = int(uint32(d[4])|uint32(d[5])<<8|uint32(d[6])<<16) + 1
		info.Height = int(uint32(d[7])|uint32(d[8])<<8|uint32(d[9])<<16) + 1
		if flags&0x02 != 0 { // animation: count the frames (probe_webp.go)
			info.Frames = webpFrames(b, next)
		}
		if flags&0x08 != 0 { // EXIF present: find its chunk
			for pos := next; ; {
				typ, d, n, ok := chunk(pos)
				if !ok {
					break
				}
				if typ == "EXIF" {
					d, _ = bytes.CutPrefix(d, []byte("Exif\x00\x00"))
					info.Orientation = exifOrientation(d)
					break
				}
				pos = n
			}
		}
	default:
		return info, errors.New("unknown first chunk")
	}
	return info, nil
}

// probeAVIF reads an AVIF header through libvips/libheif, which parses the
// container without decoding the AV1 payload.
func probeAVIF(b []byte) (Info, error) {
	info := Info{Format: AVIF}
	md, err := bimg.NewImage(b).Metadata()
	if err != nil {
		return info, errors.New(firstLine(err.Error()))
	}
	info.Width, info.Height = md.Size.Width, md.Size.Height
	info.HasAlpha = md.Alpha
	if md.Orientation >= 1 && md.Orientation <= 8 {
		info.Orientation = md.Orientation
	}
	return info, nil
}

// firstLine trims libvips' multi-line error buffers.
func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
