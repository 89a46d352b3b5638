package gateway

import "github.com/edgegate/edgegate/resize"

// The input formats of issue 17 in the /img/ path. A GIF or WebP source
// may be an animation, which stays animated (resize.NegotiateInfo: WebP
// for clients that accept it, else GIF), and only probing tells: for such
// a source (or one whose Content-Type names no format) the output format
// is settled in renderVariant, and the variant key names both the still
// candidates and the animated format this client would get, so that two
// clients that would get different answers never share a cached one.
// HEIC and TIFF sources are stills: they negotiate as any other.

// keyAnimation defers the format of a variant whose source may be an
// animation to renderVariant; an explicit ?format= decides it at once, and
// so does a client that gets the same format either way (a still and an
// animation both WebP), which keeps the early 304 and the stored-variant
// tier for, say, WebP sources and WebP-only clients. f1 and f2 are the
// still candidates (without and with alpha).
func keyAnimation(vk *variantKey, accept []byte, explicit string, src, f1, f2 resize.Format) {
	if explicit != "" || !resize.MayAnimate(src) {
		return
	}
	a, _ := resize.NegotiateInfo(accept, "", resize.Info{Format: resize.GIF, Frames: 2})
	if f1 == f2 && f1 == a {
		return
	}
	vk.format, vk.formatKnown = 0, false
	vk.anim = uint16(f1) | uint16(f2)<<4 | uint16(a)<<8
}

// animatedFormat is the format renderVariant renders a probed source in:
// f, the still's, unless the source is animated and no format was asked
// for, when the animation's (WebP or GIF).
func animatedFormat(f resize.Format, accept []byte, explicit string, info resize.Info) resize.Format {
	if explicit != "" || !info.Animated() {
		return f
	}
	a, _ := resize.NegotiateInfo(accept, "", info)
	return a
}
