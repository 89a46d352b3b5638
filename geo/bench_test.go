package geo

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// Benchmarks:
//
//	go test -run x -bench . -benchmem ./geo/
//
// BenchmarkLookupDBIP and BenchmarkResolveDBIP use the real DB-IP files from
// $EDGEGATE_GEOIP_DIR, else ../.data/geoip (scripts/fetch-geoip.sh).

func BenchmarkClientIP(b *testing.B) {
	xff := mustResolver(b, Config{TrustedProxies: []string{"10.0.0.0/8", "2001:db8:ffff::/48", "130.176.0.0/16"}})
	cf := mustResolver(b, Config{TrustedProxies: []string{"10.0.0.0/8"}, ClientIPHeader: HeaderCloudFrontViewerAddress})
	trusted := netip.MustParseAddr("10.1.2.3")
	cases := []struct {
		name string
		r    *IPResolver
		peer netip.Addr
		h    Headers
	}{
		{"untrusted-peer", xff, netip.MustParseAddr("203.0.113.9"), hdr(HeaderXForwardedFor, "1.2.3.4")},
		{"xff-1-hop", xff, trusted, hdr(HeaderXForwardedFor, "156.173.10.20")},
		{"xff-3-hops", xff, trusted, hdr(HeaderXForwardedFor, "6.6.6.6, 156.173.10.20, 130.176.1.2, 10.0.0.7")},
		{"xff-ipv6", xff, trusted, hdr(HeaderXForwardedFor, "2a00:1450:4001::1, 2001:db8:ffff::2")},
		{"cloudfront-viewer-address", cf, trusted, hdr(HeaderCloudFrontViewerAddress, "[2a00:1450:4001::1]:46532")},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.r.ClientIP(c.peer, c.h)
			}
		})
	}
}

// BenchmarkLookup uses generated databases of 20,000 networks in each
// schema, looked up round-robin.
func BenchmarkLookup(b *testing.B) {
	const n = 20000
	rng := rand.New(rand.NewPCG(3, 4))
	countries := []string{"EG", "GB", "US", "DE", "FR", "BR", "JP", "AU", "ZA", "IN"}
	var flat, mm []netRec
	ips := make([]netip.Addr, 0, n)
	seen := map[[3]byte]bool{}
	for len(ips) < n {
		a := [4]byte{byte(1 + rng.IntN(222)), byte(rng.Uint32()), byte(rng.Uint32()), 7}
		ip := netip.AddrFrom4(a)
		if hasNoLocation(ip) || seen[[3]byte(a[:3])] {
			continue
		}
		seen[[3]byte(a[:3])] = true
		c := countries[len(ips)%len(countries)]
		city := fmt.Sprintf("City %d", len(ips)%3000)
		cidr := fmt.Sprintf("%d.%d.%d.0/24", a[0], a[1], a[2])
		flat = append(flat, netRec{cidr, flatRec(c, "State "+c, city)})
		mm = append(mm, netRec{cidr, geoip2Rec(c, "", "S", "State", city)})
		ips = append(ips, ip)
	}
	dir := b.TempDir()
	dbs := map[string]string{
		"flat":   writeMMDB(b, filepath.Join(dir, "flat.mmdb"), "city ipv4", 4, flat...),
		"geoip2": writeMMDB(b, filepath.Join(dir, "geoip2.mmdb"), "GeoIP2-City", 6, mm...),
	}
	for _, name := range []string{"flat", "geoip2"} {
		b.Run(name, func(b *testing.B) {
			db := mustOpen(b, []string{dbs[name]}, DBOptions{})
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, _, ok := db.Lookup(ips[i%n]); !ok {
					b.Fatal("not found")
				}
				i++
			}
		})
	}
	b.Run("private", func(b *testing.B) {
		db := mustOpen(b, []string{dbs["flat"]}, DBOptions{})
		ip := netip.MustParseAddr("192.168.1.1")
		b.ReportAllocs()
		for b.Loop() {
			db.Lookup(ip)
		}
	})
}

func dbipBenchDir(b *testing.B) string {
	dir := os.Getenv("EDGEGATE_GEOIP_DIR")
	if dir == "" {
		dir = filepath.Join("..", ".data", "geoip")
	}
	if _, err := os.Stat(filepath.Join(dir, dbipV4)); err != nil {
		b.Skipf("no DB-IP files (%v); run scripts/fetch-geoip.sh", err)
	}
	return dir
}

// dbipAddrs returns n random IPv4 addresses that the database places: a
// spread of cold lookups, the worst case for the tree walk and the string
// cache.
func dbipAddrs(b *testing.B, db *DB, n int) []netip.Addr {
	rng := rand.New(rand.NewPCG(5, 6))
	out := make([]netip.Addr, 0, n)
	for len(out) < n {
		ip := netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
		if _, _, ok := db.Lookup(ip); ok {
			out = append(out, ip)
		}
	}
	return out
}

func BenchmarkLookupDBIP(b *testing.B) {
	dir := dbipBenchDir(b)
	db := mustOpen(b, []string{filepath.Join(dir, dbipV4), filepath.Join(dir, dbipV6)}, DBOptions{})
	b.Run("cairo", func(b *testing.B) {
		ip := netip.MustParseAddr(dbipCairo)
		b.ReportAllocs()
		for b.Loop() {
			db.Lookup(ip)
		}
	})
	b.Run("ipv6", func(b *testing.B) {
		ip := netip.MustParseAddr(dbipFrankfurt6)
		b.ReportAllocs()
		for b.Loop() {
			db.Lookup(ip)
		}
	})
	for _, n := range []int{1000, 1 << 16} {
		b.Run(fmt.Sprintf("random-%d", n), func(b *testing.B) {
			ips := dbipAddrs(b, db, n)
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				db.Lookup(ips[i%n])
				i++
			}
		})
	}
}

// BenchmarkResolveDBIP is the whole per-request resolution the gateway
// does: ClientIP from a two-hop X-Forwarded-For, then Lookup.
// Goal: ≤ 1.5 µs and ≤ 1 alloc.
func BenchmarkResolveDBIP(b *testing.B) {
	dir := dbipBenchDir(b)
	db := mustOpen(b, []string{filepath.Join(dir, dbipV4), filepath.Join(dir, dbipV6)}, DBOptions{})
	r := mustResolver(b, Config{TrustedProxies: []string{"10.0.0.0/8", "130.176.0.0/16"}})
	peer := netip.MustParseAddr("10.0.0.2")
	for _, n := range []int{1000, 1 << 16} {
		b.Run(fmt.Sprintf("random-%d", n), func(b *testing.B) {
			ips := dbipAddrs(b, db, n)
			hs := make([]fakeHeaders, n)
			for i, ip := range ips {
				hs[i] = hdr(HeaderXForwardedFor, ip.String()+", 130.176.9.9")
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				ip, _ := r.ClientIP(peer, hs[i%n])
				db.Lookup(ip)
				i++
			}
		})
	}
}
