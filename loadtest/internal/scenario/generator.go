package scenario

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"

	"github.com/edgegate/edgegate/loadtest/internal/sample"
)

// Target is one concrete request to send.
type Target struct {
	Name   string // the scenario request's Name
	Method string
	Path   string      // path and query, e.g. "/r/banner.json?region=uk"
	Header http.Header // nil when there are none
	// Location is the GeoIP label of the X-Forwarded-For address, if any.
	Location string
}

// Generator turns a scenario into Targets. Immutable after NewGenerator;
// safe for concurrent use (each caller brings its own *rand.Rand).
type Generator struct {
	mix   *sample.Chooser
	reqs  []reqGen
	names []string
}

type reqGen struct {
	r       *Request
	keys    *sample.Chooser
	regions *sample.Chooser
	presets *sample.Chooser
	accept  *sample.Chooser
	zipf    *sample.Zipf
	geo     *sample.GeoPool

	// Escaped once here rather than per request (Next runs at up to 40k/s):
	// route: "/r/{key}" by key, "region={region}" by region and
	// "format={format}"; image: "/img/{preset}/" by preset and the photos.
	keyPaths, regionQ, presetPaths, photoPaths []string
	formatQ                                    string
}

// NewGenerator builds a Generator; geo is required when the scenario
// samples GeoIP addresses (Scenario.NeedsGeoIP) and ignored otherwise.
func NewGenerator(s *Scenario, geo *sample.GeoPool) (*Generator, error) {
	if s.NeedsGeoIP() && (geo == nil || geo.Len() == 0) {
		return nil, fmt.Errorf("scenario: %q samples GeoIP addresses but no GeoIP pool was given", s.Name)
	}
	g := &Generator{}
	weights := make([]float64, len(s.Requests))
	for i := range s.Requests {
		r := &s.Requests[i]
		weights[i] = r.Weight
		rg := reqGen{r: r}
		var err error
		switch r.Kind {
		case KindRoute:
			rg.keys, err = chooser(r.Keys)
			if err == nil && len(r.Regions) > 0 {
				rg.regions, err = chooser(r.Regions)
			}
			if r.GeoIP {
				rg.geo = geo
			}
			for _, c := range r.Keys {
				rg.keyPaths = append(rg.keyPaths, "/r/"+escapeKey(c.Value))
			}
			for _, c := range r.Regions {
				rg.regionQ = append(rg.regionQ, "region="+url.QueryEscape(c.Value))
			}
			if r.Format != "" {
				rg.formatQ = "format=" + url.QueryEscape(r.Format)
			}
		case KindImage:
			rg.zipf, err = sample.NewZipf(len(r.Photos), r.Zipf)
			if err == nil {
				rg.presets, err = chooser(r.Presets)
			}
			if err == nil && len(r.Accept) > 0 {
				rg.accept, err = chooser(r.Accept)
			}
			for _, c := range r.Presets {
				rg.presetPaths = append(rg.presetPaths, "/img/"+url.PathEscape(c.Value)+"/")
			}
			for _, p := range r.Photos {
				rg.photoPaths = append(rg.photoPaths, escapeKey(p))
			}
		default:
			err = fmt.Errorf("unknown kind %q", r.Kind)
		}
		if err != nil {
			return nil, fmt.Errorf("scenario: %q request %q: %w", s.Name, r.Name, err)
		}
		g.reqs = append(g.reqs, rg)
		g.names = append(g.names, r.Name)
	}
	var err error
	if g.mix, err = sample.NewChooser(weights); err != nil {
		return nil, fmt.Errorf("scenario: %q: %w", s.Name, err)
	}
	return g, nil
}

// Names lists the request names in scenario order.
func (g *Generator) Names() []string { return g.names }

func chooser(w Weighted) (*sample.Chooser, error) {
	if len(w) == 0 {
		return nil, errors.New("no values")
	}
	ws := make([]float64, len(w))
	for i, c := range w {
		ws[i] = c.Weight
	}
	return sample.NewChooser(ws)
}

// Next draws the next Target.
func (g *Generator) Next(rng *rand.Rand) Target {
	rg := &g.reqs[g.mix.Pick(rng)]
	r := rg.r
	t := Target{Name: r.Name, Method: http.MethodGet}
	switch r.Kind {
	case KindRoute:
		// The query as url.Values.Encode writes it: keys sorted.
		path := rg.keyPaths[rg.keys.Pick(rng)]
		region := ""
		if rg.regions != nil {
			region = rg.regionQ[rg.regions.Pick(rng)]
		}
		switch {
		case rg.formatQ != "" && region != "":
			path += "?" + rg.formatQ + "&" + region
		case rg.formatQ != "":
			path += "?" + rg.formatQ
		case region != "":
			path += "?" + region
		}
		t.Path = path
		if rg.geo != nil {
			a := rg.geo.Sample(rng)
			t.Header = http.Header{"X-Forwarded-For": {a.IP.String()}}
			t.Location = a.Label()
		}
	case KindImage:
		photo := rg.photoPaths[rg.zipf.Pick(rng)]
		t.Path = rg.presetPaths[rg.presets.Pick(rng)] + photo
		if rg.accept != nil {
			t.Header = http.Header{"Accept": {r.Accept[rg.accept.Pick(rng)].Value}}
		}
	}
	return t
}

// escapeKey escapes each path segment of a key, keeping the slashes.
func escapeKey(k string) string {
	return (&url.URL{Path: k}).EscapedPath()
}
