package rules

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/edgegate/edgegate/geo"
)

// FuzzParse checks that no input makes Parse panic, that every problem has a
// position, and that a table Parse accepts answers lookups.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/rules/*.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("regions: {x: &r {prefix: a/}, y: *r}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tbl, err := Parse("fuzz.yaml", data)
		if err != nil {
			perr, ok := err.(*Error)
			if !ok || len(perr.Problems) == 0 {
				t.Fatalf("error %T %v", err, err)
			}
			for _, p := range perr.Problems {
				if p.Line < 1 || p.Col < 1 {
					t.Fatalf("bad position %+v", p)
				}
			}
			return
		}
		if tbl.DefaultRegion() == nil {
			t.Fatal("valid table without default region")
		}
		for _, reg := range tbl.Regions() {
			if tbl.Region(reg.Name) != reg {
				t.Fatalf("Region(%q) lookup failed", reg.Name)
			}
			for _, r := range tbl.Routes() {
				if len(r.Prefixes(reg)) == 0 {
					t.Fatalf("empty prefix chain for %s/%s", r.Name, reg.Name)
				}
			}
		}
		tbl.RegionFor(geo.Location{Country: "EG", City: "Cairo", Continent: "AF"})
		tbl.Route("maps/a/b.png")
	})
}
