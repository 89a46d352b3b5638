package testenv

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// PebbleOptions says how to start a Pebble.
type PebbleOptions struct {
	// HTTPPort and TLSPort are the ports Pebble's validation authority
	// connects to for HTTP-01 and TLS-ALPN-01 challenges (on the address
	// the name resolves to: 127.0.0.1 for "localhost"). 0: the test does
	// not solve that challenge type (Pebble's defaults, 5002 and 5001).
	HTTPPort, TLSPort int
	// Validity is the lifetime of the certificates Pebble issues, in whole
	// seconds (Pebble's certificateValidityPeriod). 0: Pebble's default
	// (5 years).
	Validity time.Duration
	// OCSPResponderURL is the OCSP responder named in the certificates
	// Pebble issues (their Authority Information Access). Pebble runs no
	// responder: a test serves one at this URL, answering from CertStatus
	// and signing with Intermediate. "": the certificates name none.
	OCSPResponderURL string
}

// Pebble is a private ACME server (Let's Encrypt's Pebble test CA) started
// by NewPebble for one test. Its methods are safe for concurrent use.
type Pebble struct {
	// Directory is the ACME directory URL (https on loopback).
	Directory string
	// CARootFile is a PEM file holding the CA that signed Pebble's own
	// HTTPS certificate: ACME clients trust it to talk to Directory. It is
	// not the root of the certificates Pebble issues (see Roots).
	CARootFile string
	// CARoot is CARootFile's certificate in a pool.
	CARoot *x509.CertPool

	mgmt   string // management interface, https://host:port
	mu     sync.Mutex
	issued int // "Issued certificate" lines Pebble logged
}

// NewPebble starts a private Pebble (the Debian package's /usr/bin/pebble,
// or pebble in PATH) on loopback ports with a freshly generated HTTPS
// certificate, without random validation sleeps or nonce rejections, and
// returns once its directory answers. It is stopped when the test ends. It
// fails the test when pebble is missing (scripts/deps.sh installs it).
func NewPebble(t testing.TB, o PebbleOptions) *Pebble {
	t.Helper()
	bin, err := exec.LookPath("pebble")
	if err != nil {
		t.Fatalf("testenv: pebble not found: %v (scripts/deps.sh installs the Debian package pebble)", err)
	}
	dir := t.TempDir()
	caPEM, certPEM, keyPEM, err := pebbleServerCert()
	if err != nil {
		t.Fatalf("testenv: pebble certificate: %v", err)
	}
	p := &Pebble{CARootFile: filepath.Join(dir, "ca.pem"), CARoot: x509.NewCertPool()}
	p.CARoot.AppendCertsFromPEM(caPEM)
	files := map[string][]byte{"ca.pem": caPEM, "cert.pem": certPEM, "key.pem": keyPEM}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addr, mgmt := FreeAddr(t), FreeAddr(t)
	cfg := map[string]any{
		"listenAddress":                  addr,
		"managementListenAddress":        mgmt,
		"certificate":                    filepath.Join(dir, "cert.pem"),
		"privateKey":                     filepath.Join(dir, "key.pem"),
		"httpPort":                       orDefault(o.HTTPPort, 5002),
		"tlsPort":                        orDefault(o.TLSPort, 5001),
		"ocspResponderURL":               o.OCSPResponderURL,
		"externalAccountBindingRequired": false,
	}
	if o.Validity > 0 {
		cfg["certificateValidityPeriod"] = uint64(o.Validity / time.Second)
	}
	b, err := json.Marshal(map[string]any{"pebble": cfg})
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", cfgFile)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = dieWithTests()
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start pebble: %v", err)
	}
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		p.readLog(out)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		<-logDone
	})
	p.Directory = "https://" + addr + "/dir"
	p.mgmt = "https://" + mgmt
	if err := p.waitReady(20 * time.Second); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return p
}

// readLog counts issuances in Pebble's output and passes the lines to the
// test log (while the test runs) for debugging.
func (p *Pebble) readLog(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "Issued certificate serial") {
			p.mu.Lock()
			p.issued++
			p.mu.Unlock()
		}
		if os.Getenv("EDGEGATE_TEST_PEBBLE_LOG") != "" {
			fmt.Fprintln(os.Stderr, "pebble:", line)
		}
	}
	io.Copy(io.Discard, r)
}

