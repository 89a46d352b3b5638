package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// FreeAddr returns a loopback address with a port that was free just now.
func FreeAddr(t testing.TB) string { return FreeAddrOn(t, "127.0.0.1") }

// FreeAddrOn returns ip:port with a port that was free on ip just now.
//
// The port is taken below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range), never from it as ":0" would: between
// this check and the server's own bind, any outgoing connection on the
// machine may take an ephemeral port as its local one, and the server's
// bind then fails with "address already in use" (a CI run failed so).
// Ports outside that range are only ever taken by an explicit bind.
func FreeAddrOn(t testing.TB, ip string) string {
	t.Helper()
	addr, err := freeAddrOn(ip)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return addr
}

func freeAddrOn(ip string) (string, error) {
	lo, hi := portRange(ephemeralRange())
	for range 200 {
		addr := net.JoinHostPort(ip, strconv.Itoa(lo+rand.IntN(hi-lo)))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		return addr, nil
	}
	return "", fmt.Errorf("no free port in [%d, %d) on %s", lo, hi, ip)
}

// ephemeralRange reads the kernel's ephemeral port range; Linux's default
// when it cannot.
func ephemeralRange() (lo, hi int) {
	lo, hi = 32768, 60999
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return lo, hi
	}
	l, err1 := strconv.Atoi(f[0])
	h, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || l > h {
		return lo, hi
	}
	return l, h
}

// portRange is the larger span outside [elo, ehi] and above the
// well-known ports: [10000, elo) or (ehi, 65535].
func portRange(elo, ehi int) (lo, hi int) {
	below, above := elo-10000, 65535-ehi
	if below >= above && below > 0 {
		return 10000, elo
	}
	if above > 0 {
		return ehi + 1, 65536
	}
	return 10000, 65536 // the whole range is ephemeral: nothing better
}
