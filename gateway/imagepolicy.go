package gateway

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgegate/edgegate/geo"
	"github.com/edgegate/edgegate/resize"
	"github.com/edgegate/edgegate/rules"
)

// The rules' image policy and the client hints applied to one image
// request (issue 17). decide gives the policy of the request's region and
// route (rules.Route.ImagePolicy); planImage reads it with the hints into
// an imagePlan; serveImageRequest negotiates the format with it
// (imageRequest.negotiate) and applies it to the transform before the
// variant key is made (imageRequest.applyPlan), so that the key, the ETag
// and a write-back's key all name what is rendered: a preset the plan
// changes becomes a custom transform (Preset and Folder cleared, like a
// preset with options), keyed and stored by its Spec.
//
// When the regions get different prefix chains (a key names another
// object) or policies on a route, an image answer depends on the client's
// region, so shared caches must not hand one
// region's answer to another: it is private when the region came from the
// client's address (GeoIP or the default region), and Vary names the CDN
// geo headers when it came from them; ?region= is part of the URL.

// varyGeo names the CDN geo headers a header-decided answer depends on.
var varyGeo = geo.HeaderCloudFrontViewerCountry + ", " + geo.HeaderCloudFrontViewerCountryRegion +
	", " + geo.HeaderCloudFrontViewerCity + ", " + geo.HeaderCFIPCountry

// saveDataQuality is the share of the quality a "Save-Data: on" request
// gets under save_data: lighter (with DPR 1): 2/3, so JPEG's default 82
// becomes 54, WebP's 80 53, AVIF's 60 40.
const saveDataNum, saveDataDen = 2, 3

// imagePlan is what the policy and the hints do to one request. The zero
// plan changes nothing: requests that never went through planImage (the
// upload renders) render as before.
type imagePlan struct {
	hintsOn  bool
	hints    clientHints
	saveData bool // Save-Data: on may make the answer lighter (not save_data: ignore)
	maxDPR   float64
	maxW     int
	maxH     int
	quality  resize.Quality     // the configured per-format defaults
	policy   rules.ImageQuality // the policy's per-format qualities
	// urlQuality is the URL's per-format quality (imgproxy's
	// format_quality): under the URL's own quality, over the policy's.
	urlQuality resize.Quality
	formats    [4]resize.Format // the policy's preferred order
	nformats   int

	// private is the Cache-Control of an answer that depends on a region
	// found from the client's address; "": imageHeaders' public one.
	private string
	// varyGeo: the region came from CDN geo headers and decides the answer.
	varyGeo bool

	// Set by applyPlan for the answer's headers.
	vary, acceptCH string
}

// imagePolicy is the rules' image policy for the decision's region and
// route (nil: none). Only image requests look it up, so /r/'s decide
// does not.
func (d *Decision) imagePolicy() *rules.ImagePolicy {
	if d.Route == nil {
		return nil
	}
	return d.Route.ImagePolicy(d.Region)
}

// planImage reads the decision's policy and, when the hints are on, the
// request's hints.
func (s *Server) planImage(d *Decision, h hintHeaders) imagePlan {
	p := s.planPolicy(d.imagePolicy(), h)
	if d.Route != nil && d.Route.VariesByRegion() {
		switch d.RegionSource {
		case SourceHeader:
			p.varyGeo = true
		case SourceGeoIP, SourceDefault:
			p.private = "private, max-age=" + strconv.Itoa(int(s.cfg.Images.MaxAge/time.Second))
		}
	}
	return p
}

// planPolicy is planImage for a policy (nil: none).
func (s *Server) planPolicy(pol *rules.ImagePolicy, h hintHeaders) imagePlan {
	p := imagePlan{
		hintsOn:  s.cfg.Images.ClientHints,
		saveData: true,
		maxDPR:   rules.MaxImageDPR,
		maxW:     s.cfg.Images.MaxWidth,
		maxH:     s.cfg.Images.MaxHeight,
		quality:  s.cfg.Images.Quality,
	}
	if pol != nil {
		if pol.ClientHints != rules.ToggleUnset {
			p.hintsOn = pol.ClientHints == rules.ToggleOn
		}
		if pol.MaxDPR > 0 {
			p.maxDPR = pol.MaxDPR
		}
		p.saveData = pol.SaveData != rules.SaveDataIgnore
		p.policy = pol.Quality
		for _, name := range pol.Formats {
			if f, ok := resize.ParseFormat(name); ok && p.nformats < len(p.formats) {
				p.formats[p.nformats] = f
				p.nformats++
			}
		}
	}
	if p.hintsOn {
		p.hints = readClientHints(h)
	}
	return p
}

// lighter reports that this request's Save-Data makes it lighter.
func (p *imagePlan) lighter() bool { return p.hintsOn && p.saveData && p.hints.saveData }

