package scenario

import (
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseBuiltIn(t *testing.T) {
	data, err := os.ReadFile("../../scenarios.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("scenarios.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"route-query", "route-geoip", "images", "mixed"}
	if got := strings.Join(f.Names(), ","); got != strings.Join(want, ",") {
		t.Fatalf("names = %s, want %v", got, want)
	}
	mixed, err := f.Lookup("mixed")
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(mixed.ReloadEvery) != 5*time.Second || !mixed.NeedsGeoIP() || len(mixed.Requests) != 3 {
		t.Fatalf("mixed = %+v", mixed)
	}
	img, _ := f.Lookup("images")
	if r := img.Requests[0]; r.Zipf != 1 || len(r.Accept) != 3 || r.Accept[0].Value != "image/avif" {
		t.Fatalf("images request = %+v", r)
	}
}

func TestParseFile(t *testing.T) {
	data, err := os.ReadFile("testdata/custom.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("custom.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	s, err := f.Lookup("hot-key")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range s.Requests {
		names = append(names, r.Name)
	}
	if got := strings.Join(names, ","); got != "route,route-2,image" {
		t.Errorf("default names = %s", got)
	}
	if s.Requests[0].Weight != 1 || s.Requests[1].Weight != 0.5 || s.Requests[2].Zipf != 0.8 {
		t.Errorf("weights/zipf not as written or defaulted: %+v", s.Requests)
	}
	if w := s.Requests[0].Regions; len(w) != 2 || w[0] != (Choice{"uk", 9}) || w[1] != (Choice{"egypt", 1}) {
		t.Errorf("regions keep file order and weights: %+v", w)
	}
	if _, err := f.Lookup("nope"); err == nil || !strings.Contains(err.Error(), "hot-key") {
		t.Errorf("Lookup of an unknown name should list the known ones, got %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"empty file", "", "empty file"},
		{"no scenarios", "scenarios: []", "no scenarios"},
		{"unknown top-level field", "scenario: []", "field scenario not found"},
		{"unknown request field with line", "scenarios:\n  - name: a\n    requests:\n      - kind: route\n        keys: [k]\n        region: [uk]\n", "line 6"},
		{"missing name", "scenarios:\n  - requests: [{kind: route, keys: [k]}]\n", "line 2: scenario 1 has no name"},
		{"duplicate scenario", "scenarios:\n  - {name: a, requests: [{kind: route, keys: [k]}]}\n  - {name: a, requests: [{kind: route, keys: [k]}]}\n", `line 3: duplicate scenario "a"`},
		{"no requests", "scenarios:\n  - name: a\n", `scenario "a" has no requests`},
		{"unknown kind", "scenarios:\n  - name: a\n    requests:\n      - kind: video\n", `line 4: scenario "a": request "video": unknown kind "video"`},
		{"missing kind", "scenarios:\n  - name: a\n    requests: [{keys: [k]}]\n", "kind is missing"},
		{"route without keys", "scenarios:\n  - name: a\n    requests: [{kind: route}]\n", "keys: need at least one value"},
		{"regions and geoip", "scenarios:\n  - name: a\n    requests: [{kind: route, keys: [k], regions: [uk], geoip: true}]\n", "exclusive"},
		{"bad weight type", "scenarios:\n  - name: a\n    requests: [{kind: route, keys: {k: lots}}]\n", `weight of "k" must be a number`},
		{"zero weight", "scenarios:\n  - name: a\n    requests: [{kind: route, keys: {k: 0}}]\n", `weight of "k" must be > 0`},
		{"negative request weight", "scenarios:\n  - name: a\n    requests: [{kind: route, keys: [k], weight: -1}]\n", "negative"},
		{"duplicate key", "scenarios:\n  - name: a\n    requests: [{kind: route, keys: [k, k]}]\n", `duplicate value "k"`},
		{"key with leading slash", "scenarios:\n  - name: a\n    requests: [{kind: route, keys: [/k]}]\n", "starts with /"},
		{"bad format", "scenarios:\n  - name: a\n    requests: [{kind: route, keys: [k], format: xml}]\n", `format "xml"`},
		{"image without photos", "scenarios:\n  - name: a\n    requests: [{kind: image, presets: [thumbnail]}]\n", "need at least one source photo"},
		{"image without presets", "scenarios:\n  - name: a\n    requests: [{kind: image, photos: [p.jpg]}]\n", "presets: need at least one value"},
		{"negative zipf", "scenarios:\n  - name: a\n    requests: [{kind: image, photos: [p.jpg], presets: [m], zipf: -1}]\n", "zipf exponent"},
		{"route field on image", "scenarios:\n  - name: a\n    requests: [{kind: image, photos: [p.jpg], presets: [m], geoip: true}]\n", "belong to kind route"},
		{"bad duration", "scenarios:\n  - name: a\n    reload_every: soon\n    requests: [{kind: route, keys: [k]}]\n", `line 3: bad duration "soon"`},
		{"too frequent reloads", "scenarios:\n  - name: a\n    reload_every: 10ms\n    requests: [{kind: route, keys: [k]}]\n", "below 100ms"},
		{"duplicate request names", "scenarios:\n  - name: a\n    requests: [{name: x, kind: route, keys: [k]}, {name: x, kind: route, keys: [k]}]\n", `duplicate request name "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "scenario: f.yaml: ") {
				t.Fatalf("error %q, want prefix \"scenario: f.yaml: \" and %q", err, tt.want)
			}
		})
	}
}

func TestGenerator(t *testing.T) {
	data, _ := os.ReadFile("testdata/custom.yaml")
	f, err := Parse("custom.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := f.Lookup("hot-key")
	g, err := NewGenerator(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	draw := func(seed uint64) []string {
		rng := rand.New(rand.NewPCG(seed, 0))
		var out []string
		for range 200 {
			tg := g.Next(rng)
			out = append(out, tg.Name+" "+tg.Path+" "+tg.Header.Get("Accept"))
		}
		return out
	}
	a, b := draw(7), draw(7)
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatal("same seed gave different targets")
	}
	seen := map[string]bool{}
	for _, s := range a {
		seen[s] = true
	}
	for _, want := range []string{
		"route /r/banner.json?format=json&region=uk ",
		"route-2 /r/map-tiles.zip ",
		"image /img/thumbnail/photos/a%20b.jpg ",
	} {
		if !seen[want] {
			t.Errorf("never generated %q; got e.g. %v", want, a[:5])
		}
	}

	geo := Scenario{Name: "g", Requests: []Request{{Name: "r", Kind: KindRoute, Weight: 1, Keys: Weighted{{"k", 1}}, GeoIP: true}}}
	if _, err := NewGenerator(&geo, nil); err == nil || !strings.Contains(err.Error(), "GeoIP") {
		t.Errorf("geoip scenario without a pool: err = %v", err)
	}
}
