// Package scenario owns the loadtest scenario file: its YAML syntax, its
// validation (errors name the file and line), and the request generator that
// turns a validated scenario into concrete requests. It knows nothing of
// scheduling, HTTP clients or reports.
//
// A scenario file looks like this (loadtest/scenarios.yaml is the default):
//
//	scenarios:
//	  - name: route-query
//	    requests:
//	      - kind: route
//	        keys: {map-tiles.zip: 5, banner.json: 3}   # value: weight
//	        regions: [egypt-cairo, uk-london]          # list = equal weights
//	  - name: images
//	    requests:
//	      - kind: image
//	        photos: [photos/sample.jpg, photos/alpha.png]  # rank order for Zipf
//	        zipf: 1.0
//	        presets: {thumbnail: 6, medium: 3, large: 1}
//	        accept: {image/avif: 3, image/webp: 5, image/jpeg: 2}
//	  - name: mixed
//	    reload_every: 5s        # POST ADMIN/-/reload while the load runs
//	    requests: [...]         # each with a weight: share of the traffic
//
// Decoding is strict: unknown fields are errors with their line.
package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Request kinds.
const (
	KindRoute = "route" // GET /r/{key}
	KindImage = "image" // GET /img/{preset}/{key}
)

// File is a decoded scenario file. It is immutable after Parse.
type File struct {
	Scenarios []Scenario `yaml:"scenarios"`
}

// Scenario is one named traffic mix.
type Scenario struct {
	// Name selects the scenario with --scenario; unique in a file.
	Name string `yaml:"name"`
	// Description is shown by --list and in the report.
	Description string `yaml:"description"`
	// ReloadEvery, when set, POSTs ADMIN/-/reload at this interval during
	// the run (needs --admin). Zero: no reloads. At least 100ms.
	ReloadEvery Duration `yaml:"reload_every"`
	// Requests is the mix; each request's Weight is its share of traffic.
	Requests []Request `yaml:"requests"`
}

// Request describes one kind of request in a scenario's mix.
type Request struct {
	// Name labels the request in reports; default: the kind, made unique
	// with a suffix ("route", "route-2").
	Name string `yaml:"name"`
	// Kind is "route" or "image".
	Kind string `yaml:"kind"`
	// Weight is this request's share of the scenario's traffic; default 1.
	Weight float64 `yaml:"weight"`

	// Keys (route) are the asset keys for /r/{key}, weighted.
	Keys Weighted `yaml:"keys"`
	// Regions (route) are ?region= values, weighted. Exclusive with GeoIP.
	Regions Weighted `yaml:"regions"`
	// GeoIP (route) sends X-Forwarded-For addresses sampled from the GeoIP
	// files (--geoip), weighted by the address space of each location.
	GeoIP bool `yaml:"geoip"`
	// Format (route) "json" adds ?format=json; default "" (302).
	Format string `yaml:"format"`

	// Photos (image) are source keys in popularity order: rank 1 first.
	Photos []string `yaml:"photos"`
	// Zipf (image) is the Zipf exponent s > 0 over Photos; default 1.
	Zipf float64 `yaml:"zipf"`
	// Presets (image) are /img/{preset}/ names, weighted.
	Presets Weighted `yaml:"presets"`
	// Accept (image) are Accept header values, weighted; empty: no header.
	Accept Weighted `yaml:"accept"`
}

// Choice is one weighted value.
type Choice struct {
	Value  string
	Weight float64
}

// Weighted is an ordered list of weighted values. In YAML it is either a
// mapping (value: weight) or a sequence of values (weight 1 each); the
// order of the file is kept so that seeded runs are reproducible.
type Weighted []Choice

