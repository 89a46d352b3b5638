package resize

// Accepts reports whether a client whose Accept header is accept can take
// f when Negotiate would not pick it on its own: AVIF and WebP only when
// Accept names them with q>0 (as Negotiate reads it: image/* does not
// count), JPEG and PNG always. The gateway's region image policy walks its
// preferred formats with it. It does not allocate.
func Accepts(accept []byte, f Format) bool {
	switch f {
	case JPEG, PNG:
		return true
	case AVIF:
		avif, _ := acceptsModern(accept)
		return avif
	case WebP:
		_, webp := acceptsModern(accept)
		return webp
	}
	return false
}
