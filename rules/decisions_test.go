package rules

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/geo"
)

func mustLoad(t testing.TB, path string) *Table {
	t.Helper()
	tbl, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func regionName(r *Region) string {
	if r == nil {
		return "<nil>"
	}
	return r.Name
}

func TestRegionByName(t *testing.T) {
	tbl := mustLoad(t, "testdata/rules/decisions.yaml")
	tests := []struct{ in, want string }{
		{"egypt-cairo", "egypt-cairo"},
		{"EGYPT-Cairo", "egypt-cairo"},
		{"Global", "global"},
		{"egypt cairo", "<nil>"},
		{"", "<nil>"},
		{strings.Repeat("a", 200), "<nil>"},
	}
	for _, tt := range tests {
		if got := regionName(tbl.Region(tt.in)); got != tt.want {
			t.Errorf("Region(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got := tbl.DefaultRegion().Name; got != "global" {
		t.Errorf("DefaultRegion = %s", got)
	}
}

func TestRegionFor(t *testing.T) {
	tbl := mustLoad(t, "testdata/rules/decisions.yaml")
	tests := []struct {
		name string
		loc  geo.Location
		want string
	}{
		{"city beats country", geo.Location{Country: "EG", City: "Cairo", Continent: "AF"}, "egypt-cairo"},
		{"second city", geo.Location{Country: "EG", City: "Alexandria"}, "egypt-alexandria"},
		{"same city name elsewhere is not egypt", geo.Location{Country: "US", Subdivision: "LA", City: "Alexandria", Continent: "NA"}, "<nil>"},
		{"Alexandria, Virginia is a US region", geo.Location{Country: "US", Subdivision: "VA", City: "Alexandria", Continent: "NA"}, "us-virginia"},
		{"subdivision by name", geo.Location{Country: "US", Subdivision: "virginia"}, "us-virginia"},
		{"other city falls to country", geo.Location{Country: "EG", City: "Giza"}, "egypt"},
		{"case-insensitive", geo.Location{Country: "eg", City: "CAIRO"}, "egypt-cairo"},
		{"country beats continent", geo.Location{Country: "GB", City: "Leeds", Continent: "EU"}, "uk"},
		{"continent only", geo.Location{Country: "FR", City: "Paris", Continent: "EU"}, "europe"},
		{"continent lower case", geo.Location{Continent: "eu"}, "europe"},
		{"unknown", geo.Location{Country: "JP", Continent: "AS"}, "<nil>"},
		{"zero", geo.Location{}, "<nil>"},
		{"city without country never matches a city region", geo.Location{City: "Cairo"}, "<nil>"},
		{"non-ASCII city folds case", geo.Location{Country: "BR", City: "SÃO PAULO"}, "br-sao-paulo"},
		{"non-ASCII city exact", geo.Location{Country: "br", City: "São Paulo"}, "br-sao-paulo"},
		{"long country", geo.Location{Country: "EGY"}, "<nil>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := regionName(tbl.RegionFor(tt.loc)); got != tt.want {
				t.Errorf("RegionFor(%+v) = %s, want %s", tt.loc, got, tt.want)
			}
		})
	}
}

func TestRoute(t *testing.T) {
	tbl := mustLoad(t, "testdata/rules/decisions.yaml")
	tests := []struct{ key, want string }{
		{"maps/cairo/tile-01.png", "tiles"},
		{"tiles/x/tile-ab.png", "tiles"},
		{"tiles/x/tile-abc.png", "assets"},  // ?? is exactly two characters
		{"tiles/x/y/tile-ab.png", "assets"}, // * never crosses "/"
		{"maps/cairo/metro.png", "maps"},
		{"maps/a/b/c", "maps"},
		{"maps", "maps"}, // ** matches zero segments
		{"mapsx/a", "assets"},
		{"report.pdf", "docs"},
		{"a/b/c/report.pdf", "docs"},
		{"maps/report.pdf", "maps"}, // first match wins
		{"a/report.pdf.txt", "assets"},
		{"", "assets"},
	}
	for _, tt := range tests {
		r := tbl.Route(tt.key)
		got := "<nil>"
		if r != nil {
			got = r.Name
		}
		if got != tt.want {
			t.Errorf("Route(%q) = %s, want %s", tt.key, got, tt.want)
		}
	}
	demo := mustLoad(t, "testdata/rules/no_catch_all.yaml")
	if r := demo.Route("other/x"); r != nil {
		t.Errorf("Route with no catch-all = %s, want nil", r.Name)
	}
}

func TestPrefixes(t *testing.T) {
	tbl := mustLoad(t, "testdata/rules/decisions.yaml")
	maps, assets := tbl.Route("maps/x"), tbl.Route("x")
	tests := []struct {
		route  *Route
		region string
		want   []string
	}{
		{assets, "egypt-cairo", []string{"egypt/cairo/", "egypt/", "global/"}},
		{assets, "global", []string{"global/"}},
		{maps, "egypt-cairo", []string{"egypt/cairo/", "maps-eg/", ""}}, // overrides apply along the chain
		{maps, "egypt", []string{"maps-eg/", ""}},
		{maps, "uk-london", []string{"uk/london/", "uk/", ""}},
		{maps, "europe", []string{"europe/", ""}},
	}
	for _, tt := range tests {
		if got := tt.route.Prefixes(tbl.Region(tt.region)); !slices.Equal(got, tt.want) {
			t.Errorf("%s.Prefixes(%s) = %q, want %q", tt.route.Name, tt.region, got, tt.want)
		}
	}
	if got := maps.Prefixes(nil); got != nil {
		t.Errorf("Prefixes(nil) = %q", got)
	}
	// A region from an older table is resolved by name.
	old := mustLoad(t, "testdata/rules/demo.yaml")
	if got := maps.Prefixes(old.Region("egypt")); !slices.Equal(got, []string{"maps-eg/", ""}) {
		t.Errorf("Prefixes(region of another table) = %q", got)
	}
}

func TestRouteFields(t *testing.T) {
	tbl := mustLoad(t, "testdata/rules/decisions.yaml")
	tiles := tbl.Route("tiles/a/tile-01.png")
	if tiles.Delivery != CDN || tiles.Delivery.String() != "cdn" || tiles.CDN != "https://cdn.example.com/tiles" || tiles.TTL != 7*24*time.Hour {
		t.Errorf("tiles = %+v", tiles)
	}
	docs := tbl.Route("x.pdf")
	if docs.Delivery.String() != "presign" || docs.TTL != 36*time.Hour || docs.ContentDisposition != "attachment" || docs.ContentType != "application/pdf" || docs.FallbackExists {
		t.Errorf("docs = %+v", docs)
	}
	if !tiles.CDNWildcard || !tiles.PublicCache || docs.CDNWildcard || docs.PublicCache {
		t.Errorf("cdn_policy/cache: tiles %v/%v, docs %v/%v", tiles.CDNWildcard, tiles.PublicCache, docs.CDNWildcard, docs.PublicCache)
	}
	if us := tbl.Region("us-virginia"); us.MaxTTL != 24*time.Hour || us.Line != 10 {
		t.Errorf("us-virginia = %+v", us)
	}
	if eu := tbl.Region("europe"); !slices.Equal(eu.Formats, []string{"webp", "avif", "jpeg"}) {
		t.Errorf("europe formats = %q", eu.Formats)
	}
	if tbl.Source() != "testdata/rules/decisions.yaml" || len(tbl.Hash()) != 12 {
		t.Errorf("Source/Hash = %q %q", tbl.Source(), tbl.Hash())
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"15m", 15 * time.Minute, true},
		{"1h30m", 90 * time.Minute, true},
		{"7d", 7 * 24 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"0d", 0, false},
		{"d", 0, false},
		{"1d-1h", 0, false},
		{"-1h", 0, false},
		{"3600", 0, false},
		{"", 0, false},
		{"99999999d", 0, false},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestErrorIsTyped(t *testing.T) {
	_, err := Parse("x.yaml", []byte("default_region: x\nregions: {}\nroutes: []\n"))
	var perr *Error
	if !errors.As(err, &perr) || len(perr.Problems) == 0 {
		t.Fatalf("err = %v, want *Error", err)
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if !strings.HasPrefix(line, "x.yaml:") {
			t.Errorf("line %q lacks file:line:col", line)
		}
	}
	if _, err := LoadFile("testdata/rules/does-not-exist.yaml"); err == nil || !strings.HasPrefix(err.Error(), "rules: ") || errors.As(err, &perr) {
		t.Errorf("LoadFile(missing) = %v", err)
	}
}
