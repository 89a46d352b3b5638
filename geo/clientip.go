package geo

import (
	"bytes"
	"fmt"
	"net/netip"
)

// Headers is the read-only view of request headers geo needs.
// *fasthttp.RequestHeader satisfies it. Peek returns nil when the header is
// absent; geo never retains the returned slice.
type Headers interface {
	Peek(key string) []byte
}

// IPSource says where ClientIP found the client address.
type IPSource uint8

const (
	// IPFromPeer: the TCP peer address.
	IPFromPeer IPSource = iota
	// IPFromXFF: X-Forwarded-For, sent by a trusted peer.
	IPFromXFF
	// IPFromHeader: the configured single-value header, sent by a trusted peer.
	IPFromHeader
)

// String returns "peer", "x-forwarded-for" or "header"; it is meant for logs
// and metric labels.
func (s IPSource) String() string {
	switch s {
	case IPFromPeer:
		return "peer"
	case IPFromXFF:
		return "x-forwarded-for"
	case IPFromHeader:
		return "header"
	}
	return fmt.Sprintf("IPSource(%d)", uint8(s))
}

type headerMode uint8

const (
	modeXFF headerMode = iota
	modeSingle
	modeCloudFront
)

// IPResolver decides which address is the client and reads CDN geo headers.
// It is immutable after NewIPResolver and safe for concurrent use.
type IPResolver struct {
	trusted    trustSet
	header     string
	mode       headerMode
	cdnHeaders bool
}

// NewIPResolver validates cfg and builds a resolver. Only the TrustedProxies,
// ClientIPHeader and CDNHeaders fields are used.
func NewIPResolver(cfg Config) (*IPResolver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	prefixes := make([]netip.Prefix, 0, len(cfg.TrustedProxies))
	for _, s := range cfg.TrustedProxies {
		p, err := parseTrusted(s)
		if err != nil { // unreachable after Validate; kept for safety
			return nil, fmt.Errorf("geo: trusted_proxies: %w", err)
		}
		prefixes = append(prefixes, p)
	}
	set, err := newTrustSet(prefixes)
	if err != nil {
		return nil, fmt.Errorf("geo: trusted_proxies: %w", err)
	}
	header, _ := canonicalClientIPHeader(cfg.ClientIPHeader)
	mode := modeSingle
	switch header {
	case HeaderXForwardedFor:
		mode = modeXFF
	case HeaderCloudFrontViewerAddress:
		mode = modeCloudFront
	}
	return &IPResolver{
		trusted:    set,
		header:     header,
		mode:       mode,
		cdnHeaders: cfg.CDNHeaders,
	}, nil
}

// Trusted reports whether ip is inside trusted_proxies. IPv4-mapped IPv6
// addresses match their IPv4 form; zones are ignored.
func (r *IPResolver) Trusted(ip netip.Addr) bool {
	return r.trusted.contains(ip.Unmap())
}

// ClientIP returns the client address for a request that arrived from peer.
//
// The peer is the client unless it is a trusted proxy. Then, by default,
// X-Forwarded-For is walked right to left and the first address that is not
// trusted is the client (nginx's real_ip_recursive on); if every address is
// trusted the leftmost one is. An entry that is not an address ("unknown",
// "1.2.3.4:http", "01.2.3.4") ends the walk, as in nginx: the hop that
// wrote it is trusted but did not know its client, and everything left of
// it came from parties nobody vouches for, so the client is the last
// address reached (a trusted hop), or the peer when the rightmost entry is
// the bad one. Empty list elements are skipped (RFC 9110 section 5.6.1).
// The value is the whole field: a request with several X-Forwarded-For
// lines must be given them joined in order with ", " (RFC 9110 section
// 5.3). With ClientIPHeader set to a single-value header, that header's
// address is used instead. Entries may carry ports ("1.2.3.4:80",
// "[2001:db8::1]:80"). When the headers yield nothing usable, the peer is
// the client. IPv4-mapped IPv6 addresses are unmapped and zones dropped.
//
// ClientIP does not allocate and does not retain h or its bytes.
func (r *IPResolver) ClientIP(peer netip.Addr, h Headers) (netip.Addr, IPSource) {
	peer = peer.Unmap().WithZone("")
	if h == nil || !r.trusted.contains(peer) {
		return peer, IPFromPeer
	}
	switch r.mode {
	case modeSingle, modeCloudFront:
		if a, ok := parseHostPort(h.Peek(r.header), r.mode == modeCloudFront); ok {
			return a, IPFromHeader
		}
		return peer, IPFromPeer
	}
	if a, ok := r.walkXFF(h.Peek(HeaderXForwardedFor)); ok {
		return a, IPFromXFF
	}
	return peer, IPFromPeer
}

// walkXFF returns the rightmost untrusted address in an X-Forwarded-For
// value, walking no further left than its first (from the right)
// unparsable entry; else the last (leftmost) trusted address it reached.
func (r *IPResolver) walkXFF(v []byte) (netip.Addr, bool) {
	var last netip.Addr
	for end := len(v); end > 0; {
		start := bytes.LastIndexByte(v[:end], ',') // -1 for the leftmost entry
		e := v[start+1 : end]
		end = start
		if len(trimOWS(e)) == 0 {
			continue // an empty list element
		}
		a, ok := parseHostPort(e, false)
		if !ok {
			break // written by a hop that is not trusted to name the client
		}
		if !r.trusted.contains(a) {
			return a, true
		}
		last = a
	}
	return last, last.IsValid()
}
