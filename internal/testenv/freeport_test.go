package testenv

import (
	"net"
	"strconv"
	"testing"
)

func TestPortRangeAvoidsEphemeral(t *testing.T) {
	for _, tc := range []struct{ elo, ehi, lo, hi int }{
		{32768, 60999, 10000, 32768}, // Linux default
		{49152, 65535, 10000, 49152}, // IANA
		{1024, 40000, 40001, 65536},
		{1024, 65535, 10000, 65536},
	} {
		lo, hi := portRange(tc.elo, tc.ehi)
		if lo != tc.lo || hi != tc.hi {
			t.Errorf("portRange(%d, %d) = [%d, %d), want [%d, %d)", tc.elo, tc.ehi, lo, hi, tc.lo, tc.hi)
		}
	}
}

func TestFreeAddrOutsideEphemeralRange(t *testing.T) {
	elo, ehi := ephemeralRange()
	for range 20 {
		addr := FreeAddr(t)
		_, p, _ := net.SplitHostPort(addr)
		n, _ := strconv.Atoi(p)
		if n >= elo && n <= ehi && !(elo <= 10000 && ehi >= 65535) {
			t.Fatalf("FreeAddr = %s: inside the ephemeral range [%d, %d]", addr, elo, ehi)
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("FreeAddr = %s, not bindable: %v", addr, err)
		}
		l.Close()
	}
}
