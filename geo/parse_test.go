package geo

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseAddr(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" means reject
	}{
		{"1.2.3.4", "1.2.3.4"},
		{"0.0.0.0", "0.0.0.0"},
		{"255.255.255.255", "255.255.255.255"},
		{"256.1.1.1", ""},
		{"1.2.3", ""},
		{"1.2.3.4.5", ""},
		{"1..2.3", ""},
		{"01.2.3.4", ""},
		{"1.2.3.4 ", ""},
		{"::", "::"},
		{"::1", "::1"},
		{"2001:db8::", "2001:db8::"},
		{"2001:DB8::A", "2001:db8::a"},
		{"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
		{"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},
		{"1:2:3:4:5:6:7:8:9", ""},
		{"1:2:3:4:5:6::7:8", ""}, // "::" must stand for at least one zero group
		{"1:2:3:4:5::7:8", "1:2:3:4:5:0:7:8"},
		{"::ffff:1.2.3.4", "::ffff:1.2.3.4"},
		{"::1.2.3.4", "::102:304"},
		{"1::2::3", ""},
		{":::", ""},
		{"12345::", ""},
		{"fe80::1%eth0", ""},
		{"", ""},
		{"x", ""},
	}
	for _, tt := range tests {
		got, ok := parseAddr([]byte(tt.in))
		if tt.want == "" {
			if ok {
				t.Errorf("parseAddr(%q) = %v, want reject", tt.in, got)
			}
			continue
		}
		if !ok || got != netip.MustParseAddr(tt.want) {
			t.Errorf("parseAddr(%q) = %v, %v; want %s", tt.in, got, ok, tt.want)
		}
	}
}

// FuzzParseAddr checks parseAddr against net/netip: same answer for every
// zone-less input.
func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "::", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "1::", "01.1.1.1", "fe80::1%x", "1:2:3:4:5:6:1.2.3.4", "::1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseAddr([]byte(s))
		want, err := netip.ParseAddr(s)
		if strings.Contains(s, "%") {
			if ok {
				t.Fatalf("parseAddr(%q) accepted a zone", s)
			}
			return
		}
		if ok != (err == nil) || (ok && got != want) {
			t.Fatalf("parseAddr(%q) = %v, %v; netip says %v, %v", s, got, ok, want, err)
		}
	})
}

// FuzzClientIP feeds arbitrary X-Forwarded-For and CloudFront-Viewer-Address
// values: ClientIP must never panic, must return a valid address, must
// return the peer unless the header yielded an address, and any address it
// takes from the header must appear in it.
func FuzzClientIP(f *testing.F) {
	for _, s := range []string{"", "1.2.3.4", "6.6.6.6, 1.2.3.4, 10.0.0.1", "[2001:db8::1]:80", ", ,", "\"1.2.3.4\"", "1.2.3.4:99999", "[::ffff:1.2.3.4]", "2001:db8::1:443", "::ffff:10.0.0.1,", "::ffff:0:0", "1.2.3.4, junk, 10.0.0.1", "1.2.3.4,,10.0.0.1"} {
		f.Add(s)
	}
	xff := mustResolver(f, Config{TrustedProxies: []string{"10.0.0.0/8"}})
	cf := mustResolver(f, Config{TrustedProxies: []string{"10.0.0.0/8"}, ClientIPHeader: HeaderCloudFrontViewerAddress})
	peer := netip.MustParseAddr("10.0.0.2")
	f.Fuzz(func(t *testing.T, v string) {
		for _, r := range []*IPResolver{xff, cf} {
			got, src := r.ClientIP(peer, hdr(HeaderXForwardedFor, v, HeaderCloudFrontViewerAddress, v))
			if !got.IsValid() || got.Is4In6() || got.Zone() != "" {
				t.Fatalf("ClientIP(%q) = %v", v, got)
			}
			if src == IPFromPeer {
				if got != peer {
					t.Fatalf("ClientIP(%q) = %v from peer, want %v", v, got, peer)
				}
				continue
			}
			// IPv6 has many spellings, but an IPv4 address not written as
			// IPv4-mapped hex (::ffff:102:304) can only be written one way.
			if got.Is4() && !strings.Contains(strings.ToLower(v), "ffff") && !strings.Contains(v, got.String()) {
				t.Fatalf("ClientIP(%q) = %v, which is not in the header", v, got)
			}
		}
		// The walk against a plain reference: right to left, empty
		// elements skipped, the first unparsable entry ends it.
		want, wantOK := peer, false
		entries := strings.Split(v, ",")
		for i := len(entries) - 1; i >= 0; i-- {
			if len(trimOWS([]byte(entries[i]))) == 0 {
				continue
			}
			a, ok := parseHostPort([]byte(entries[i]), false)
			if !ok {
				break
			}
			want, wantOK = a, true
			if !xff.Trusted(a) {
				break
			}
		}
		got, src := xff.ClientIP(peer, hdr(HeaderXForwardedFor, v))
		if got != want || (src == IPFromXFF) != wantOK {
			t.Fatalf("X-Forwarded-For %q: ClientIP = %v, %v; want %v (from header: %v)", v, got, src, want, wantOK)
		}
	})
}
