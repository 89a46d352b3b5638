package gateway

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"github.com/edgegate/edgegate/geo"
)

// Canonical header names, as fasthttp stores them after parsing.
var (
	hdrXFF          = []byte(geo.HeaderXForwardedFor)
	hdrCFConnecting = []byte("Cf-Connecting-Ip")
	hdrCFViewerAddr = []byte("Cloudfront-Viewer-Address")
	hdrXRealIP      = []byte("X-Real-Ip")
	hdrCFVCountry   = []byte("Cloudfront-Viewer-Country")
	hdrCFVRegion    = []byte("Cloudfront-Viewer-Country-Region")
	hdrCFVCity      = []byte("Cloudfront-Viewer-City")
	hdrCFIPCountry  = []byte("Cf-Ipcountry")
	hdrAccept       = []byte("Accept")
)

// reqHeaders reads the request headers the route path needs in one pass
// over the parsed headers, instead of one normalising lookup per name. It
// implements geo.Headers. For a repeated header the last line wins: that
// is the one the nearest proxy wrote.
type reqHeaders struct {
	h                                                   *fasthttp.RequestHeader
	xff, cfConnecting, cfViewerAddr, xRealIP            []byte
	cfvCountry, cfvRegion, cfvCity, cfIPCountry, accept []byte
}

func (r *reqHeaders) load(h *fasthttp.RequestHeader) {
	*r = reqHeaders{h: h}
	for k, v := range h.All() {
		switch len(k) {
		case len(hdrXFF): // 15; no other name we want has 15 bytes
			if bytes.Equal(k, hdrXFF) {
				r.xff = v
			}
		case len(hdrCFConnecting):
			if bytes.Equal(k, hdrCFConnecting) {
				r.cfConnecting = v
			}
		case len(hdrCFViewerAddr): // 25: also Cloudfront-Viewer-Country
			if bytes.Equal(k, hdrCFViewerAddr) {
				r.cfViewerAddr = v
			} else if bytes.Equal(k, hdrCFVCountry) {
				r.cfvCountry = v
			}
		case len(hdrXRealIP):
			if bytes.Equal(k, hdrXRealIP) {
				r.xRealIP = v
			}
		case len(hdrCFVRegion):
			if bytes.Equal(k, hdrCFVRegion) {
				r.cfvRegion = v
			}
		case len(hdrCFVCity):
			if bytes.Equal(k, hdrCFVCity) {
				r.cfvCity = v
			}
		case len(hdrCFIPCountry):
			if bytes.Equal(k, hdrCFIPCountry) {
				r.cfIPCountry = v
			}
		case len(hdrAccept):
			if bytes.Equal(k, hdrAccept) {
				r.accept = v
			}
		}
	}
}

// Peek implements geo.Headers.
func (r *reqHeaders) Peek(key string) []byte {
	switch key {
	case geo.HeaderXForwardedFor:
		return r.xff
	case geo.HeaderCFConnectingIP:
		return r.cfConnecting
	case geo.HeaderCloudFrontViewerAddress:
		return r.cfViewerAddr
	case geo.HeaderXRealIP:
		return r.xRealIP
	case geo.HeaderCloudFrontViewerCountry:
		return r.cfvCountry
	case geo.HeaderCloudFrontViewerCountryRegion:
		return r.cfvRegion
	case geo.HeaderCloudFrontViewerCity:
		return r.cfvCity
	case geo.HeaderCFIPCountry:
		return r.cfIPCountry
	case "Accept":
		return r.accept
	}
	return r.h.Peek(key)
}
