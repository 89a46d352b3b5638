package geo

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Header names geo reads. They are canonical MIME header keys.
const (
	HeaderXForwardedFor           = "X-Forwarded-For"
	HeaderCFConnectingIP          = "CF-Connecting-IP"
	HeaderCloudFrontViewerAddress = "CloudFront-Viewer-Address"
	HeaderXRealIP                 = "X-Real-IP"

	HeaderCloudFrontViewerCountry       = "CloudFront-Viewer-Country"
	HeaderCloudFrontViewerCountryRegion = "CloudFront-Viewer-Country-Region"
	HeaderCloudFrontViewerCity          = "CloudFront-Viewer-City"
	HeaderCFIPCountry                   = "CF-IPCountry"
)

// Config configures client IP resolution and the geo databases. The zero
// value is valid: the TCP peer is always the client, CDN headers are ignored
// and no database is loaded (every lookup is unknown). After Validate it is
// treated as immutable.
type Config struct {
	// TrustedProxies lists the proxies whose forwarding headers are believed,
	// as CIDRs ("10.0.0.0/8", "2001:db8::/32") or bare IPs. Default: none.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ClientIPHeader selects where a trusted proxy puts the client address:
	// "" or "X-Forwarded-For" (default; walked right to left past trusted
	// hops), or one of the single-value headers "CF-Connecting-IP",
	// "CloudFront-Viewer-Address" (IP:port) or "X-Real-IP". Case-insensitive.
	ClientIPHeader string `yaml:"client_ip_header"`
	// CDNHeaders trusts CloudFront-Viewer-Country, -Country-Region and -City
	// and CF-IPCountry when they come from a trusted proxy. Default: false.
	CDNHeaders bool `yaml:"cdn_headers"`
	// Databases are .mmdb files, consulted in order: the first file that
	// knows an address wins. Default: none.
	Databases []string `yaml:"databases"`
}

// Validate reports the first problem in c, or nil.
func (c Config) Validate() error {
	for i, p := range c.TrustedProxies {
		if _, err := parseTrusted(p); err != nil {
			return fmt.Errorf("geo: trusted_proxies[%d]: %w", i, err)
		}
	}
	if _, err := canonicalClientIPHeader(c.ClientIPHeader); err != nil {
		return err
	}
	if len(c.TrustedProxies) == 0 {
		if c.ClientIPHeader != "" && !strings.EqualFold(c.ClientIPHeader, HeaderXForwardedFor) {
			return fmt.Errorf("geo: client_ip_header %q has no effect without trusted_proxies", c.ClientIPHeader)
		}
		if c.CDNHeaders {
			return errors.New("geo: cdn_headers has no effect without trusted_proxies")
		}
	}
	seen := make(map[string]int, len(c.Databases))
	for i, p := range c.Databases {
		if strings.TrimSpace(p) == "" {
			return fmt.Errorf("geo: databases[%d]: empty path", i)
		}
		if j, dup := seen[p]; dup {
			return fmt.Errorf("geo: databases[%d]: %q already listed at databases[%d]", i, p, j)
		}
		seen[p] = i
	}
	return nil
}

// parseTrusted parses a CIDR or a bare IP into a prefix with IPv4-mapped
// addresses unmapped.
func parseTrusted(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q: %w", s, err)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid IP %q: %w", s, err)
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("invalid IP %q: zones are not allowed", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func canonicalClientIPHeader(h string) (string, error) {
	for _, name := range [...]string{HeaderXForwardedFor, HeaderCFConnectingIP, HeaderCloudFrontViewerAddress, HeaderXRealIP} {
		if strings.EqualFold(h, name) {
			return name, nil
		}
	}
	if h == "" {
		return HeaderXForwardedFor, nil
	}
	return "", fmt.Errorf("geo: client_ip_header %q: want one of %q, %q, %q, %q", h,
		HeaderXForwardedFor, HeaderCFConnectingIP, HeaderCloudFrontViewerAddress, HeaderXRealIP)
}
