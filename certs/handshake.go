package certs

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
)

// ErrUnknownName is the handshake error for a server name no certificate
// is configured for: the handshake fails and nothing is issued.
var ErrUnknownName = errors.New("certs: no certificate is configured for this server name")

// ErrNoCertificate is the handshake error for a configured ACME name whose
// certificate has not been obtained (yet).
var ErrNoCertificate = errors.New("certs: the certificate for this name has not been obtained yet")

// ObserveHandshake counts one handshake on the TLS listener, and its
// failure by reason when err is not nil. The listener calls it with the
// result of each HandshakeContext. Safe for concurrent use.
func (m *Manager) ObserveHandshake(err error) {
	m.met.handshakes.Inc()
	if err == nil {
		return
	}
	m.met.handshakeErrors.WithLabelValues(HandshakeReason(err)).Inc()
}

// HandshakeReason classifies a server-side handshake error into one of the
// Reason constants.
func HandshakeReason(err error) string {
	var rh tls.RecordHeaderError
	var ne net.Error
	msg := err.Error()
	switch {
	case errors.Is(err, ErrUnknownName):
		return ReasonUnknownSNI
	case errors.Is(err, ErrNoCertificate):
		return ReasonNoCertificate
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ReasonTimeout
	case strings.Contains(msg, "oversized record"), strings.Contains(msg, "exceeds maximum"):
		return ReasonOversized
	case errors.As(err, &rh):
		return ReasonNotTLS
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, net.ErrClosed), errors.Is(err, syscall.EPIPE):
		return ReasonEOF
	case strings.Contains(msg, "no cipher suite supported"), strings.Contains(msg, "no ECDHE curve"),
		strings.Contains(msg, "no mutually supported"), strings.Contains(msg, "handshake failure"),
		strings.Contains(msg, "unsupported signature"):
		return ReasonNoSharedCipher
	case strings.Contains(msg, "unsupported versions"), strings.Contains(msg, "protocol version"),
		strings.Contains(msg, "inappropriate protocol fallback"):
		return ReasonProtocolVersion
	case strings.Contains(msg, "certificate"):
		// The client's alert: bad certificate, unknown certificate
		// authority, certificate expired, ...
		return ReasonBadCertificate
	}
	return ReasonOther
}
