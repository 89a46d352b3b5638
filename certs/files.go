package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"time"
)

// fileCert is one configured pair as last loaded successfully, with the
// outcome of the last attempt.
type fileCert struct {
	pair     FilePair
	cert     *tls.Certificate // Leaf set
	certPEM  []byte           // what was loaded, to tell a change
	keyPEM   []byte
	loadedAt time.Time
	lastErr  error // the last reload's failure (the pair above still serves), or nil
}

// fileSet is the immutable snapshot of the file certificates that
// handshakes read (Manager.files): built whole by loadFiles, swapped, never
// modified.
type fileSet struct {
	certs []*fileCert                       // in config order
	exact map[string][]*tls.Certificate     // normalized DNS name → certificates, ECDSA first
	wild  map[string][]*tls.Certificate     // "example.com" for "*.example.com"
	ips   map[netip.Addr][]*tls.Certificate // IP SANs
	first string                            // the first certificate's first name
}

// loadPair reads and parses a pair: the key must match the certificate,
// which must hold at least one name.
func loadPair(p FilePair) (cert *tls.Certificate, certPEM, keyPEM []byte, err error) {
	certPEM, err = os.ReadFile(p.CertFile)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("certs: %w", err)
	}
	keyPEM, err = os.ReadFile(p.KeyFile)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("certs: %w", err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("certs: %s with %s: %w", p.CertFile, p.KeyFile, err)
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, nil, nil, fmt.Errorf("certs: %s: %w", p.CertFile, err)
		}
	}
	if len(c.Leaf.DNSNames) == 0 && len(c.Leaf.IPAddresses) == 0 {
		return nil, nil, nil, fmt.Errorf("certs: %s: the certificate holds no DNS name or IP address (SAN)", p.CertFile)
	}
	return &c, certPEM, keyPEM, nil
}

// loadFiles builds a new fileSet: each pair is loaded again; a pair that
// fails keeps its entry in prev (if any) and records the error. With no
// prev (the first load) a failure is an error. changed counts the pairs
// whose bytes differ from prev's, failed those that failed to load.
func loadFiles(pairs []FilePair, prev *fileSet, now time.Time) (set *fileSet, changed, failed int, err error) {
	set = &fileSet{exact: map[string][]*tls.Certificate{}, wild: map[string][]*tls.Certificate{},
		ips: map[netip.Addr][]*tls.Certificate{}}
	var errs []error
	for i, p := range pairs {
		var old *fileCert
		if prev != nil && i < len(prev.certs) && prev.certs[i].pair == p {
			old = prev.certs[i]
		}
		c, certPEM, keyPEM, lerr := loadPair(p)
		switch {
		case lerr == nil && old != nil && bytes.Equal(certPEM, old.certPEM) && bytes.Equal(keyPEM, old.keyPEM):
			nc := *old
			nc.lastErr = nil
			set.certs = append(set.certs, &nc)
		case lerr == nil:
			if old != nil {
				changed++
			}
			set.certs = append(set.certs, &fileCert{pair: p, cert: c, certPEM: certPEM, keyPEM: keyPEM, loadedAt: now})
		case old != nil:
			// The old pair keeps serving; a partly written pair is read
			// again at the next change.
			failed++
			nc := *old
			nc.lastErr = lerr
			set.certs = append(set.certs, &nc)
		default:
			failed++
			errs = append(errs, lerr)
		}
	}
	if prev == nil && len(errs) > 0 {
		return nil, 0, failed, errors.Join(errs...)
	}
	for _, fc := range set.certs {
		set.index(fc.cert)
	}
	for _, m := range []map[string][]*tls.Certificate{set.exact, set.wild} {
		for _, cs := range m {
			slices.SortStableFunc(cs, ecdsaFirst)
		}
	}
	for _, cs := range set.ips {
		slices.SortStableFunc(cs, ecdsaFirst)
	}
	return set, changed, failed, nil
}

func (s *fileSet) index(c *tls.Certificate) {
	for _, n := range c.Leaf.DNSNames {
		n = normalize(n)
		if s.first == "" {
			s.first = n
		}
		if len(n) > 2 && n[:2] == "*." {
			s.wild[n[2:]] = append(s.wild[n[2:]], c)
		} else {
			s.exact[n] = append(s.exact[n], c)
		}
	}
	for _, ip := range c.Leaf.IPAddresses {
		a, ok := netip.AddrFromSlice(ip)
		if !ok {
			continue
		}
		a = a.Unmap()
		if s.first == "" {
			s.first = a.String()
		}
		s.ips[a] = append(s.ips[a], c)
	}
}

// ecdsaFirst orders ECDSA certificates before others (smaller, faster
// handshakes), keeping config order otherwise.
func ecdsaFirst(a, b *tls.Certificate) int {
	_, ea := a.Leaf.PublicKey.(*ecdsa.PublicKey)
	_, eb := b.Leaf.PublicKey.(*ecdsa.PublicKey)
	switch {
	case ea && !eb:
		return -1
	case eb && !ea:
		return 1
	}
	return 0
}

// lookup returns the certificates for a normalized DNS name: exact match
// first, then the wildcard one label up.
func (s *fileSet) lookup(name string) []*tls.Certificate {
	if cs := s.exact[name]; len(cs) > 0 {
		return cs
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '.' {
			return s.wild[name[i+1:]]
		}
	}
	return nil
}

// pick returns the first certificate the client supports (ECDSA first),
// else the first one (the handshake then fails on the client's terms).
func pick(hello *tls.ClientHelloInfo, cs []*tls.Certificate) *tls.Certificate {
	if len(cs) == 1 {
		return cs[0]
	}
	for _, c := range cs {
		if hello.SupportsCertificate(c) == nil {
			return c
		}
	}
	return cs[0]
}
