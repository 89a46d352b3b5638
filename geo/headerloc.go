package geo

import (
	"net/netip"
	"unicode/utf8"
)

// maxCityLen bounds the CloudFront-Viewer-City value geo accepts, after
// decoding. The longest real city names are well under it.
const maxCityLen = 128

// HeaderLocation reads the location a CDN put in the request headers. It is
// used only when CDNHeaders is on and peer is a trusted proxy.
//
// CloudFront-Viewer-Country wins (with CloudFront-Viewer-Country-Region as the
// Subdivision code and the URL-decoded CloudFront-Viewer-City as City); else
// CF-IPCountry. Country codes that name no country ("XX" unknown, "T1" Tor,
// "ZZ", anything not in ISO 3166-1) are unknown. Continent is derived from
// the country. ok is false when no usable country was found.
//
// Country and Continent never allocate; a region or city costs one
// allocation each.
func (r *IPResolver) HeaderLocation(peer netip.Addr, h Headers) (Location, bool) {
	if !r.cdnHeaders || h == nil || !r.Trusted(peer) {
		return Location{}, false
	}
	if info, ok := lookupCountry(trimOWS(h.Peek(HeaderCloudFrontViewerCountry))); ok {
		loc := Location{Country: info.code, Continent: info.continent}
		if region := trimOWS(h.Peek(HeaderCloudFrontViewerCountryRegion)); validRegion(region) {
			loc.Subdivision = string(region)
		}
		loc.City = decodeCity(trimOWS(h.Peek(HeaderCloudFrontViewerCity)))
		return loc, true
	}
	if info, ok := lookupCountry(trimOWS(h.Peek(HeaderCFIPCountry))); ok {
		return Location{Country: info.code, Continent: info.continent}, true
	}
	return Location{}, false
}

// validRegion accepts the subdivision part of an ISO 3166-2 code: one to
// three ASCII letters or digits.
func validRegion(b []byte) bool {
	if len(b) == 0 || len(b) > 3 {
		return false
	}
	for _, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func unhex(c byte) (byte, bool) {
	v, ok := hexVal(c)
	return byte(v), ok
}

// decodeCity percent-decodes a CloudFront-Viewer-City value ("S%C3%A3o%20Paulo").
// Values that are not valid UTF-8 after decoding, contain control characters
// or are too long yield "".
func decodeCity(b []byte) string {
	if len(b) == 0 || len(b) > 3*maxCityLen {
		return ""
	}
	var buf [3 * maxCityLen]byte
	n := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '%' && i+2 < len(b) {
			hi, ok1 := unhex(b[i+1])
			lo, ok2 := unhex(b[i+2])
			if ok1 && ok2 {
				c = hi<<4 | lo
				i += 2
			}
		}
		if c < 0x20 || c == 0x7f {
			return ""
		}
		buf[n] = c
		n++
	}
	if n > maxCityLen || !utf8.Valid(buf[:n]) {
		return ""
	}
	return string(buf[:n])
}
