package geo

import (
	"encoding/binary"
	"net/netip"
	"slices"

	"go4.org/netipx"
)

// trustSet answers "is this address a trusted proxy?" on the hot path. It
// holds the merged ranges of the configured prefixes as integers, so a check
// is a short binary search over uint32 (IPv4) or uint64 pairs (IPv6)
// instead of netip comparisons; a CloudFront-sized list (~150 prefixes)
// takes 8 steps. Immutable after construction.
type trustSet struct {
	v4 []range4
	v6 []range6
}

type range4 struct{ lo, hi uint32 }

type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

type range6 struct{ lo, hi u128 }

func newTrustSet(prefixes []netip.Prefix) (trustSet, error) {
	var b netipx.IPSetBuilder
	for _, p := range prefixes {
		b.AddPrefix(p)
	}
	set, err := b.IPSet()
	if err != nil {
		return trustSet{}, err
	}
	var s trustSet
	for _, r := range set.Ranges() { // sorted, merged, IPv4 before IPv6
		from, to := r.From(), r.To()
		if from.Is4() {
			f, t := from.As4(), to.As4()
			s.v4 = append(s.v4, range4{binary.BigEndian.Uint32(f[:]), binary.BigEndian.Uint32(t[:])})
			continue
		}
		s.v6 = append(s.v6, range6{addr128(from), addr128(to)})
	}
	return s, nil
}

func addr128(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// contains reports whether ip (unmapped, zone-less) is in the set.
func (s *trustSet) contains(ip netip.Addr) bool {
	if ip.Is4() {
		b := ip.As4()
		v := binary.BigEndian.Uint32(b[:])
		if len(s.v4) <= 8 { // the usual short list: a scan beats a search
			for _, r := range s.v4 {
				if v <= r.hi {
					return r.lo <= v
				}
			}
			return false
		}
		// The first range with hi >= v is the only one that can hold v.
		i, _ := slices.BinarySearchFunc(s.v4, v, func(r range4, v uint32) int {
			if r.hi < v {
				return -1
			}
			return 1
		})
		return i < len(s.v4) && s.v4[i].lo <= v
	}
	if !ip.Is6() {
		return false
	}
	v := addr128(ip)
	i, _ := slices.BinarySearchFunc(s.v6, v, func(r range6, v u128) int {
		if r.hi.less(v) {
			return -1
		}
		return 1
	})
	return i < len(s.v6) && !v.less(s.v6[i].lo)
}
