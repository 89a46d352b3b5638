package rules

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/edgegate/edgegate/geo"
)

// genTable builds a rules file with 50 regions (10 countries, each with a
// country region and 3 city regions, 7 continents, 3 plain) and 50 routes
// (49 specific, then a catch-all).
func genTable(tb testing.TB) *Table {
	tb.Helper()
	countries := []string{"EG", "GB", "US", "FR", "DE", "JP", "BR", "IN", "NG", "AU"}
	continents := []string{"AF", "AN", "AS", "EU", "NA", "OC", "SA"}
	var b strings.Builder
	b.WriteString("default_region: global\nregions:\n")
	b.WriteString("  global: {prefix: global/}\n  staging: {prefix: staging/, fallback: global}\n  archive: {prefix: archive/, fallback: global}\n")
	for _, c := range continents {
		fmt.Fprintf(&b, "  cont-%s: {continent: %s, prefix: %s/, fallback: global}\n", strings.ToLower(c), c, strings.ToLower(c))
	}
	for _, c := range countries {
		lc := strings.ToLower(c)
		fmt.Fprintf(&b, "  %s: {country: %s, prefix: %s/, fallback: global}\n", lc, c, lc)
		for i := range 3 {
			fmt.Fprintf(&b, "  %s-city%d: {country: %s, city: City%d, prefix: %s/city%d/, fallback: %s}\n", lc, i, c, i, lc, i, lc)
		}
	}
	b.WriteString("routes:\n")
	for i := range 49 {
		fmt.Fprintf(&b, "  - {name: r%02d, match: \"dir%02d/**/*.{png,jpg}\", bucket: edge-demo, delivery: presign, ttl: 1h, fallback: exists, regions: {staging: s%02d/}}\n", i, i, i)
	}
	b.WriteString("  - {name: catch-all, match: \"**\", bucket: edge-demo, delivery: presign, ttl: 15m}\n")
	tbl, err := Parse("gen.yaml", []byte(b.String()))
	if err != nil {
		tb.Fatal(err)
	}
	if len(tbl.Regions()) != 50 || len(tbl.Routes()) != 50 {
		tb.Fatalf("generated %d regions, %d routes", len(tbl.Regions()), len(tbl.Routes()))
	}
	return tbl
}

var (
	evalLoc = geo.Location{Country: "FR", City: "City2", Continent: "EU"}
	evalKey = "dir25/a/b/photo.jpg"
	sink    []string
)

// evaluate is what the gateway does per request.
func evaluate(tbl *Table, name string, loc geo.Location, key string) []string {
	reg := tbl.Region(name)
	if reg == nil {
		reg = tbl.RegionFor(loc)
	}
	if reg == nil {
		reg = tbl.DefaultRegion()
	}
	r := tbl.Route(key)
	if r == nil {
		return nil
	}
	return r.Prefixes(reg)
}

func TestEvaluateAllocs(t *testing.T) {
	tbl := genTable(t)
	if got := evaluate(tbl, "nope", evalLoc, evalKey); len(got) != 3 || got[0] != "fr/city2/" {
		t.Fatalf("evaluate = %q", got)
	}
	cases := []struct {
		name, region string
		loc          geo.Location
		key          string
	}{
		{"by location", "", evalLoc, evalKey},
		{"mixed-case region name", "FR-City1", evalLoc, evalKey},
		{"lower-case country", "", geo.Location{Country: "fr", Continent: "eu"}, "dir48/x.png"},
		{"catch-all route", "unknown", geo.Location{Continent: "OC"}, "zzz/a/b/c/d"},
	}
	for _, c := range cases {
		allocs := testing.AllocsPerRun(1000, func() {
			sink = evaluate(tbl, c.region, c.loc, c.key)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per evaluation, want 0", c.name, allocs)
		}
	}
}

func BenchmarkEvaluate(b *testing.B) {
	tbl := genTable(b)
	b.Run("by-location", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = evaluate(tbl, "", evalLoc, evalKey)
		}
	})
	b.Run("by-name-mixed-case", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = evaluate(tbl, "FR-City1", evalLoc, evalKey)
		}
	})
	b.Run("catch-all", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = evaluate(tbl, "", evalLoc, "zzz/a/b/c.png")
		}
	})
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("testdata/rules/decisions.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("decisions.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookups(b *testing.B) {
	tbl := genTable(b)
	b.Run("Region-mixed-case", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkRegion = tbl.Region("FR-City1")
		}
	})
	b.Run("RegionFor-city", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkRegion = tbl.RegionFor(evalLoc)
		}
	})
	b.Run("Route-deep", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkRoute = tbl.Route(evalKey)
		}
	})
}

var (
	sinkRegion *Region
	sinkRoute  *Route
)
