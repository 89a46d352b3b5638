package certs

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"
	"golang.org/x/crypto/ocsp"

	"github.com/edgegate/edgegate/internal/testenv"
)

// ocspResponder is the OCSP responder Pebble lacks: it answers from
// Pebble's certificate status (testenv.Pebble.CertStatus), signed with
// Pebble's intermediate key (the issuer signs directly, no delegated
// responder certificate). Its answers are valid for validity, so that
// certmagic, which fetches a new one once half of that has passed, asks
// again within a few seconds.
type ocspResponder struct {
	url      string
	ln       net.Listener
	validity time.Duration
	pebble   *testenv.Pebble
	issuer   *x509.Certificate
	key      crypto.Signer
	revoked  atomic.Int64 // answers saying Revoked
}

// newOCSPResponder binds the responder's port, so that its URL can go into
// Pebble's configuration; serve starts it once Pebble runs.
func newOCSPResponder(t *testing.T, validity time.Duration) *ocspResponder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &ocspResponder{url: "http://" + ln.Addr().String() + "/", ln: ln, validity: validity}
}

func (r *ocspResponder) serve(t *testing.T, p *testenv.Pebble) {
	t.Helper()
	r.pebble = p
	r.issuer, r.key = p.Intermediate(t)
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: r}
	go srv.Serve(r.ln)
	t.Cleanup(func() { srv.Close() })
}

// ServeHTTP answers a POSTed OCSP request (RFC 6960 appendix A.1, the form
// certmagic sends).
func (r *ocspResponder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Content-Type", "application/ocsp-response")
	body, err := io.ReadAll(io.LimitReader(req.Body, 64<<10))
	if err != nil || req.Method != http.MethodPost {
		w.Write(ocsp.MalformedRequestErrorResponse)
		return
	}
	oreq, err := ocsp.ParseRequest(body)
	if err != nil {
		w.Write(ocsp.MalformedRequestErrorResponse)
		return
	}
	st, err := r.pebble.CertStatus(req.Context(), oreq.SerialNumber)
	if err != nil {
		w.Write(ocsp.UnauthorizedErrorResponse) // not one of Pebble's certificates
		return
	}
	now := time.Now().Truncate(time.Second)
	tmpl := ocsp.Response{Status: ocsp.Good, SerialNumber: oreq.SerialNumber,
		ThisUpdate: now, NextUpdate: now.Add(r.validity)}
	if st.Revoked {
		tmpl.Status, tmpl.RevokedAt, tmpl.RevocationReason = ocsp.Revoked, st.RevokedAt, st.Reason
		r.revoked.Add(1)
	}
	der, err := ocsp.CreateResponse(r.issuer, r.issuer, tmpl, r.key)
	if err != nil {
		w.Write(ocsp.InternalErrorErrorResponse)
		return
	}
	w.Write(der)
}

// stapled handshakes with SNI localhost, verifying the chain against
// roots, and returns the leaf and the OCSP staple it came with, checked
// against the issuer (the chain's second certificate).
func stapled(t *testing.T, addr string, roots *x509.CertPool) (*x509.Certificate, *ocsp.Response) {
	t.Helper()
	st, err := dial(addr, "localhost", roots, nil)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if len(st.VerifiedChains) == 0 || len(st.VerifiedChains[0]) < 2 {
		t.Fatalf("verified chains %v", st.VerifiedChains)
	}
	leaf := leafOf(st)
	if len(st.OCSPResponse) == 0 {
		t.Fatalf("certificate %x: no OCSP staple in the handshake", leaf.SerialNumber)
	}
	resp, err := ocsp.ParseResponseForCert(st.OCSPResponse, leaf, st.VerifiedChains[0][1])
	if err != nil {
		t.Fatalf("certificate %x: OCSP staple: %v", leaf.SerialNumber, err)
	}
	return leaf, resp
}

// A certificate revoked at the CA (out of band: with the ACME account,
// as an operator or the CA would, leaving storage alone) is found revoked
// by the OCSP check and replaced at once by a new one, with a Good staple;
// the revocation is logged and counted, and the replacement counted as a
// renewal.
func TestACMERevokedCertificateReplaced(t *testing.T) {
	resp := newOCSPResponder(t, 2*time.Second)
	e := newACMEEnvWith(t, testenv.PebbleOptions{OCSPResponderURL: resp.url})
	resp.serve(t, e.pebble)
	m := e.manager(t, e.config([]string{ChallengeHTTP01}, StorageConfig{Dir: t.TempDir()}), nil)
	serveHTTPChallenges(t, e.httpAddr, m)
	srv := serveTLS(t, m, "")
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.events.waitCount(t, "cached_managed_cert", 1)
	roots := e.pebble.Roots(t)

	first, staple := stapled(t, srv.addr, roots)
	if staple.Status != ocsp.Good || staple.SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Fatalf("first certificate %x: staple status %d for serial %x, want Good (%d)",
			first.SerialNumber, staple.Status, staple.SerialNumber, ocsp.Good)
	}
	if got := first.OCSPServer; len(got) != 1 || got[0] != resp.url {
		t.Errorf("OCSP responder in the certificate %q, want %q", got, resp.url)
	}

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: first.Raw})
	if err := m.acme.issuer.Revoke(ctx, certmagic.CertificateResource{CertificatePEM: certPEM}, acme.ReasonSuperseded); err != nil {
		t.Fatalf("revoke at Pebble: %v", err)
	}
	if st, err := e.pebble.CertStatus(ctx, first.SerialNumber); err != nil || !st.Revoked || st.Reason != acme.ReasonSuperseded ||
		time.Since(st.RevokedAt).Abs() > time.Minute {
		t.Fatalf("Pebble's status after the revocation: %+v, %v", st, err)
	}

	e.events.waitCount(t, "cert_ocsp_revoked", 1)
	e.events.waitCount(t, "cert_obtained/renewal", 1)
	var next *x509.Certificate
	waitFor(t, "a new certificate served", func() bool {
		next, staple = stapled(t, srv.addr, roots)
		return next.SerialNumber.Cmp(first.SerialNumber) != 0
	})
	if staple.Status != ocsp.Good || staple.SerialNumber.Cmp(next.SerialNumber) != 0 {
		t.Errorf("new certificate %x: staple status %d for serial %x, want Good", next.SerialNumber, staple.Status, staple.SerialNumber)
	}
	if resp.revoked.Load() == 0 {
		t.Error("the responder never answered Revoked")
	}
	if got := counter(t, m.met.revoked); got < 1 {
		t.Errorf("certificates_revoked_total = %v, want ≥ 1", got)
	}
	if got := counter(t, m.met.acme.WithLabelValues("renew", "ok")); got < 1 {
		t.Errorf("acme_total{renew,ok} = %v, want ≥ 1", got)
	}
	if !strings.Contains(e.logs.String(), "OCSP says the certificate is revoked") {
		t.Error("the revocation was not logged")
	}
	if got := e.pebble.Issued(); got != 2 {
		t.Errorf("Pebble issued %d certificates, want 2 (the first and its replacement)", got)
	}
	// The replacement stays: no handshake serves the revoked one again.
	for range 5 {
		if c, _ := stapled(t, srv.addr, roots); c.SerialNumber.Cmp(first.SerialNumber) == 0 {
			t.Fatal("the revoked certificate is served again")
		}
	}
}
