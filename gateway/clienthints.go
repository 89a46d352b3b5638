package gateway

import (
	"bytes"
	"math"
	"strconv"
)

// Client hints on /img/ (issue 17): Sec-CH-DPR (or the older DPR),
// Sec-CH-Width (or Width) and Save-Data. They are off unless
// images.client_hints or the rules' image policy (client_hints: on) turns
// them on, like imgproxy's IMGPROXY_ENABLE_CLIENT_HINTS: an answer that
// depends on them must say so in Vary, and caches in front of the gateway
// then keep one copy per hint value. Hints are advisory: a value that does
// not parse is no hint, never a 400.
//
// Hints are rounded before they reach the transform, because unlike a
// custom size they are not signed: any client may send any value, and
// each distinct value is another render. DPR is rounded to the nearest
// 0.5 (1, 1.5, …, 4: at most 7 values), Width up to a multiple of 100
// pixels (at most max_width/100 values).

// Hint header names, canonical as they go into Vary and Accept-CH.
const (
	hdrSecCHDPR   = "Sec-CH-DPR"
	hdrDPR        = "DPR"
	hdrSecCHWidth = "Sec-CH-Width"
	hdrWidth      = "Width"
	hdrSaveData   = "Save-Data"
)

// Rounding of hint values (see above).
const (
	dprStep   = 0.5
	widthStep = 100
)

// hintHeaders is what reads request headers: fasthttp's RequestHeader,
// explain's headerMap.
type hintHeaders interface{ Peek(key string) []byte }

// clientHints are one request's image hints, as rounded; zero: no hint.
type clientHints struct {
	dpr      float64 // ≥ 1
	width    int     // pixels, a multiple of widthStep
	saveData bool
}

// readClientHints reads the hints; Sec-CH- names win over the older ones
// when both parse.
func readClientHints(h hintHeaders) clientHints {
	var c clientHints
	if d, ok := parseDPR(h.Peek(hdrSecCHDPR)); ok {
		c.dpr = d
	} else if d, ok := parseDPR(h.Peek(hdrDPR)); ok {
		c.dpr = d
	}
	if w, ok := parseWidth(h.Peek(hdrSecCHWidth)); ok {
		c.width = w
	} else if w, ok := parseWidth(h.Peek(hdrWidth)); ok {
		c.width = w
	}
	c.saveData = isSaveData(h.Peek(hdrSaveData))
	return c
}

// parseDPR reads a positive decimal ("2", "2.625"; no sign, exponent or
// hex) and rounds it to dprStep; below 1 is 1.
func parseDPR(b []byte) (float64, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || len(b) > 16 || !plainDecimal(b) {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil || v <= 0 || v > 100 {
		return 0, false
	}
	v = math.Round(v/dprStep) * dprStep
	return max(v, 1), true
}

// plainDecimal reports digits with at most one dot, at least one digit.
func plainDecimal(b []byte) bool {
	dots, digits := 0, 0
	for _, c := range b {
		switch {
		case c == '.':
			dots++
		case c >= '0' && c <= '9':
			digits++
		default:
			return false
		}
	}
	return dots <= 1 && digits > 0
}

// parseWidth reads a positive integer and rounds it up to widthStep.
func parseWidth(b []byte) (int, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || len(b) > 6 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n == 0 {
		return 0, false
	}
	return (n + widthStep - 1) / widthStep * widthStep, true
}

// isSaveData reports "Save-Data: on" (case-insensitive).
func isSaveData(b []byte) bool {
	return bytes.EqualFold(bytes.TrimSpace(b), []byte("on"))
}
