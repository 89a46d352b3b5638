package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func newFileManager(t *testing.T, cfg Config, o Options) *Manager {
	t.Helper()
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	m, err := New(context.Background(), cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// A real crypto/tls client gets the certificate for its SNI: exact name,
// then the wildcard one label up, ECDSA when it supports it, RSA when it
// supports only that, the IP's certificate without SNI; an unknown name
// fails the handshake and is counted as unknown_sni.
func TestFilesPickedBySNI(t *testing.T) {
	ca, dir := newTestCA(t), t.TempDir()
	cfg := Config{Certificates: []FilePair{
		ca.writePair(t, dir, "a", []string{"a.example.com"}, false),
		ca.writePair(t, dir, "wild", []string{"*.wild.example.com"}, false),
		ca.writePair(t, dir, "both-rsa", []string{"both.example.com"}, true),
		ca.writePair(t, dir, "both-ecdsa", []string{"both.example.com"}, false),
		ca.writePair(t, dir, "ip", []string{"127.0.0.1"}, false),
	}}
	m := newFileManager(t, cfg, Options{})
	srv := serveTLS(t, m, "")
	rsaOnly := func(c *tls.Config) {
		c.MaxVersion = tls.VersionTLS12
		c.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}
	}
	tests := []struct {
		sni     string
		mod     func(*tls.Config)
		want    string // a SAN of the certificate served
		wantRSA bool
	}{
		{sni: "a.example.com", want: "a.example.com"},
		{sni: "A.Example.COM", want: "a.example.com"},
		{sni: "x.wild.example.com", want: "*.wild.example.com"},
		{sni: "both.example.com", want: "both.example.com"},
		{sni: "both.example.com", mod: rsaOnly, want: "both.example.com", wantRSA: true},
		{sni: "", want: "127.0.0.1"},
	}
	for _, tt := range tests {
		st, err := dial(srv.addr, tt.sni, ca.pool, tt.mod)
		if err != nil {
			t.Errorf("SNI %q: %v", tt.sni, err)
			continue
		}
		leaf := leafOf(st)
		var names []string
		names = append(names, leaf.DNSNames...)
		for _, ip := range leaf.IPAddresses {
			names = append(names, ip.String())
		}
		if !slices.Contains(names, tt.want) {
			t.Errorf("SNI %q: served %q, want %q", tt.sni, names, tt.want)
		}
		_, isRSA := leaf.PublicKey.(*rsa.PublicKey)
		_, isEC := leaf.PublicKey.(*ecdsa.PublicKey)
		if isRSA != tt.wantRSA || isEC == tt.wantRSA {
			t.Errorf("SNI %q: key %T, want RSA %v", tt.sni, leaf.PublicKey, tt.wantRSA)
		}
	}
	for _, sni := range []string{"unknown.example.com", "deep.x.wild.example.com"} {
		if _, err := dial(srv.addr, sni, ca.pool, nil); err == nil {
			t.Errorf("SNI %q: handshake succeeded, want a failure", sni)
		}
	}
	waitFor(t, "the failed handshakes counted", func() bool {
		return counter(t, m.met.handshakeErrors.WithLabelValues(ReasonUnknownSNI)) == 2
	})
	if got, want := counter(t, m.met.handshakes), float64(len(tests)+2); got != want {
		t.Errorf("handshakes_total = %v, want %v", got, want)
	}
}

// Without SNI and with no certificate for the address dialled, the
// default name's certificate answers: the first file's first name, or
// default_name.
func TestDefaultCertificateWithoutSNI(t *testing.T) {
	ca, dir := newTestCA(t), t.TempDir()
	pairs := []FilePair{
		ca.writePair(t, dir, "a", []string{"a.example.com"}, false),
		ca.writePair(t, dir, "b", []string{"b.example.com"}, false),
	}
	for _, tt := range []struct{ deflt, want string }{{"", "a.example.com"}, {"b.example.com", "b.example.com"}} {
		m := newFileManager(t, Config{Certificates: pairs, DefaultName: tt.deflt}, Options{})
		srv := serveTLS(t, m, "")
		st, err := dial(srv.addr, "", nil, func(c *tls.Config) { c.InsecureSkipVerify = true })
		if err != nil {
			t.Fatalf("default %q: %v", tt.deflt, err)
		}
		if got := leafOf(st).DNSNames; !slices.Equal(got, []string{tt.want}) {
			t.Errorf("default %q: served %q, want %q", tt.deflt, got, tt.want)
		}
	}
}

// reloads is a channel of file reload outcomes for a Manager under test.
type reloads chan [2]int

func (r reloads) hook(ok, failed int) { r <- [2]int{ok, failed} }

// next waits for the next reload and returns its outcome.
func (r reloads) next(t *testing.T) (ok, failed int) {
	t.Helper()
	select {
	case got := <-r:
		return got[0], got[1]
	case <-time.After(wait):
		t.Fatal("timed out waiting for a certificate reload")
	}
	return 0, 0
}

// until waits for reloads until the server serves a certificate with the
// serial of certPEM.
func (r reloads) until(t *testing.T, addr, sni string, ca *testCA, want string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		st, err := dial(addr, sni, ca.pool, nil)
		if err == nil && leafOf(st).SerialNumber.String() == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new certificate (serial %s) is not served: %v", want, err)
		}
		r.next(t)
	}
}

