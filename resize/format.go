package resize

import "strings"

// Format is an image format resize reads and writes.
type Format uint8

// Formats. The zero Format is unknown.
const (
	JPEG Format = iota + 1
	PNG
	WebP
	AVIF
	// GIF is read (animated or still) and written (animated output for
	// clients that accept neither WebP nor AVIF, or ?format=gif).
	GIF
	// HEIF (HEIC, phone photos) and TIFF are read, never written: a HEIF
	// or TIFF source becomes AVIF, WebP, or JPEG (PNG with alpha).
	HEIF
	TIFF
)

// String returns the format's lowercase name: "jpeg", "png", "webp", "avif".
func (f Format) String() string {
	switch f {
	case JPEG:
		return "jpeg"
	case PNG:
		return "png"
	case WebP:
		return "webp"
	case AVIF:
		return "avif"
	case GIF:
		return "gif"
	case HEIF:
		return "heif"
	case TIFF:
		return "tiff"
	}
	return "unknown"
}

// ContentType returns the format's MIME type, e.g. "image/webp".
func (f Format) ContentType() string {
	switch f {
	case JPEG:
		return "image/jpeg"
	case PNG:
		return "image/png"
	case WebP:
		return "image/webp"
	case AVIF:
		return "image/avif"
	case GIF:
		return "image/gif"
	case HEIF:
		return "image/heif"
	case TIFF:
		return "image/tiff"
	}
	return "application/octet-stream"
}

// Ext returns the usual file extension with its dot, e.g. ".jpg".
func (f Format) Ext() string {
	switch f {
	case JPEG:
		return ".jpg"
	case PNG:
		return ".png"
	case WebP:
		return ".webp"
	case AVIF:
		return ".avif"
	case GIF:
		return ".gif"
	case HEIF:
		return ".heic"
	case TIFF:
		return ".tiff"
	}
	return ""
}

// ParseFormat parses a format name as used in ?format=: jpeg (or jpg),
// png, webp, avif, gif (the output formats); case-insensitive. It does
// not allocate.
func ParseFormat(s string) (Format, bool) {
	switch {
	case strings.EqualFold(s, "jpeg"), strings.EqualFold(s, "jpg"):
		return JPEG, true
	case strings.EqualFold(s, "png"):
		return PNG, true
	case strings.EqualFold(s, "webp"):
		return WebP, true
	case strings.EqualFold(s, "avif"):
		return AVIF, true
	case strings.EqualFold(s, "gif"):
		return GIF, true
	}
	return 0, false
}

// Negotiate picks the output format.
//
//   - explicit (the ?format= value), when not empty, wins; an unknown name
//     is an *Error with Status 400. An explicit jpeg for a source with
//     alpha is honoured and flattened onto white by Process.
//   - otherwise from accept (the raw Accept header): AVIF if image/avif is
//     accepted, else WebP if image/webp is, else the source's format. Only
//     explicit media types count: image/* and */* do not mean a client can
//     decode AVIF or WebP. q=0 means not accepted; when a type is listed
//     several times, any entry with q>0 accepts it.
//   - the source's format is used as is for JPEG and PNG; a WebP, AVIF,
//     (still) GIF, HEIF or TIFF source for a client that did not list a
//     modern format becomes PNG when it has alpha and JPEG otherwise. An
//     image with alpha never becomes JPEG by negotiation.
//
// Negotiate is for stills; NegotiateInfo also keeps animations animated.
//
// Negotiate does not allocate; it keeps no reference to accept.
func Negotiate(accept []byte, explicit string, src Format, hasAlpha bool) (Format, error) {
	if explicit != "" {
		f, ok := ParseFormat(explicit)
		if !ok {
			return 0, badRequest(ErrBadSpec, "unknown format: want jpeg, png, webp, avif or gif", nil)
		}
		return f, nil
	}
	avif, webp := acceptsModern(accept)
	switch {
	case avif:
		return AVIF, nil
	case webp:
		return WebP, nil
	}
	switch src {
	case PNG:
		return PNG, nil
	case JPEG:
		if !hasAlpha {
			return JPEG, nil
		}
	}
	if hasAlpha {
		return PNG, nil
	}
	return JPEG, nil
}

// VariesByAccept reports whether Negotiate's answer for this explicit
// format depends on the Accept header, so the response needs
// "Vary: Accept". It is true exactly when no explicit format was given.
func VariesByAccept(explicit string) bool { return explicit == "" }

// acceptsModern scans an Accept header for image/avif and image/webp with
// q>0, without allocating.
func acceptsModern(h []byte) (avif, webp bool) {
	for len(h) > 0 {
		var part []byte
		if i := indexByte(h, ','); i >= 0 {
			part, h = h[:i], h[i+1:]
		} else {
			part, h = h, nil
		}
		mt, params := part, []byte(nil)
		if i := indexByte(part, ';'); i >= 0 {
			mt, params = part[:i], part[i+1:]
		}
		mt = trimSpace(mt)
		isAVIF := equalFoldASCII(mt, "image/avif")
		isWebP := !isAVIF && equalFoldASCII(mt, "image/webp")
		if !isAVIF && !isWebP {
			continue
		}
		if qIsZero(params) {
			continue
		}
		if isAVIF {
			avif = true
		} else {
			webp = true
		}
	}
	return avif, webp
}

// qIsZero reports whether media-range parameters hold q=0 (0, 0., 0.0,
// 0.000). A missing or malformed q counts as non-zero.
func qIsZero(params []byte) bool {
	for len(params) > 0 {
		var p []byte
		if i := indexByte(params, ';'); i >= 0 {
			p, params = params[:i], params[i+1:]
		} else {
			p, params = params, nil
		}
		p = trimSpace(p)
		if len(p) < 2 || (p[0] != 'q' && p[0] != 'Q') {
			continue
		}
		v := trimSpace(p[1:])
		if len(v) == 0 || v[0] != '=' {
			continue
		}
		v = trimSpace(v[1:])
		if len(v) == 0 || v[0] != '0' {
			return false
		}
		v = v[1:]
		if len(v) == 0 {
			return true
		}
		if v[0] != '.' || len(v) > 4 {
			return false
		}
		for _, c := range v[1:] {
			if c != '0' {
				return false
			}
		}
		return true
	}
	return false
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFoldASCII compares b with the lowercase ASCII string s, ignoring
// ASCII case in b.
func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// valid reports whether f is an output format (JPEG, PNG, WebP, AVIF, GIF).
func (f Format) valid() bool { return f >= JPEG && f <= GIF }
