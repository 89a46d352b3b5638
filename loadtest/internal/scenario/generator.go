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
	Path   string // path and query, e.g. "/r/banner.json?region=uk"
	Header http.Header
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
		case KindImage:
			rg.zipf, err = sample.NewZipf(len(r.Photos), r.Zipf)
			if err == nil {
				rg.presets, err = chooser(r.Presets)
			}
			if err == nil && len(r.Accept) > 0 {
				rg.accept, err = chooser(r.Accept)
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
	t := Target{Name: r.Name, Method: http.MethodGet, Header: http.Header{}}
	switch r.Kind {
	case KindRoute:
		key := r.Keys[rg.keys.Pick(rng)].Value
		q := url.Values{}
		if rg.regions != nil {
			q.Set("region", r.Regions[rg.regions.Pick(rng)].Value)
		}
		if r.Format != "" {
			q.Set("format", r.Format)
		}
		t.Path = "/r/" + escapeKey(key)
		if len(q) > 0 {
			t.Path += "?" + q.Encode()
		}
		if rg.geo != nil {
			a := rg.geo.Sample(rng)
			t.Header.Set("X-Forwarded-For", a.IP.String())
			t.Location = a.Label()
		}
	case KindImage:
		photo := r.Photos[rg.zipf.Pick(rng)]
		preset := r.Presets[rg.presets.Pick(rng)].Value
		t.Path = "/img/" + url.PathEscape(preset) + "/" + escapeKey(photo)
		if rg.accept != nil {
			t.Header.Set("Accept", r.Accept[rg.accept.Pick(rng)].Value)
		}
	}
	return t
}

// escapeKey escapes each path segment of a key, keeping the slashes.
func escapeKey(k string) string {
	return (&url.URL{Path: k}).EscapedPath()
}