func serialOf(t *testing.T, certPEM []byte) string {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	if b == nil {
		t.Fatal("no PEM certificate")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.String()
}

func (ca *testCA) leafKept(t *testing.T, names []string) (certPEM, keyPEM []byte) {
	return ca.leaf(t, names, false, time.Time{})
}

// Certificate files replaced by rename are served after the reload; a bad
// file keeps the old pair serving, is counted and shown in Status, and the
// next good one is taken.
func TestReloadByRenameKeepsOldPairOnBadFile(t *testing.T) {
	ca, dir := newTestCA(t), t.TempDir()
	p := FilePair{CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key")}
	c1, k1 := ca.leafKept(t, []string{"a.example.com"})
	writeFile(t, p.CertFile, c1)
	writeFile(t, p.KeyFile, k1)
	r := make(reloads, 100)
	m := newFileManager(t, Config{Certificates: []FilePair{p}},
		Options{debounce: 20 * time.Millisecond, poll: 200 * time.Millisecond, onReload: r.hook})
	r.next(t) // the watcher's first call, once its watches are in place
	srv := serveTLS(t, m, "")
	r.until(t, srv.addr, "a.example.com", ca, serialOf(t, c1))

	// Replace both files by rename (write elsewhere, mv over).
	c2, k2 := ca.leafKept(t, []string{"a.example.com"})
	for _, f := range []struct {
		name string
		b    []byte
	}{{p.KeyFile, k2}, {p.CertFile, c2}} {
		writeFile(t, f.name+".tmp", f.b)
		if err := os.Rename(f.name+".tmp", f.name); err != nil {
			t.Fatal(err)
		}
	}
	r.until(t, srv.addr, "a.example.com", ca, serialOf(t, c2))
	okBefore := counter(t, m.met.reloads.WithLabelValues("ok"))
	if okBefore < 1 {
		t.Errorf("reloads_total{result=ok} = %v after a replacement", okBefore)
	}

	// A bad certificate file: the old pair keeps serving.
	writeFile(t, p.CertFile, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"))
	for {
		_, failed := r.next(t)
		if failed > 0 {
			break
		}
	}
	st, err := dial(srv.addr, "a.example.com", ca.pool, nil)
	if err != nil || leafOf(st).SerialNumber.String() != serialOf(t, c2) {
		t.Fatalf("after a bad file: %v, want the previous certificate still served", err)
	}
	if got := counter(t, m.met.reloads.WithLabelValues("error")); got < 1 {
		t.Errorf("reloads_total{result=error} = %v after a bad file", got)
	}
	if s := m.Status(); len(s) != 1 || s[0].Error == "" || s[0].NotAfter.IsZero() {
		t.Errorf("Status after a bad file = %+v, want the old pair with an error", s)
	}

	// A key that does not match the certificate is bad too.
	c3, k3 := ca.leafKept(t, []string{"a.example.com"})
	writeFile(t, p.CertFile, c3)
	for {
		_, failed := r.next(t)
		if failed > 0 {
			break
		}
	}
	if st, err := dial(srv.addr, "a.example.com", ca.pool, nil); err != nil || leafOf(st).SerialNumber.String() != serialOf(t, c2) {
		t.Fatalf("after a mismatched key: %v, want the previous certificate still served", err)
	}
	writeFile(t, p.KeyFile, k3)
	r.until(t, srv.addr, "a.example.com", ca, serialOf(t, c3))
	if s := m.Status(); len(s) != 1 || s[0].Error != "" {
		t.Errorf("Status after a good file = %+v, want no error", s)
	}
}

// A Kubernetes Secret volume: the files are symlinks through ..data to a
// timestamped directory, and an update swaps ..data by rename.
func TestReloadKubernetesDataSwap(t *testing.T) {
	ca, dir := newTestCA(t), t.TempDir()
	version := func(name string, c, k []byte) {
		vd := filepath.Join(dir, name)
		if err := os.Mkdir(vd, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(vd, "tls.crt"), c)
		writeFile(t, filepath.Join(vd, "tls.key"), k)
		if err := os.Symlink(name, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	c1, k1 := ca.leafKept(t, []string{"k.example.com"})
	version("..2026_11_30_1", c1, k1)
	for _, f := range []string{"tls.crt", "tls.key"} {
		if err := os.Symlink(filepath.Join("..data", f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	r := make(reloads, 100)
	p := FilePair{CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key")}
	m := newFileManager(t, Config{Certificates: []FilePair{p}},
		Options{debounce: 20 * time.Millisecond, poll: time.Hour, onReload: r.hook})
	r.next(t)
	srv := serveTLS(t, m, "")
	r.until(t, srv.addr, "k.example.com", ca, serialOf(t, c1))
	c2, k2 := ca.leafKept(t, []string{"k.example.com"})
	version("..2026_11_30_2", c2, k2)
	// The poll interval is an hour: only the file events can bring it.
	r.until(t, srv.addr, "k.example.com", ca, serialOf(t, c2))
}

func TestNewFailsOnBadFiles(t *testing.T) {
	ca, dir := newTestCA(t), t.TempDir()
	good := ca.writePair(t, dir, "good", []string{"a.example.com"}, false)
	other := ca.writePair(t, dir, "other", []string{"b.example.com"}, false)
	tests := []struct {
		name string
		pair FilePair
		want string
	}{
		{"missing", FilePair{CertFile: filepath.Join(dir, "nope.crt"), KeyFile: good.KeyFile}, "no such file"},
		{"mismatched key", FilePair{CertFile: good.CertFile, KeyFile: other.KeyFile}, "private key does not match"},
		{"key as cert", FilePair{CertFile: good.KeyFile, KeyFile: good.KeyFile}, "certs:"},
	}
	for _, tt := range tests {
		_, err := New(context.Background(), Config{Certificates: []FilePair{tt.pair}}, Options{Registerer: prometheus.NewRegistry()})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New = %v, want an error with %q", tt.name, err, tt.want)
		}
		if err := Check(Config{Certificates: []FilePair{tt.pair}}, time.Time{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Check = %v, want an error with %q", tt.name, err, tt.want)
		}
	}
	if _, err := New(context.Background(), Config{}, Options{}); err == nil {
		t.Error("New with no certificates: nil error")
	}
	if err := Check(Config{Certificates: []FilePair{good}}, time.Time{}); err != nil {
		t.Errorf("Check of a good pair: %v", err)
	}
	for _, d := range []string{"x.example.com", "c.example.com"} {
		if err := Check(Config{Certificates: []FilePair{good}, DefaultName: d}, time.Time{}); err == nil || !strings.Contains(err.Error(), "default_name") {
			t.Errorf("Check with default_name %s held by no certificate = %v", d, err)
		}
	}
	if err := Check(Config{Certificates: []FilePair{good}, DefaultName: "A.example.com"}, time.Time{}); err != nil {
		t.Errorf("Check with default_name held by a file: %v", err)
	}
	if err := Check(Config{Certificates: []FilePair{good}}, time.Now().Add(48*time.Hour)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("Check after expiry = %v, want expired", err)
	}
	if err := Check(Config{ACME: ACMEConfig{Names: []string{"a.example.com"}, CARoot: good.KeyFile, Storage: StorageConfig{Dir: dir}}}, time.Time{}); err == nil || !strings.Contains(err.Error(), "acme.ca_root") {
		t.Errorf("Check of a ca_root that is a key = %v", err)
	}
}
