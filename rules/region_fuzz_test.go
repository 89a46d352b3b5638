package rules

import (
	"strings"
	"testing"
)

// FuzzRegionName: the ?region= lookup never panics, only ever answers a
// region whose name equals the input ignoring case, finds every existing
// region in any ASCII case, and Region and RegionBytes always agree.
func FuzzRegionName(f *testing.F) {
	tbl := mustLoad(f, "testdata/rules/demo.yaml")
	for _, s := range []string{"egypt-cairo", "EGYPT-CAIRO", "", "global", "x", strings.Repeat("a", 70), "égypte", "egypt-cairo\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		r := tbl.Region(name)
		if rb := tbl.RegionBytes([]byte(name)); rb != r {
			t.Fatalf("Region(%q) = %v but RegionBytes = %v", name, r, rb)
		}
		if r != nil && !strings.EqualFold(r.Name, name) {
			t.Fatalf("Region(%q) = %q", name, r.Name)
		}
		if r == nil {
			for _, reg := range tbl.Regions() {
				if reg.Name == strings.ToLower(name) && isASCII(name) {
					t.Fatalf("Region(%q) = nil, but %q exists", name, reg.Name)
				}
			}
		}
	})
}
