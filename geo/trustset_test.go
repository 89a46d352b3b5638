package geo

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"go4.org/netipx"
)

// TestTrustSetMatchesIPSet compares trustSet with netipx.IPSet on random
// prefix lists and random addresses near their edges.
func TestTrustSetMatchesIPSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	randAddr := func(v6 bool) netip.Addr {
		if v6 {
			var b [16]byte
			b[0] = byte(rng.IntN(4)) // a small space, so prefixes overlap
			for i := 1; i < 16; i++ {
				b[i] = byte(rng.Uint32())
			}
			return netip.AddrFrom16(b)
		}
		return netip.AddrFrom4([4]byte{byte(rng.IntN(4)), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
	}
	for round := range 200 {
		var prefixes []netip.Prefix
		var b netipx.IPSetBuilder
		for range rng.IntN(12) {
			a := randAddr(rng.IntN(2) == 0)
			p := netip.PrefixFrom(a, 6+rng.IntN(a.BitLen()-5)).Masked()
			prefixes = append(prefixes, p)
			b.AddPrefix(p)
		}
		want, _ := b.IPSet()
		got, err := newTrustSet(prefixes)
		if err != nil {
			t.Fatal(err)
		}
		var probes []netip.Addr
		for _, p := range prefixes {
			r := netipx.RangeOfPrefix(p)
			probes = append(probes, r.From(), r.To(), r.From().Prev(), r.To().Next())
		}
		for range 50 {
			probes = append(probes, randAddr(rng.IntN(2) == 0))
		}
		for _, ip := range probes {
			if !ip.IsValid() {
				continue
			}
			if g, w := got.contains(ip), want.Contains(ip); g != w {
				t.Fatalf("round %d: contains(%v) = %v, IPSet says %v (prefixes %v)", round, ip, g, w, prefixes)
			}
		}
	}
}