// capDPR bounds d by the policy's max_dpr and by max_width/max_height for
// tr's size; never below 1.
func (p *imagePlan) capDPR(tr resize.Transform, d float64) float64 {
	d = min(d, p.maxDPR)
	if tr.Width > 0 {
		d = min(d, float64(p.maxW)/float64(tr.Width))
	}
	if tr.Height > 0 {
		d = min(d, float64(p.maxH)/float64(tr.Height))
	}
	return max(d, 1)
}

// transform applies the plan to tr for output format f: the DPR (the
// URL's, else the hint; 1 for a lighter Save-Data request; capped), the
// width hint when tr leaves the width open, and the quality (the URL's or
// preset's, else the policy's for f; two thirds of it for a lighter
// Save-Data request).
func (p *imagePlan) transform(tr resize.Transform, f resize.Format) resize.Transform {
	out := tr
	dpr := tr.DPR
	if dpr <= 1 && p.hintsOn && p.hints.dpr > 0 {
		dpr = p.hints.dpr
	}
	if p.lighter() {
		dpr = 1
	}
	if p.hintsOn && p.hints.width > 0 && tr.Width == 0 {
		// Width is in device pixels: the transform's width is in CSS
		// pixels, which the DPR multiplies back.
		w := min(p.hints.width, p.maxW)
		d := p.capDPR(tr, dpr)
		out.Width = max(1, int(math.Ceil(float64(w)/d)))
	}
	if dpr > 1 || tr.DPR > 1 {
		if d := p.capDPR(out, dpr); d > 1 {
			out.DPR = d
		} else {
			out.DPR = 0
		}
	}
	switch f {
	case resize.JPEG, resize.WebP, resize.AVIF:
		q := tr.Quality
		if q == 0 {
			q = p.urlQuality.For(f)
		}
		if q == 0 {
			q = p.policy.For(f.String())
		}
		if p.lighter() {
			if q == 0 {
				q = p.defaultQuality(f)
			}
			q = max(1, q*saveDataNum/saveDataDen)
		}
		out.Quality = q
	}
	if out != tr && tr.Preset != "" {
		out.Preset, out.Folder = "", "" // no longer the preset: keyed and stored by its Spec
	}
	return out
}

func (p *imagePlan) defaultQuality(f resize.Format) int { return p.quality.For(f) }

// negotiate is resize.Negotiate with the policy's preferred formats: the
// first one the client takes (AVIF and WebP when Accept names them, JPEG
// only without alpha), else the source's format as for a client that takes
// neither AVIF nor WebP. An explicit ?format= wins, as ever.
func (ir *imageRequest) negotiate(src resize.Format, alpha bool) (resize.Format, error) {
	p := &ir.plan
	if ir.explicit != "" || p.nformats == 0 {
		return resize.Negotiate(ir.accept, ir.explicit, src, alpha)
	}
	for _, f := range p.formats[:p.nformats] {
		if f == resize.JPEG && alpha {
			continue
		}
		if resize.Accepts(ir.accept, f) {
			return f, nil
		}
	}
	return resize.Negotiate(nil, "", src, alpha)
}

// applyPlan applies the plan to ir.tr for the negotiated formats (f1
// without alpha, f2 with alpha; equal when vk.formatKnown) and keys vk by
// the result. With the format still unknown, ir.tr stays as parsed and
// renderVariant applies the plan for the format it settles on; the key then
// names both candidates when they differ. It also settles the answer's
// Vary and Accept-CH.
func (ir *imageRequest) applyPlan(vk *variantKey, f1, f2 resize.Format) {
	p := &ir.plan
	p.headers(ir.tr, f1, f2)
	t1 := p.transform(ir.tr, f1)
	if vk.formatKnown {
		if t1 != ir.tr {
			ir.tr, vk.spec = t1, t1.Spec()
		}
		return
	}
	t2 := p.transform(ir.tr, f2)
	switch {
	case t1 == ir.tr && t2 == ir.tr:
	case t1 == t2:
		vk.spec = t1.Spec()
	default:
		vk.spec = t1.Spec() + "|" + t2.Spec()
	}
}

// headers works out Vary and Accept-CH: Vary names exactly the hints that
// could change this answer (for tr as parsed, whatever their values):
// the DPR unless the URL fixes it or the caps leave 1, the width when tr
// leaves it open, Save-Data when it would lower the quality or the DPR.
// Accept-CH names the hints the policy honours. Critical-CH is not sent:
// browsers act on it for navigations, not for images, and a retry of an
// image request would only cost a round trip.
func (p *imagePlan) headers(tr resize.Transform, f1, f2 resize.Format) {
	if !p.hintsOn {
		return
	}
	var vary []string
	dpr := tr.DPR <= 1 && p.capDPR(tr, p.maxDPR) > 1
	if dpr {
		vary = append(vary, hdrSecCHDPR, hdrDPR)
	}
	if tr.Width == 0 {
		vary = append(vary, hdrSecCHWidth, hdrWidth)
	}
	if p.saveData && (dpr || tr.DPR > 1 || lossy(f1) || lossy(f2)) {
		vary = append(vary, hdrSaveData)
	}
	p.vary = strings.Join(vary, ", ")
	ch := []string{hdrSecCHDPR, hdrSecCHWidth}
	if p.maxDPR <= 1 {
		ch = ch[1:]
	}
	if p.saveData {
		ch = append(ch, hdrSaveData)
	}
	p.acceptCH = strings.Join(ch, ", ")
}