// UnmarshalYAML implements yaml.Unmarshaler.
func (w *Weighted) UnmarshalYAML(n *yaml.Node) error {
	var out Weighted
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			var weight float64
			if err := v.Decode(&weight); err != nil {
				return fmt.Errorf("line %d: weight of %q must be a number, got %q", v.Line, k.Value, v.Value)
			}
			out = append(out, Choice{Value: k.Value, Weight: weight})
		}
	case yaml.SequenceNode:
		for _, v := range n.Content {
			if v.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: expected a value, got a %s", v.Line, kindName(v.Kind))
			}
			out = append(out, Choice{Value: v.Value, Weight: 1})
		}
	default:
		return fmt.Errorf("line %d: expected a mapping (value: weight) or a list of values", n.Line)
	}
	*w = out
	return nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	default:
		return "value"
	}
}

// Duration is a time.Duration written as "5s" in YAML.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: bad duration %q (want e.g. 5s)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// Parse decodes and validates a scenario file; name is used in errors.
func Parse(name string, data []byte) (*File, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("scenario: %s: empty file", name)
		}
		return nil, fmt.Errorf("scenario: %s: %w", name, err)
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root) // decoded above; only for line numbers
	if err := f.validate(lineIndex(&root)); err != nil {
		return nil, fmt.Errorf("scenario: %s: %w", name, err)
	}
	return &f, nil
}

// Lookup returns the named scenario.
func (f *File) Lookup(name string) (*Scenario, error) {
	for i := range f.Scenarios {
		if f.Scenarios[i].Name == name {
			return &f.Scenarios[i], nil
		}
	}
	return nil, fmt.Errorf("scenario: unknown scenario %q (have: %s)", name, strings.Join(f.Names(), ", "))
}

// Names lists the scenario names in file order.
func (f *File) Names() []string {
	names := make([]string, len(f.Scenarios))
	for i, s := range f.Scenarios {
		names[i] = s.Name
	}
	return names
}

// NeedsGeoIP reports whether any request samples GeoIP addresses.
func (s *Scenario) NeedsGeoIP() bool {
	for _, r := range s.Requests {
		if r.GeoIP {
			return true
		}
	}
	return false
}

// lines maps scenario i (and request j within it) to a line of the file.
type lines struct {
	scenario []int
	request  [][]int
}

func (l lines) at(i, j int) string {
	if j >= 0 && i < len(l.request) && j < len(l.request[i]) {
		return fmt.Sprintf("line %d: ", l.request[i][j])
	}
	if i < len(l.scenario) {
		return fmt.Sprintf("line %d: ", l.scenario[i])
	}
	return ""
}

func lineIndex(root *yaml.Node) lines {
	var l lines
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return l
	}
	seq := mapValue(root.Content[0], "scenarios")
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return l
	}
	for _, sc := range seq.Content {
		l.scenario = append(l.scenario, sc.Line)
		var rl []int
		if reqs := mapValue(sc, "requests"); reqs != nil && reqs.Kind == yaml.SequenceNode {
			for _, r := range reqs.Content {
				rl = append(rl, r.Line)
			}
		}
		l.request = append(l.request, rl)
	}
	return l
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func (f *File) validate(l lines) error {
	if len(f.Scenarios) == 0 {
		return errors.New("no scenarios")
	}
	seen := map[string]bool{}
	for i := range f.Scenarios {
		s := &f.Scenarios[i]
		if s.Name == "" {
			return fmt.Errorf("%sscenario %d has no name", l.at(i, -1), i+1)
		}
		if seen[s.Name] {
			return fmt.Errorf("%sduplicate scenario %q", l.at(i, -1), s.Name)
		}
		seen[s.Name] = true
		if err := s.validate(i, l); err != nil {
			return err
		}
	}
	return nil
}