// Issued returns how many certificates Pebble has issued so far (the
// "Issued certificate" lines of its log, which it writes before it answers
// the finalize request).
func (p *Pebble) Issued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.issued
}

func (p *Pebble) client() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: p.CARoot},
	}}
}

func (p *Pebble) waitReady(d time.Duration) error {
	c := p.client()
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		resp, err := c.Get(p.Directory)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("pebble at %s did not answer in %s: %v", p.Directory, d, last)
}

// RootsPEM returns the root certificate of the certificates this Pebble
// issues (its management interface's /roots/0), which a client verifying
// an issued chain trusts.
func (p *Pebble) RootsPEM(t testing.TB) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.mgmt+"/roots/0", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.client().Do(req)
	if err != nil {
		t.Fatalf("testenv: pebble roots: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("testenv: pebble roots: %s %v", resp.Status, err)
	}
	return b
}

// Roots returns RootsPEM in a pool.
func (p *Pebble) Roots(t testing.TB) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(p.RootsPEM(t)) {
		t.Fatal("testenv: pebble roots: no certificate")
	}
	return pool
}

// Intermediate returns the intermediate CA that signs the certificates
// this Pebble issues and its private key (the management interface's
// /intermediates/0 and /intermediate-keys/0): what an OCSP responder for
// them signs its answers with.
func (p *Pebble) Intermediate(t testing.TB) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	certPEM, err := p.get(ctx, "/intermediates/0")
	if err != nil {
		t.Fatalf("testenv: pebble intermediate: %v", err)
	}
	keyPEM, err := p.get(ctx, "/intermediate-keys/0")
	if err != nil {
		t.Fatalf("testenv: pebble intermediate key: %v", err)
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		t.Fatal("testenv: pebble intermediate: no PEM block")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatalf("testenv: pebble intermediate: %v", err)
	}
	var key any
	switch kb.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(kb.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(kb.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(kb.Bytes)
	}
	if err != nil {
		t.Fatalf("testenv: pebble intermediate key (%s): %v", kb.Type, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		t.Fatalf("testenv: pebble intermediate key: %T is no crypto.Signer", key)
	}
	return cert, signer
}

// CertStatus is what Pebble knows of a certificate it issued.
type CertStatus struct {
	Revoked   bool
	RevokedAt time.Time
	Reason    int // RFC 5280 CRLReason, when Revoked
}

// CertStatus asks Pebble's management interface
// (/cert-status-by-serial/<hex>) for the status of the certificate with
// this serial number. It returns an error (not a test failure) so that an
// OCSP responder's handler can call it.
func (p *Pebble) CertStatus(ctx context.Context, serial *big.Int) (CertStatus, error) {
	b, err := p.get(ctx, "/cert-status-by-serial/"+serial.Text(16))
	if err != nil {
		return CertStatus{}, err
	}
	var st struct {
		Status    string
		Reason    *int
		RevokedAt string // Go's time.Time.String
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return CertStatus{}, fmt.Errorf("testenv: pebble cert status: %w", err)
	}
	switch st.Status {
	case "Valid":
		return CertStatus{}, nil
	case "Revoked":
		cs := CertStatus{Revoked: true}
		if cs.RevokedAt, err = time.Parse("2006-01-02 15:04:05.999999999 -0700 MST", st.RevokedAt); err != nil {
			return CertStatus{}, fmt.Errorf("testenv: pebble cert status: revoked at %q: %w", st.RevokedAt, err)
		}
		if st.Reason != nil {
			cs.Reason = *st.Reason
		}
		return cs, nil
	}
	return CertStatus{}, fmt.Errorf("testenv: pebble cert status %q for serial %x", st.Status, serial)
}

// get reads a path of Pebble's management interface.
func (p *Pebble) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.mgmt+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("pebble %s: %s: %s", path, resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

// FreePort returns a loopback TCP port that was free just now.
func FreePort(t testing.TB) int {
	t.Helper()
	_, port, err := net.SplitHostPort(FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func orDefault(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

// pebbleServerCert makes a CA and, signed by it, a certificate for
// 127.0.0.1 and localhost, all PEM.
func pebbleServerCert() (caPEM, certPEM, keyPEM []byte, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "edgegate test Pebble HTTPS CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	ca, err = x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
}