func lossy(f resize.Format) bool { return f == resize.JPEG || f == resize.WebP || f == resize.AVIF }

// writeHeaders adds the plan's Cache-Control, Accept-CH and Vary (after
// "Accept" when the format is negotiated) to an image answer;
// imageHeaders wrote the rest.
func (p *imagePlan) writeHeaders(h *fasthttp.ResponseHeader, explicit string) {
	if p.private != "" {
		h.Set("Cache-Control", p.private)
	}
	if p.hintsOn {
		h.Set("Accept-CH", p.acceptCH)
	}
	vary := p.vary
	if p.varyGeo {
		if vary != "" {
			vary += ", "
		}
		vary += varyGeo
	}
	switch {
	case vary == "":
	case resize.VariesByAccept(explicit):
		h.Set("Vary", "Accept, "+vary)
	default:
		h.Set("Vary", vary)
	}
}

// ExplainImage is the image policy of the explained region and route, and
// what the hints among the explained headers would do.
type ExplainImage struct {
	ClientHints     string `json:"client_hints"` // on | off
	ClientHintsFrom string `json:"client_hints_from"`
	// Quality per lossy format from the policy (0: images.quality's).
	Quality      map[string]int    `json:"quality,omitempty"`
	QualityFrom  map[string]string `json:"quality_from,omitempty"`
	Formats      []string          `json:"formats,omitempty"`
	FormatsFrom  string            `json:"formats_from,omitempty"`
	MaxDPR       float64           `json:"max_dpr"`
	MaxDPRFrom   string            `json:"max_dpr_from"`
	SaveData     string            `json:"save_data"` // lighter | ignore
	SaveDataFrom string            `json:"save_data_from"`
	// Hints read from the explained headers, when client hints are on.
	Hints *ExplainHints `json:"hints,omitempty"`
	// VariesByRegion: the route's regions get different prefix chains or
	// policies, so an answer whose region came from the client's address
	// is private, and one whose region came from CDN geo headers varies by
	// them.
	VariesByRegion bool `json:"varies_by_region"`
}

// ExplainHints are the client hints of the explained headers, rounded as
// the gateway uses them, and their effect.
type ExplainHints struct {
	DPR      float64 `json:"dpr,omitempty"`
	Width    int     `json:"width,omitempty"`
	SaveData bool    `json:"save_data,omitempty"`
	// Lighter: Save-Data makes the answer lighter (DPR 1, 2/3 quality).
	Lighter bool `json:"lighter,omitempty"`
}

// explainImage describes the decision's policy with the defaults it leaves.
func (s *Server) explainImage(d *Decision, h hintHeaders) *ExplainImage {
	pol := d.imagePolicy()
	p := s.planPolicy(pol, h)
	e := &ExplainImage{
		VariesByRegion: d.Route.VariesByRegion(),
		ClientHints:    "off", ClientHintsFrom: "images.client_hints",
		MaxDPR: p.maxDPR, MaxDPRFrom: "default",
		SaveData: rules.SaveDataLighter.String(), SaveDataFrom: "default",
	}
	if p.hintsOn {
		e.ClientHints = "on"
	}
	if pol != nil {
		if pol.ClientHints != rules.ToggleUnset {
			e.ClientHintsFrom = pol.From.ClientHints
		}
		if pol.MaxDPR > 0 {
			e.MaxDPRFrom = pol.From.MaxDPR
		}
		if pol.SaveData != rules.SaveDataUnset {
			e.SaveData, e.SaveDataFrom = pol.SaveData.String(), pol.From.SaveData
		}
		e.Formats, e.FormatsFrom = pol.Formats, pol.From.Formats
		for _, q := range []struct {
			name, from string
			v          int
		}{{"jpeg", pol.From.JPEGQuality, pol.Quality.JPEG}, {"webp", pol.From.WebPQuality, pol.Quality.WebP}, {"avif", pol.From.AVIFQuality, pol.Quality.AVIF}} {
			if q.v == 0 {
				continue
			}
			if e.Quality == nil {
				e.Quality, e.QualityFrom = map[string]int{}, map[string]string{}
			}
			e.Quality[q.name], e.QualityFrom[q.name] = q.v, q.from
		}
	}
	if p.hintsOn {
		e.Hints = &ExplainHints{DPR: p.hints.dpr, Width: p.hints.width, SaveData: p.hints.saveData, Lighter: p.lighter()}
	}
	return e
}
