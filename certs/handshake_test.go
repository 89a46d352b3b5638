package certs

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// Real clients that fail the handshake in different ways are counted by
// reason, and the server is left serving.
func TestHandshakeErrorReasons(t *testing.T) {
	ca, dir := newTestCA(t), t.TempDir()
	m := newFileManager(t, Config{Certificates: []FilePair{ca.writePair(t, dir, "a", []string{"a.example.com"}, false)}}, Options{})
	srv := serveTLS(t, m, "")
	raw := func(b []byte) func() error {
		return func() error {
			c, err := net.DialTimeout("tcp", srv.addr, 5*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			c.Write(b)
			if cw, ok := c.(*net.TCPConn); ok {
				cw.CloseWrite()
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			io.Copy(io.Discard, c) // until the server closes
			return nil
		}
	}
	tlsClient := func(mod func(*tls.Config)) func() error {
		return func() error {
			_, err := dial(srv.addr, "a.example.com", ca.pool, mod)
			if err == nil {
				return errors.New("handshake succeeded")
			}
			return nil
		}
	}
	tests := []struct {
		reason string
		client func() error
	}{
		{ReasonNotTLS, raw([]byte("GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n"))},
		{ReasonEOF, raw(nil)},
		{ReasonEOF, raw([]byte{0x16, 0x03, 0x01, 0x01})}, // a record header cut short
		{ReasonOversized, raw([]byte{0x16, 0x03, 0x01, 0xff, 0xff})},
		{ReasonOversized, raw([]byte{0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0xff, 0xff, 0xff})},
		{ReasonProtocolVersion, tlsClient(func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 })},
		{ReasonNoSharedCipher, tlsClient(func(c *tls.Config) {
			c.MaxVersion, c.CipherSuites = tls.VersionTLS12, []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA}
		})},
		{ReasonBadCertificate, tlsClient(func(c *tls.Config) { c.RootCAs = nil })},
		{ReasonNoALPN, tlsClient(func(c *tls.Config) { c.NextProtos = []string{"spdy/3"} })},
		{ReasonUnknownSNI, func() error { _, err := dial(srv.addr, "b.example.com", ca.pool, nil); return errIfNil(err) }},
	}
	for _, tt := range tests {
		before := counter(t, m.met.handshakeErrors.WithLabelValues(tt.reason))
		total := counter(t, m.met.handshakes)
		if err := tt.client(); err != nil {
			t.Errorf("%s client: %v", tt.reason, err)
			continue
		}
		waitFor(t, "the handshake counted", func() bool { return counter(t, m.met.handshakes) > total })
		// Its reason is counted just after the handshake itself: give it
		// a moment on a loaded machine before reading it.
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) &&
			counter(t, m.met.handshakeErrors.WithLabelValues(tt.reason)) == before; {
			time.Sleep(5 * time.Millisecond)
		}
		if got := counter(t, m.met.handshakeErrors.WithLabelValues(tt.reason)); got != before+1 {
			var all []string
			for _, r := range reasons {
				all = append(all, fmt.Sprintf("%s=%v", r, counter(t, m.met.handshakeErrors.WithLabelValues(r))))
			}
			t.Errorf("%s: counted %v → %v; all: %v", tt.reason, before, got, all)
		}
	}
	if _, err := dial(srv.addr, "a.example.com", ca.pool, nil); err != nil {
		t.Errorf("a good client after the bad ones: %v", err)
	}
}

func errIfNil(err error) error {
	if err == nil {
		return errors.New("handshake succeeded")
	}
	return nil
}

func TestHandshakeReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("x: %w", ErrUnknownName), ReasonUnknownSNI},
		{ErrNoCertificate, ReasonNoCertificate},
		{os.ErrDeadlineExceeded, ReasonTimeout},
		{&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, ReasonTimeout},
		{io.EOF, ReasonEOF},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, ReasonNotTLS},
		{errors.New("tls: client offered only unsupported versions: [302 301]"), ReasonProtocolVersion},
		{errors.New("tls: no cipher suite supported by both client and server"), ReasonNoSharedCipher},
		{errors.New("remote error: tls: bad certificate"), ReasonBadCertificate},
		{errors.New("tls: client requested unsupported application protocols ([spdy/3])"), ReasonNoALPN},
		{errors.New("something new"), ReasonOther},
	}
	for _, tt := range tests {
		if got := HandshakeReason(tt.err); got != tt.want {
			t.Errorf("HandshakeReason(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
}

func TestAlertReason(t *testing.T) {
	tests := []struct {
		alert uint8
		want  string
	}{
		{42, ReasonBadCertificate}, {48, ReasonBadCertificate}, {45, ReasonBadCertificate},
		{40, ReasonNoSharedCipher}, {120, ReasonNoALPN}, {70, ReasonProtocolVersion},
		{112, ReasonUnknownSNI}, {80, ReasonOther}, {10, ReasonOther},
	}
	for _, tt := range tests {
		if got := AlertReason(tt.alert); got != tt.want {
			t.Errorf("AlertReason(%d) = %s, want %s", tt.alert, got, tt.want)
		}
	}
}

// QUIC handshakes are counted apart from TCP ones, by the same reasons;
// a reason outside the set counts as other.
func TestObserveQUICHandshake(t *testing.T) {
	ca, dir := newTestCA(t), t.TempDir()
	m := newFileManager(t, Config{Certificates: []FilePair{ca.writePair(t, dir, "a", []string{"a.example.com"}, false)}}, Options{})
	m.ObserveQUICHandshake("")
	m.ObserveQUICHandshake(ReasonNoALPN)
	m.ObserveQUICHandshake("made_up")
	if got := counter(t, m.met.quicHandshakes); got != 3 {
		t.Errorf("quic_handshakes_total = %v, want 3", got)
	}
	for r, want := range map[string]float64{ReasonNoALPN: 1, ReasonOther: 1, ReasonUnknownSNI: 0} {
		if got := counter(t, m.met.quicErrors.WithLabelValues(r)); got != want {
			t.Errorf("quic_handshake_errors_total{%s} = %v, want %v", r, got, want)
		}
	}
	if got := counter(t, m.met.handshakes); got != 0 {
		t.Errorf("tls_handshakes_total = %v, want 0 (QUIC counts apart)", got)
	}
}
