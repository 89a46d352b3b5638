package geo

import (
	"net/netip"
	"testing"
)

func TestHasNoLocation(t *testing.T) {
	tests := map[string]bool{
		"0.0.0.0": true, "0.1.2.3": true, "10.1.2.3": true, "100.64.0.1": true, "100.127.255.255": true,
		"127.0.0.1": true, "169.254.1.1": true, "172.16.0.1": true, "172.31.255.255": true, "192.0.0.8": true,
		"192.0.2.1": true, "192.168.0.1": true, "198.18.0.1": true, "198.19.255.255": true, "198.51.100.1": true,
		"203.0.113.1": true, "224.0.0.1": true, "240.0.0.1": true, "255.255.255.255": true,
		"::": true, "::1": true, "fe80::1": true, "fc00::1": true, "fd12::1": true, "ff02::1": true,
		"2001:db8::1": true, "3fff::1": true, "2001:2::1": true, "100::1": true, "::1.2.3.4": true,

		"1.1.1.1": false, "100.128.0.1": false, "100.63.255.255": false, "172.32.0.1": false, "198.20.0.1": false,
		"156.173.1.1": false, "81.2.69.160": false, "2a00:1450::1": false, "2001:db9::1": false, "2002:102:304::": false,
	}
	for s, want := range tests {
		if got := hasNoLocation(netip.MustParseAddr(s)); got != want {
			t.Errorf("hasNoLocation(%s) = %v, want %v", s, got, want)
		}
	}
	if !hasNoLocation(netip.Addr{}) {
		t.Error("hasNoLocation(zero Addr) = false")
	}
}
