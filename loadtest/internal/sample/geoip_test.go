package sample

import (
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// writeFlatMMDB writes an IPv4 DB-IP-style (flat record) database; test
// databases are generated here, never committed.
func writeFlatMMDB(t *testing.T, nets map[string][2]string) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "test-city-ipv4", IPVersion: 4, RecordSize: 28})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, loc := range nets {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		rec := mmdbtype.Map{"city": mmdbtype.String(loc[1]), "state1": mmdbtype.String("")}
		if loc[0] != "" {
			rec["country_code"] = mmdbtype.String(loc[0])
		}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "test.mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGeoPoolProportions(t *testing.T) {
	path := writeFlatMMDB(t, map[string][2]string{
		"41.32.0.0/12":  {"EG", "Cairo"},      // 2^20 addresses: 1/2 of located space
		"41.48.0.0/13":  {"EG", "Alexandria"}, // 2^19: 1/4
		"81.2.0.0/14":   {"GB", "London"},     // 2^18: 1/8
		"81.128.0.0/14": {"GB", ""},           // 2^18: 1/8
		"11.0.0.0/8":    {"", ""},             // no country: never sampled
		"12.168.0.0/16": {"", "Nowhere"},
	})
	const size = 20000
	pool, err := NewGeoPool([]string{path}, size, 7)
	if err != nil {
		t.Fatal(err)
	}
	if pool.Len() != size {
		t.Fatalf("pool has %d addresses, want %d", pool.Len(), size)
	}
	prefixes := map[string]netip.Prefix{
		"EG/Cairo":      netip.MustParsePrefix("41.32.0.0/12"),
		"EG/Alexandria": netip.MustParsePrefix("41.48.0.0/13"),
		"GB/London":     netip.MustParsePrefix("81.2.0.0/14"),
		"GB":            netip.MustParsePrefix("81.128.0.0/14"),
	}
	want := map[string]float64{"EG/Cairo": 0.5, "EG/Alexandria": 0.25, "GB/London": 0.125, "GB": 0.125}
	counts := map[string]int{}
	for _, a := range pool.Addrs() {
		label := a.Label()
		p, ok := prefixes[label]
		if !ok {
			t.Fatalf("address %v has unexpected location %q", a.IP, label)
		}
		if !p.Contains(a.IP) {
			t.Fatalf("address %v labelled %q is outside %v", a.IP, label, p)
		}
		counts[label]++
	}
	for label, share := range want {
		sd := math.Sqrt(size * share * (1 - share))
		if d := math.Abs(float64(counts[label]) - size*share); d > 5*sd {
			t.Errorf("%s: %d of %d, want about %.0f", label, counts[label], size, size*share)
		}
		if got := pool.Share[label]; math.Abs(got-share) > 1e-12 {
			t.Errorf("%s: database share %v, want %v", label, got, share)
		}
	}
	if top := pool.TopShares(1); len(top) != 1 || top[0].Label != "EG/Cairo" {
		t.Errorf("TopShares(1) = %v", top)
	}

	// Deterministic with a seed.
	again, err := NewGeoPool([]string{path}, size, 7)
	if err != nil {
		t.Fatal(err)
	}
	a, b := pool.Addrs(), again.Addrs()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, address %d differs: %v vs %v", i, a[i], b[i])
		}
	}
}

func TestGeoPoolErrors(t *testing.T) {
	empty := writeFlatMMDB(t, map[string][2]string{"11.0.0.0/8": {"", "x"}})
	tests := []struct {
		name  string
		files []string
		size  int
	}{
		{"no files", nil, 10},
		{"missing file", []string{filepath.Join(t.TempDir(), "absent.mmdb")}, 10},
		{"no located networks", []string{empty}, 10},
		{"zero size", []string{empty}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewGeoPool(tt.files, tt.size, 1); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
