package sample

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sort"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Addr is a sampled client address and the location its database gives.
type Addr struct {
	IP      netip.Addr
	Country string // ISO code, e.g. "EG"
	City    string // may be empty
}

// Label is "EG/Cairo" or "EG".
func (a Addr) Label() string {
	if a.City == "" {
		return a.Country
	}
	return a.Country + "/" + a.City
}

// GeoPool is a fixed pool of IPv4 addresses drawn from GeoIP databases,
// each located address equally likely, so a location's share of the pool is
// its share of the located IPv4 space. Immutable; safe for concurrent use.
type GeoPool struct {
	addrs []Addr
	// Share is each location label's share of the located address space, as
	// the databases say (not as sampled).
	Share map[string]float64
}

// Len is the pool size.
func (p *GeoPool) Len() int { return len(p.addrs) }

// Sample returns a random address of the pool.
func (p *GeoPool) Sample(r *rand.Rand) Addr { return p.addrs[r.IntN(len(p.addrs))] }

// Addrs returns a copy of the pool.
func (p *GeoPool) Addrs() []Addr { return slices.Clone(p.addrs) }

type loc struct{ country, city string }

// network is one located IPv4 network during sampling.
type netRange struct {
	first uint32
	size  uint64
	loc   loc
}

// NewGeoPool draws size addresses from the IPv4 networks of the given .mmdb
// files (DB-IP/ip-location-db flat records with country_code and city, or
// GeoIP2 records with country.iso_code and city.names.en). Networks without a
// country are skipped. Sampling is exact in proportion to network size: it
// walks the networks twice (once to total the located space, once to place
// size sorted random points), so memory stays O(size) even for multi-million
// network files. IPv6 networks are ignored.
func NewGeoPool(files []string, size int, seed uint64) (*GeoPool, error) {
	if len(files) == 0 {
		return nil, errors.New("sample: no GeoIP files")
	}
	if size <= 0 {
		return nil, errors.New("sample: pool size must be > 0")
	}
	readers := make([]*maxminddb.Reader, 0, len(files))
	defer func() {
		for _, r := range readers {
			_ = r.Close()
		}
	}()
	for _, f := range files {
		r, err := maxminddb.Open(f)
		if err != nil {
			return nil, fmt.Errorf("sample: open GeoIP file: %w", err)
		}
		readers = append(readers, r)
	}

	// Pass 1: total located IPv4 space, and each location's share.
	caches := make([]map[uintptr]loc, len(readers))
	var total uint64
	space := map[loc]uint64{}
	for i, r := range readers {
		caches[i] = map[uintptr]loc{}
		err := walkIPv4(r, caches[i], func(n netRange) {
			total += n.size
			space[n.loc] += n.size
		})
		if err != nil {
			return nil, fmt.Errorf("sample: %s: %w", files[i], err)
		}
	}
	if total == 0 {
		return nil, fmt.Errorf("sample: %v: no IPv4 networks with a country", files)
	}

	// Sorted random points in [0, total).
	rng := rand.New(rand.NewPCG(seed, 0x9e0)) //nolint:gosec // load generation, not crypto
	points := make([]uint64, size)
	for i := range points {
		points[i] = rng.Uint64N(total)
	}
	slices.Sort(points)

	// Pass 2: map points to addresses.
	addrs := make([]Addr, 0, size)
	var base uint64
	next := 0
	for i, r := range readers {
		err := walkIPv4(r, caches[i], func(n netRange) {
			end := base + n.size
			for next < len(points) && points[next] < end {
				ip := n.first + uint32(points[next]-base)
				addrs = append(addrs, Addr{
					IP:      netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}),
					Country: n.loc.country, City: n.loc.city,
				})
				next++
			}
			base = end
		})
		if err != nil {
			return nil, fmt.Errorf("sample: %s: %w", files[i], err)
		}
	}
	if len(addrs) != size {
		return nil, fmt.Errorf("sample: GeoIP files changed while sampling (%d of %d addresses)", len(addrs), size)
	}
	// Shuffle so that sequential draws are not address-ordered.
	rng.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })

	share := make(map[string]float64, len(space))
	for l, n := range space {
		share[Addr{Country: l.country, City: l.city}.Label()] += float64(n) / float64(total)
	}
	return &GeoPool{addrs: addrs, Share: share}, nil
}

// TopShares returns the n largest shares, largest first.
func (p *GeoPool) TopShares(n int) []LabelShare {
	out := make([]LabelShare, 0, len(p.Share))
	for l, s := range p.Share {
		out = append(out, LabelShare{l, s})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Share != out[j].Share {
			return out[i].Share > out[j].Share
		}
		return out[i].Label < out[j].Label
	})
	return out[:min(n, len(out))]
}

// LabelShare is a location label and its share.
type LabelShare struct {
	Label string  `json:"location"`
	Share float64 `json:"share"`
}

func walkIPv4(r *maxminddb.Reader, cache map[uintptr]loc, fn func(netRange)) error {
	for res := range r.Networks() {
		if err := res.Err(); err != nil {
			return err
		}
		p := res.Prefix()
		if !p.Addr().Is4() {
			continue
		}
		off := res.Offset()
		l, ok := cache[off]
		if !ok {
			l = decodeLoc(res)
			cache[off] = l
		}
		if l.country == "" {
			continue
		}
		a := p.Masked().Addr().As4()
		fn(netRange{
			first: uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]),
			size:  uint64(1) << (32 - p.Bits()),
			loc:   l,
		})
	}
	return nil
}

func decodeLoc(res maxminddb.Result) loc {
	var l loc
	if err := res.DecodePath(&l.country, "country_code"); err != nil || l.country == "" {
		_ = res.DecodePath(&l.country, "country", "iso_code")
	}
	if err := res.DecodePath(&l.city, "city"); err != nil || l.city == "" {
		l.city = ""
		_ = res.DecodePath(&l.city, "city", "names", "en")
	}
	return l
}
