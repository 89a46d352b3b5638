package geo

import (
	"bytes"
	"net/netip"
)

// The parsers in this file read header bytes without allocating: netip's own
// ParseAddr needs a string (a copy of the header) and allocates an error
// value for every malformed entry, which a hostile client can send at will.
// parseAddr accepts exactly the zone-less addresses netip.ParseAddr accepts;
// FuzzParseAddr checks that.

// parseAddr parses a bare IPv4 or IPv6 address (no port, brackets or zone).
func parseAddr(b []byte) (netip.Addr, bool) {
	for _, c := range b {
		switch c {
		case '.':
			return parseIPv4(b)
		case ':':
			return parseIPv6(b)
		}
	}
	return netip.Addr{}, false
}

// parseIPv4 parses dotted-quad decimal without leading zeros.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var ip [4]byte
	i, n := 0, 0
	for i < 4 {
		if n >= len(b) || b[n] < '0' || b[n] > '9' {
			return netip.Addr{}, false
		}
		v, start := 0, n
		for n < len(b) && b[n] >= '0' && b[n] <= '9' {
			if n-start == 3 || (n > start && b[start] == '0') {
				return netip.Addr{}, false
			}
			v = v*10 + int(b[n]-'0')
			n++
		}
		if v > 255 {
			return netip.Addr{}, false
		}
		ip[i] = byte(v)
		i++
		if i < 4 {
			if n >= len(b) || b[n] != '.' {
				return netip.Addr{}, false
			}
			n++
		}
	}
	if n != len(b) {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(ip), true
}

func hexVal(c byte) (uint32, bool) {
	switch {
	case c >= '0' && c <= '9':
		return uint32(c - '0'), true
	case c >= 'a' && c <= 'f':
		return uint32(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return uint32(c-'A') + 10, true
	}
	return 0, false
}

// parseIPv6 follows net/netip's parseIPv6, minus zones.
func parseIPv6(s []byte) (netip.Addr, bool) {
	var ip [16]byte
	ellipsis := -1
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		ellipsis = 0
		s = s[2:]
		if len(s) == 0 {
			return netip.IPv6Unspecified(), true
		}
	}
	i := 0
	for i < 16 {
		off := 0
		var acc uint32
		for ; off < len(s); off++ {
			v, ok := hexVal(s[off])
			if !ok {
				break
			}
			if off > 3 {
				return netip.Addr{}, false
			}
			acc = acc<<4 + v
		}
		if off == 0 {
			return netip.Addr{}, false
		}
		if off < len(s) && s[off] == '.' {
			if ellipsis < 0 && i != 12 {
				return netip.Addr{}, false
			}
			if i+4 > 16 {
				return netip.Addr{}, false
			}
			v4, ok := parseIPv4(s)
			if !ok {
				return netip.Addr{}, false
			}
			b4 := v4.As4()
			copy(ip[i:], b4[:])
			i += 4
			s = nil
			break
		}
		ip[i] = byte(acc >> 8)
		ip[i+1] = byte(acc)
		i += 2
		s = s[off:]
		if len(s) == 0 {
			break
		}
		if s[0] != ':' || len(s) == 1 {
			return netip.Addr{}, false
		}
		s = s[1:]
		if s[0] == ':' {
			if ellipsis >= 0 {
				return netip.Addr{}, false
			}
			ellipsis = i
			s = s[1:]
			if len(s) == 0 {
				break
			}
		}
	}
	if len(s) != 0 {
		return netip.Addr{}, false
	}
	if i < 16 {
		if ellipsis < 0 {
			return netip.Addr{}, false
		}
		n := 16 - i
		for j := i - 1; j >= ellipsis; j-- {
			ip[j+n] = ip[j]
		}
		clear(ip[ellipsis : ellipsis+n])
	} else if ellipsis >= 0 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16(ip), true
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

func trimOWS(b []byte) []byte {
	for len(b) > 0 && isOWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isOWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isPort(b []byte) bool {
	if len(b) == 0 || len(b) > 5 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseHostPort parses one forwarded address: "1.2.3.4", "1.2.3.4:80",
// "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:80", optionally wrapped in
// double quotes, with surrounding whitespace. If v6Port is set, an
// unbracketed IPv6 address followed by ":port" is also accepted (CloudFront-
// Viewer-Address writes IPv6 that way); the last group is then always taken
// as the port. The result is unmapped.
func parseHostPort(b []byte, v6Port bool) (netip.Addr, bool) {
	b = trimOWS(b)
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = trimOWS(b[1 : len(b)-1])
	}
	if len(b) == 0 {
		return netip.Addr{}, false
	}
	if b[0] == '[' {
		end := bytes.IndexByte(b, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		rest := b[end+1:]
		if len(rest) > 0 && (rest[0] != ':' || !isPort(rest[1:])) {
			return netip.Addr{}, false
		}
		a, ok := parseIPv6(b[1:end])
		return a.Unmap(), ok
	}
	last := bytes.LastIndexByte(b, ':')
	switch {
	case last < 0:
		return parseIPv4(b)
	case bytes.IndexByte(b, ':') == last:
		// IPv4 with port (a one-colon IPv6 address does not exist).
		if !isPort(b[last+1:]) {
			return netip.Addr{}, false
		}
		return parseIPv4(b[:last])
	case v6Port:
		if !isPort(b[last+1:]) {
			return netip.Addr{}, false
		}
		a, ok := parseIPv6(b[:last])
		return a.Unmap(), ok
	}
	a, ok := parseIPv6(b)
	return a.Unmap(), ok
}
