package certs

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"
)

// Check is `edgegate check`'s look at the TLS section: Validate, then each
// certificate file readable with a key that matches it, holding at least
// one name and not expired at now (zero: the current time), and
// acme.ca_root readable and a PEM certificate. It reports every problem at
// once and contacts nothing.
func Check(c Config, now time.Time) error {
	if now.IsZero() {
		now = time.Now()
	}
	errs := []error{c.Validate()}
	var loaded fileSet
	loaded.exact, loaded.wild, loaded.ips = map[string][]*tls.Certificate{}, map[string][]*tls.Certificate{}, map[netip.Addr][]*tls.Certificate{}
	for i, p := range c.Certificates {
		if p.CertFile == "" || p.KeyFile == "" {
			continue // Validate said so
		}
		cert, _, _, err := loadPair(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("certificates[%d]: %w", i, err))
			continue
		}
		loaded.index(cert)
		if now.After(cert.Leaf.NotAfter) {
			errs = append(errs, fmt.Errorf("certs: certificates[%d]: %s expired at %s", i, p.CertFile, cert.Leaf.NotAfter.UTC().Format(time.RFC3339)))
		}
		if now.Before(cert.Leaf.NotBefore) {
			errs = append(errs, fmt.Errorf("certs: certificates[%d]: %s is not valid before %s", i, p.CertFile, cert.Leaf.NotBefore.UTC().Format(time.RFC3339)))
		}
	}
	if d := normalize(c.DefaultName); d != "" && len(c.Certificates) > 0 && !containsName(c.ACME.Names, d) {
		ip, err := netip.ParseAddr(d)
		if len(loaded.lookup(d)) == 0 && (err != nil || len(loaded.ips[ip.Unmap()]) == 0) {
			errs = append(errs, fmt.Errorf("certs: default_name %q: no certificate file or acme name holds it", c.DefaultName))
		}
	}
	if f := c.ACME.CARoot; f != "" && len(c.ACME.Names) > 0 {
		if err := checkPEMCert(f); err != nil {
			errs = append(errs, fmt.Errorf("certs: acme.ca_root: %w", err))
		}
	}
	return errors.Join(errs...)
}

func checkPEMCert(file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return fmt.Errorf("%s: no PEM certificate", file)
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}
