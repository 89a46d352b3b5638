package geo

import (
	"net/netip"
	"testing"
)

func mustResolver(t testing.TB, cfg Config) *IPResolver {
	t.Helper()
	r, err := NewIPResolver(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var trustedNets = []string{"10.0.0.0/8", "192.0.2.10", "2001:db8:ffff::/48"}

func TestClientIP(t *testing.T) {
	xff := mustResolver(t, Config{TrustedProxies: trustedNets})
	none := mustResolver(t, Config{})
	cfip := mustResolver(t, Config{TrustedProxies: trustedNets, ClientIPHeader: "CF-Connecting-IP"})
	realip := mustResolver(t, Config{TrustedProxies: trustedNets, ClientIPHeader: "x-real-ip"})
	cfva := mustResolver(t, Config{TrustedProxies: trustedNets, ClientIPHeader: "CloudFront-Viewer-Address"})

	const (
		proxy   = "10.1.2.3"
		proxy6  = "2001:db8:ffff::1"
		outside = "203.0.113.7"
	)
	tests := []struct {
		name    string
		r       *IPResolver
		peer    string
		h       Headers
		want    string
		wantSrc IPSource
	}{
		// The trust model.
		{"untrusted peer: xff is ignored (spoof)", xff, outside, hdr("X-Forwarded-For", "1.2.3.4"), outside, IPFromPeer},
		{"no trusted proxies: xff is ignored", none, proxy, hdr("X-Forwarded-For", "1.2.3.4"), proxy, IPFromPeer},
		{"trusted peer, one hop", xff, proxy, hdr("X-Forwarded-For", "1.2.3.4"), "1.2.3.4", IPFromXFF},
		{"client-supplied spoof left of the real client is ignored", xff, proxy, hdr("X-Forwarded-For", "6.6.6.6, 1.2.3.4"), "1.2.3.4", IPFromXFF},
		{"several trusted hops are skipped", xff, proxy, hdr("X-Forwarded-For", "6.6.6.6, 1.2.3.4, 10.9.9.9, 192.0.2.10"), "1.2.3.4", IPFromXFF},
		{"all trusted: leftmost valid", xff, proxy, hdr("X-Forwarded-For", "10.0.0.4, 10.0.0.5, 10.0.0.6"), "10.0.0.4", IPFromXFF},
		{"trusted hops then junk: the last trusted hop", xff, proxy, hdr("X-Forwarded-For", "junk, 10.0.0.5, 10.0.0.6"), "10.0.0.5", IPFromXFF},
		{"trusted peer without xff", xff, proxy, hdr(), proxy, IPFromPeer},
		{"nil headers", xff, proxy, nil, proxy, IPFromPeer},
		{"ipv4-mapped trusted peer", xff, "::ffff:10.1.2.3", hdr("X-Forwarded-For", "1.2.3.4"), "1.2.3.4", IPFromXFF},
		{"ipv4-mapped untrusted peer is unmapped", xff, "::ffff:203.0.113.7", hdr("X-Forwarded-For", "1.2.3.4"), outside, IPFromPeer},
		{"peer zone dropped", xff, "fe80::1%eth0", nil, "fe80::1", IPFromPeer},

		// IPv6.
		{"ipv6 trusted peer, ipv6 client", xff, proxy6, hdr("X-Forwarded-For", "2001:db8:1::5"), "2001:db8:1::5", IPFromXFF},
		{"ipv6 hop trusted in chain", xff, proxy, hdr("X-Forwarded-For", "2001:db8:1::5, 2001:db8:ffff::9"), "2001:db8:1::5", IPFromXFF},
		{"bracketed ipv6 with port", xff, proxy, hdr("X-Forwarded-For", "[2001:db8:1::5]:443"), "2001:db8:1::5", IPFromXFF},
		{"bracketed ipv6 without port", xff, proxy, hdr("X-Forwarded-For", "[2001:db8:1::5]"), "2001:db8:1::5", IPFromXFF},
		{"ipv4-mapped entry unmapped", xff, proxy, hdr("X-Forwarded-For", "::ffff:1.2.3.4"), "1.2.3.4", IPFromXFF},
		{"ipv4-mapped trusted entry skipped", xff, proxy, hdr("X-Forwarded-For", "1.2.3.4, ::ffff:10.0.0.1"), "1.2.3.4", IPFromXFF},

		// Garbage, empty, whitespace, ports.
		{"empty xff", xff, proxy, hdr("X-Forwarded-For", ""), proxy, IPFromPeer},
		{"only commas and spaces", xff, proxy, hdr("X-Forwarded-For", " , ,\t,"), proxy, IPFromPeer},
		{"garbage only", xff, proxy, hdr("X-Forwarded-For", "unknown"), proxy, IPFromPeer},
		{"garbage ends the walk: nothing left of it is read", xff, proxy, hdr("X-Forwarded-For", "1.2.3.4, unknown,   "), proxy, IPFromPeer},
		{"garbage after a trusted hop: that hop", xff, proxy, hdr("X-Forwarded-For", "6.6.6.6, junk, 10.0.0.6"), "10.0.0.6", IPFromXFF},
		{"garbage left of the client is never reached", xff, proxy, hdr("X-Forwarded-For", "junk, 1.2.3.4, 10.0.0.6"), "1.2.3.4", IPFromXFF},
		{"empty list elements are skipped (RFC 9110 5.6.1)", xff, proxy, hdr("X-Forwarded-For", "1.2.3.4,, ,10.0.0.6,"), "1.2.3.4", IPFromXFF},
		{"empty quoted entry is not empty: it ends the walk", xff, proxy, hdr("X-Forwarded-For", `1.2.3.4, ""`), proxy, IPFromPeer},
		{"tabs and spaces", xff, proxy, hdr("X-Forwarded-For", "\t 1.2.3.4 \t"), "1.2.3.4", IPFromXFF},
		{"ipv4 with port", xff, proxy, hdr("X-Forwarded-For", "1.2.3.4:5678"), "1.2.3.4", IPFromXFF},
		{"bad port ends the walk", xff, proxy, hdr("X-Forwarded-For", "5.6.7.8, 1.2.3.4:http"), proxy, IPFromPeer},
		{"quoted entry", xff, proxy, hdr("X-Forwarded-For", `"1.2.3.4"`), "1.2.3.4", IPFromXFF},
		{"leading zeros rejected", xff, proxy, hdr("X-Forwarded-For", "5.6.7.8, 01.2.3.4"), proxy, IPFromPeer},
		{"octet overflow rejected", xff, proxy, hdr("X-Forwarded-For", "5.6.7.8, 1.2.3.256"), proxy, IPFromPeer},
		{"zone rejected", xff, proxy, hdr("X-Forwarded-For", "5.6.7.8, fe80::1%eth0"), proxy, IPFromPeer},
		{"cidr rejected", xff, proxy, hdr("X-Forwarded-For", "5.6.7.8, 1.2.3.0/24"), proxy, IPFromPeer},
		{"unclosed bracket rejected", xff, proxy, hdr("X-Forwarded-For", "5.6.7.8, [2001:db8::1"), proxy, IPFromPeer},
		{"private client address is still the client", xff, proxy, hdr("X-Forwarded-For", "192.168.1.20"), "192.168.1.20", IPFromXFF},

		// Single-value headers.
		{"cf-connecting-ip from trusted peer", cfip, proxy, hdr("CF-Connecting-IP", "1.2.3.4", "X-Forwarded-For", "9.9.9.9"), "1.2.3.4", IPFromHeader},
		{"cf-connecting-ip from untrusted peer ignored", cfip, outside, hdr("CF-Connecting-IP", "1.2.3.4"), outside, IPFromPeer},
		{"cf-connecting-ip ipv6", cfip, proxy, hdr("CF-Connecting-IP", " 2001:db8:1::5 "), "2001:db8:1::5", IPFromHeader},
		{"cf-connecting-ip missing: peer, xff not consulted", cfip, proxy, hdr("X-Forwarded-For", "9.9.9.9"), proxy, IPFromPeer},
		{"cf-connecting-ip garbage: peer", cfip, proxy, hdr("CF-Connecting-IP", "1.2.3.4, 5.6.7.8"), proxy, IPFromPeer},
		{"x-real-ip", realip, proxy, hdr("X-Real-IP", "1.2.3.4"), "1.2.3.4", IPFromHeader},
		{"cloudfront ipv4:port", cfva, proxy, hdr("CloudFront-Viewer-Address", "198.51.100.10:46532"), "198.51.100.10", IPFromHeader},
		{"cloudfront [ipv6]:port", cfva, proxy, hdr("CloudFront-Viewer-Address", "[2001:db8:1::5]:46532"), "2001:db8:1::5", IPFromHeader},
		{"cloudfront unbracketed ipv6:port", cfva, proxy, hdr("CloudFront-Viewer-Address", "2001:0db8:85a3:0000:0000:8a2e:0370:7334:46532"), "2001:db8:85a3::8a2e:370:7334", IPFromHeader},
		{"cloudfront bare ipv4", cfva, proxy, hdr("CloudFront-Viewer-Address", "198.51.100.10"), "198.51.100.10", IPFromHeader},
		{"cloudfront bad port", cfva, proxy, hdr("CloudFront-Viewer-Address", "198.51.100.10:port"), proxy, IPFromPeer},
		{"cloudfront from untrusted peer ignored", cfva, outside, hdr("CloudFront-Viewer-Address", "198.51.100.10:1"), outside, IPFromPeer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, src := tt.r.ClientIP(netip.MustParseAddr(tt.peer), tt.h)
			if got != netip.MustParseAddr(tt.want) || src != tt.wantSrc {
				t.Fatalf("ClientIP(%s) = %v, %v; want %s, %v", tt.peer, got, src, tt.want, tt.wantSrc)
			}
		})
	}
}

func TestTrusted(t *testing.T) {
	r := mustResolver(t, Config{TrustedProxies: trustedNets})
	tests := []struct {
		ip   string
		want bool
	}{
		{"10.255.255.255", true},
		{"11.0.0.0", false},
		{"192.0.2.10", true},
		{"192.0.2.11", false},
		{"::ffff:10.0.0.1", true},
		{"2001:db8:ffff:1::1", true},
		{"2001:db8:fffe::1", false},
	}
	for _, tt := range tests {
		if got := r.Trusted(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("Trusted(%s) = %v, want %v", tt.ip, got, tt.want)
		}
	}
	if r.Trusted(netip.Addr{}) {
		t.Error("Trusted(zero Addr) = true")
	}
	if mustResolver(t, Config{}).Trusted(netip.MustParseAddr("10.0.0.1")) {
		t.Error("a resolver without trusted proxies trusts 10.0.0.1")
	}
}

func TestIPSourceString(t *testing.T) {
	for src, want := range map[IPSource]string{IPFromPeer: "peer", IPFromXFF: "x-forwarded-for", IPFromHeader: "header", 9: "IPSource(9)"} {
		if got := src.String(); got != want {
			t.Errorf("IPSource(%d).String() = %q, want %q", src, got, want)
		}
	}
}

func TestClientIPDoesNotAllocate(t *testing.T) {
	r := mustResolver(t, Config{TrustedProxies: trustedNets})
	cf := mustResolver(t, Config{TrustedProxies: trustedNets, ClientIPHeader: "CloudFront-Viewer-Address"})
	peer := netip.MustParseAddr("10.1.2.3")
	cases := []struct {
		r *IPResolver
		h Headers
	}{
		{r, hdr("X-Forwarded-For", "6.6.6.6, 1.2.3.4, 10.9.9.9, 192.0.2.10")},
		{r, hdr("X-Forwarded-For", "[2001:db8:1::5]:443, 10.0.0.1")},
		{r, hdr("X-Forwarded-For", "garbage, 1.2.3.400, fe80::1%eth0, :::, 1.2.3.4:x")},
		{cf, hdr("CloudFront-Viewer-Address", "2001:0db8:85a3:0000:0000:8a2e:0370:7334:46532")},
	}
	for _, c := range cases {
		if n := testing.AllocsPerRun(200, func() { c.r.ClientIP(peer, c.h) }); n != 0 {
			t.Errorf("ClientIP allocates %v times per call for %v", n, c.h)
		}
	}
}
