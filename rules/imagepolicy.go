package rules

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The image policy: image defaults a region or a route gives with an
// "image:" mapping (issue 17). The gateway applies the policy of a
// request's region and route to /img/ requests: it knows nothing of
// libvips, and this package knows nothing of images beyond the names.
//
//	regions:
//	  africa: {continent: AF, prefix: af/, fallback: global,
//	           image: {quality: 45, formats: [webp, jpeg], max_dpr: 2, save_data: lighter}}
//	routes:
//	  - {name: photos, match: "photos/**", bucket: b, delivery: presign, ttl: 1h,
//	     image: {client_hints: on, quality: {jpeg: 80, webp: 75, avif: 55}}}

var imageFields = []string{"quality", "formats", "max_dpr", "save_data", "client_hints"}

// lossyFormats are the formats a quality applies to (PNG is lossless).
var lossyFormats = []string{"jpeg", "webp", "avif"}

// MaxImageDPR is the largest device pixel ratio an image policy may allow.
const MaxImageDPR = 4

// ImagePolicy is image defaults from the rules file: a region's or a
// route's "image:" as written, or the merged policy of a region and a route
// ([Route.ImagePolicy]). Zero fields are not set. It is immutable.
type ImagePolicy struct {
	// Quality per lossy output format, 1–100; 0 leaves the format's
	// configured default (images.quality). It is a default: a preset's or
	// a signed URL's own quality wins.
	Quality ImageQuality
	// Formats is the preferred order of negotiated output formats (jpeg,
	// png, webp, avif), most preferred first: the first one the client
	// accepts wins (webp and avif only when Accept names them, jpeg never
	// for an image with alpha); when none fits, the source's own format
	// (JPEG or PNG). Formats not listed are not chosen by negotiation, so
	// [webp, jpeg] keeps AVIF's encoding cost off a region. ?format= wins.
	Formats []string
	// MaxDPR caps the device pixel ratio of a request (a client hint or a
	// URL's dpr), 1–4; 0: not set (4).
	MaxDPR float64
	// SaveData says what a request with "Save-Data: on" gets, when client
	// hints are on: SaveDataLighter (the default) or SaveDataIgnore.
	SaveData SaveData
	// ClientHints turns the client hints (Sec-CH-DPR, Sec-CH-Width,
	// Save-Data) on or off; ToggleUnset leaves it to images.client_hints.
	ClientHints Toggle

	// From names where each field of a merged policy came from
	// ("region egypt", "route photos"); empty in a policy as written.
	From ImagePolicyFrom
}

// ImageQuality holds a quality per lossy format; 0 is not set.
type ImageQuality struct{ JPEG, WebP, AVIF int }

// For returns the quality for a format name ("jpeg", "webp", "avif"), 0
// for any other.
func (q ImageQuality) For(format string) int {
	switch format {
	case "jpeg":
		return q.JPEG
	case "webp":
		return q.WebP
	case "avif":
		return q.AVIF
	}
	return 0
}

// ImagePolicyFrom names the origin of each field of a merged policy.
type ImagePolicyFrom struct {
	JPEGQuality, WebPQuality, AVIFQuality  string
	Formats, MaxDPR, SaveData, ClientHints string
}

// SaveData is what a "Save-Data: on" request gets.
type SaveData uint8

// Save-Data behaviours.
const (
	// SaveDataUnset: not set here (lighter, unless set elsewhere).
	SaveDataUnset SaveData = iota
	// SaveDataLighter: DPR 1 and two thirds of the quality.
	SaveDataLighter
	// SaveDataIgnore: Save-Data changes nothing.
	SaveDataIgnore
)

// String returns "lighter", "ignore" or "" (unset).
func (s SaveData) String() string {
	switch s {
	case SaveDataLighter:
		return "lighter"
	case SaveDataIgnore:
		return "ignore"
	}
	return ""
}

// Toggle is an on/off setting that may be left unset.
type Toggle uint8

// Toggles.
const (
	ToggleUnset Toggle = iota
	ToggleOff
	ToggleOn
)

// String returns "on", "off" or "" (unset).
func (t Toggle) String() string {
	switch t {
	case ToggleOn:
		return "on"
	case ToggleOff:
		return "off"
	}
	return ""
}

// empty reports a policy that sets nothing.
func (p *ImagePolicy) empty() bool {
	return p == nil || (p.Quality == ImageQuality{} && p.Formats == nil && p.MaxDPR == 0 &&
		p.SaveData == SaveDataUnset && p.ClientHints == ToggleUnset)
}

