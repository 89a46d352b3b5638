package geo

import "net/netip"

// hasNoLocation reports whether ip is an address no geo database can place:
// unspecified, loopback, private (RFC 1918, RFC 4193), shared (RFC 6598),
// link-local, multicast, documentation, benchmarking, discard-only and
// reserved ranges. ip must be unmapped.
func hasNoLocation(ip netip.Addr) bool {
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsLoopback() || ip.IsPrivate() ||
		ip.IsLinkLocalUnicast() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() ||
		ip.IsLinkLocalMulticast() {
		return true
	}
	if ip.Is4() {
		b := ip.As4()
		switch {
		case b[0] == 0, // 0.0.0.0/8 "this network"
			b[0] >= 240,                              // 240.0.0.0/4 reserved, broadcast
			b[0] == 100 && b[1]&0xc0 == 64,           // 100.64.0.0/10 shared (CGNAT)
			b[0] == 192 && b[1] == 0 && b[2] == 0,    // 192.0.0.0/24 IETF assignments
			b[0] == 192 && b[1] == 0 && b[2] == 2,    // 192.0.2.0/24 TEST-NET-1
			b[0] == 198 && b[1]&0xfe == 18,           // 198.18.0.0/15 benchmarking
			b[0] == 198 && b[1] == 51 && b[2] == 100, // 198.51.100.0/24 TEST-NET-2
			b[0] == 203 && b[1] == 0 && b[2] == 113:  // 203.0.113.0/24 TEST-NET-3
			return true
		}
		return false
	}
	b := ip.As16()
	switch {
	case b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8, // 2001:db8::/32 documentation
		b[0] == 0x3f && b[1] == 0xff && b[2]&0xf0 == 0,                                                                                                             // 3fff::/20 documentation
		b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0x02 && b[4] == 0 && b[5] == 0,                                                                        // 2001:2::/48 benchmarking
		b[0] == 0x01 && b[1] == 0 && b[2] == 0 && b[3] == 0 && b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] == 0,                                                    // 100::/64 discard-only
		b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0 && b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] == 0 && b[8] == 0 && b[9] == 0 && b[10] == 0 && b[11] == 0: // ::/96 IPv4-compatible (deprecated)
		return true
	}
	return false
}