func (s *Scenario) validate(i int, l lines) error {
	if s.ReloadEvery != 0 && time.Duration(s.ReloadEvery) < 100*time.Millisecond {
		return fmt.Errorf("%sscenario %q: reload_every %v is below 100ms", l.at(i, -1), s.Name, time.Duration(s.ReloadEvery))
	}
	if len(s.Requests) == 0 {
		return fmt.Errorf("%sscenario %q has no requests", l.at(i, -1), s.Name)
	}
	names := map[string]bool{}
	for j := range s.Requests {
		r := &s.Requests[j]
		if r.Name == "" {
			r.Name = r.Kind
			for n := 2; names[r.Name]; n++ {
				r.Name = fmt.Sprintf("%s-%d", r.Kind, n)
			}
		}
		if names[r.Name] {
			return fmt.Errorf("%sscenario %q: duplicate request name %q", l.at(i, j), s.Name, r.Name)
		}
		names[r.Name] = true
		if err := r.validate(); err != nil {
			return fmt.Errorf("%sscenario %q: request %q: %w", l.at(i, j), s.Name, r.Name, err)
		}
	}
	return nil
}

func (r *Request) validate() error {
	if r.Weight < 0 {
		return fmt.Errorf("weight %v is negative", r.Weight)
	}
	if r.Weight == 0 {
		r.Weight = 1
	}
	switch r.Kind {
	case KindRoute:
		if len(r.Photos) > 0 || len(r.Presets) > 0 || len(r.Accept) > 0 || r.Zipf != 0 {
			return errors.New("photos, presets, accept and zipf belong to kind image")
		}
		if err := checkWeighted("keys", r.Keys, true); err != nil {
			return err
		}
		if err := checkWeighted("regions", r.Regions, false); err != nil {
			return err
		}
		if r.GeoIP && len(r.Regions) > 0 {
			return errors.New("regions and geoip are exclusive: ?region= wins over GeoIP")
		}
		if r.Format != "" && r.Format != "json" {
			return fmt.Errorf("format %q: want \"json\" or nothing", r.Format)
		}
		for _, c := range r.Keys {
			if err := checkKey(c.Value); err != nil {
				return fmt.Errorf("keys: %w", err)
			}
		}
	case KindImage:
		if len(r.Keys) > 0 || len(r.Regions) > 0 || r.GeoIP || r.Format != "" {
			return errors.New("keys, regions, geoip and format belong to kind route")
		}
		if len(r.Photos) == 0 {
			return errors.New("photos: need at least one source photo")
		}
		for _, p := range r.Photos {
			if err := checkKey(p); err != nil {
				return fmt.Errorf("photos: %w", err)
			}
		}
		if r.Zipf < 0 {
			return fmt.Errorf("zipf exponent %v must be > 0", r.Zipf)
		}
		if r.Zipf == 0 {
			r.Zipf = 1
		}
		if err := checkWeighted("presets", r.Presets, true); err != nil {
			return err
		}
		for _, c := range r.Presets {
			if c.Value == "" || strings.Contains(c.Value, "/") {
				return fmt.Errorf("presets: bad preset name %q", c.Value)
			}
		}
		if err := checkWeighted("accept", r.Accept, false); err != nil {
			return err
		}
	case "":
		return errors.New("kind is missing (route or image)")
	default:
		return fmt.Errorf("unknown kind %q (want route or image)", r.Kind)
	}
	return nil
}

func checkWeighted(field string, w Weighted, required bool) error {
	if required && len(w) == 0 {
		return fmt.Errorf("%s: need at least one value", field)
	}
	seen := map[string]bool{}
	for _, c := range w {
		if c.Value == "" {
			return fmt.Errorf("%s: empty value", field)
		}
		if seen[c.Value] {
			return fmt.Errorf("%s: duplicate value %q", field, c.Value)
		}
		seen[c.Value] = true
		if !(c.Weight > 0) {
			return fmt.Errorf("%s: weight of %q must be > 0", field, c.Value)
		}
	}
	return nil
}

func checkKey(k string) error {
	switch {
	case k == "":
		return errors.New("empty key")
	case strings.HasPrefix(k, "/"):
		return fmt.Errorf("key %q starts with /", k)
	case strings.ContainsAny(k, "?#\\"):
		return fmt.Errorf("key %q contains ?, # or \\", k)
	}
	return nil
}