// ImagePolicy returns the image policy for reg on this route: field by
// field, reg's own, then that of each region it falls back to (nearest
// first), then this route's. It returns nil when none of them sets
// anything, or reg is nil or unknown to the route's table. The result is
// precomputed and shared; it does not allocate. For a route without
// policies it is inlined to a nil check (decide calls it on every request).
func (r *Route) ImagePolicy(reg *Region) *ImagePolicy {
	if r.images == nil {
		return nil
	}
	return r.imagePolicy(reg)
}

func (r *Route) imagePolicy(reg *Region) *ImagePolicy {
	if reg == nil {
		return nil
	}
	if reg.tbl != r.tbl {
		if reg = r.tbl.Region(reg.Name); reg == nil {
			return nil
		}
	}
	return r.images[reg.idx]
}

// compileImagePolicies fills r.images, by region index.
func compileImagePolicies(r *Route, regions []*Region) {
	var out []*ImagePolicy
	for i, reg := range regions {
		var m ImagePolicy
		for x := reg; x != nil; x = x.Fallback {
			m.merge(x.Image, "region "+x.Name)
		}
		m.merge(r.Image, "route "+r.Name)
		if m.empty() {
			continue
		}
		if out == nil {
			out = make([]*ImagePolicy, len(regions))
		}
		out[i] = &m
	}
	r.images = out
	for i := 1; i < len(out) && !r.imagesVary; i++ {
		r.imagesVary = !out[0].sameEffect(out[i])
	}
}

// ImagePolicyVaries reports whether the regions get different image
// policies on this route, so that an image answer depends on the client's
// region even where the source object does not.
func (r *Route) ImagePolicyVaries() bool { return r.imagesVary }

// sameEffect reports whether p and q set the same values (wherever from).
func (p *ImagePolicy) sameEffect(q *ImagePolicy) bool {
	if p == nil || q == nil {
		return p == q
	}
	return p.Quality == q.Quality && slices.Equal(p.Formats, q.Formats) && p.MaxDPR == q.MaxDPR &&
		p.SaveData == q.SaveData && p.ClientHints == q.ClientHints
}

// merge sets the fields of m that are unset from p (named from).
func (m *ImagePolicy) merge(p *ImagePolicy, from string) {
	if p == nil {
		return
	}
	set := func(dst *int, src int, dstFrom *string) {
		if *dst == 0 && src != 0 {
			*dst, *dstFrom = src, from
		}
	}
	set(&m.Quality.JPEG, p.Quality.JPEG, &m.From.JPEGQuality)
	set(&m.Quality.WebP, p.Quality.WebP, &m.From.WebPQuality)
	set(&m.Quality.AVIF, p.Quality.AVIF, &m.From.AVIFQuality)
	if m.Formats == nil && p.Formats != nil {
		m.Formats, m.From.Formats = p.Formats, from
	}
	if m.MaxDPR == 0 && p.MaxDPR != 0 {
		m.MaxDPR, m.From.MaxDPR = p.MaxDPR, from
	}
	if m.SaveData == SaveDataUnset && p.SaveData != SaveDataUnset {
		m.SaveData, m.From.SaveData = p.SaveData, from
	}
	if m.ClientHints == ToggleUnset && p.ClientHints != ToggleUnset {
		m.ClientHints, m.From.ClientHints = p.ClientHints, from
	}
}

// parseImagePolicy parses an "image:" mapping; what names it in messages
// (`region "egypt": image`). It returns nil when n is not a mapping.
func (p *parser) parseImagePolicy(n *yaml.Node, what string) *ImagePolicy {
	if n.Kind != yaml.MappingNode {
		p.addf(n, "%s must be a mapping of %s, not a %s", what, strings.Join(imageFields, ", "), kindName(n))
		return nil
	}
	ip := &ImagePolicy{}
	for _, f := range p.pairs(n, "field") {
		w := what + ": " + f.key
		switch f.key {
		case "quality":
			ip.Quality = p.imageQuality(f.v, w)
		case "formats":
			ip.Formats = p.imageFormats(f.v, w)
		case "max_dpr":
			s, ok := p.scalar(f.v, w)
			if !ok {
				continue
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(v) || v < 1 || v > MaxImageDPR {
				p.addf(f.v, "%s: %q is not a device pixel ratio from 1 to %d (e.g. 2 or 1.5)", w, s, MaxImageDPR)
				continue
			}
			ip.MaxDPR = v
		case "save_data":
			s, ok := p.scalar(f.v, w)
			if !ok {
				continue
			}
			switch strings.ToLower(s) {
			case "lighter":
				ip.SaveData = SaveDataLighter
			case "ignore":
				ip.SaveData = SaveDataIgnore
			default:
				p.addf(f.v, "%s: unknown value %q (lighter: DPR 1 and lower quality; or ignore)", w, s)
			}
		case "client_hints":
			s, ok := p.scalar(f.v, w)
			if !ok {
				continue
			}
			switch strings.ToLower(s) {
			case "on", "true":
				ip.ClientHints = ToggleOn
			case "off", "false":
				ip.ClientHints = ToggleOff
			default:
				p.addf(f.v, "%s: unknown value %q (on or off)", w, s)
			}
		default:
			p.unknownField(f.k, f.key, "in "+what, imageFields)
		}
	}
	return ip
}

// imageQuality reads one quality for every lossy format or a mapping of
// format to quality.
func (p *parser) imageQuality(n *yaml.Node, what string) ImageQuality {
	var q ImageQuality
	if n.Kind == yaml.ScalarNode {
		if v, ok := p.quality(n, what); ok {
			q = ImageQuality{JPEG: v, WebP: v, AVIF: v}
		}
		return q
	}
	if n.Kind != yaml.MappingNode {
		p.addf(n, "%s must be a number (1–100) or a mapping of format to quality, not a %s", what, kindName(n))
		return q
	}
	for _, f := range p.pairs(n, "format") {
		w := what + ": " + f.key
		var dst *int
		switch strings.ToLower(f.key) {
		case "jpeg", "jpg":
			dst = &q.JPEG
		case "webp":
			dst = &q.WebP
		case "avif":
			dst = &q.AVIF
		case "png":
			p.addf(f.k, "%s: PNG is lossless, a quality does not apply (images.quality.png sets its compression level)", what)
			continue
		default:
			if s := suggest(f.key, lossyFormats); s != "" {
				p.addf(f.k, "%s: unknown format %q (did you mean %q?)", what, f.key, s)
			} else {
				p.addf(f.k, "%s: unknown format %q (one of %s)", what, f.key, strings.Join(lossyFormats, ", "))
			}
			continue
		}
		if *dst != 0 {
			p.addf(f.k, "%s: jpeg and jpg are the same format; give one", what)
			continue
		}
		if v, ok := p.quality(f.v, w); ok {
			*dst = v
		}
	}
	return q
}

// quality reads an integer from 1 to 100.
func (p *parser) quality(n *yaml.Node, what string) (int, bool) {
	s, ok := p.scalar(n, what)
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 || v > 100 {
		p.addf(n, "%s: %q is not a quality from 1 to 100", what, s)
		return 0, false
	}
	return v, true
}

// imageFormats reads a preference list of format names, lower-cased, jpg
// spelt jpeg.
func (p *parser) imageFormats(n *yaml.Node, what string) []string {
	list, ok := p.stringList(n, what)
	if !ok && list == nil {
		return nil
	}
	for i, s := range list {
		l := strings.ToLower(s)
		if l == "jpg" {
			l = "jpeg"
		}
		if !slices.Contains(formatNames, l) {
			p.addf(n, "%s: unknown image format %q (one of %s)", what, s, strings.Join(formatNames, ", "))
		}
		list[i] = l
	}
	return p.dedupe(n, what, list)
}

// regionImagePolicy combines a region's "image:" (imageNode, nil when
// absent) with its older top-level "formats:" list (formatsKey, nil when
// absent), which means image: {formats: …}.
func (p *parser) regionImagePolicy(name string, imageNode, formatsKey *yaml.Node, formats []string) *ImagePolicy {
	var ip *ImagePolicy
	if imageNode != nil {
		ip = p.parseImagePolicy(imageNode, fmt.Sprintf("region %q: image", name))
	}
	if formatsKey != nil && formats != nil {
		switch {
		case ip == nil:
			ip = &ImagePolicy{Formats: formats}
		case ip.Formats != nil:
			p.addf(formatsKey, "region %q: formats given twice, here and in image: formats; keep image: formats", name)
		default:
			ip.Formats = formats
		}
	}
	if ip.empty() {
		return nil
	}
	return ip
}
