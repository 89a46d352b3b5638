package certs

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"slices"
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

// ObserveQUICHandshake counts one QUIC (HTTP/3) handshake, and its
// failure when reason (one of the Reason constants) is not "". The HTTP/3
// server calls it when a connection finishes its handshake or closes
// before finishing it. Safe for concurrent use.
func (m *Manager) ObserveQUICHandshake(reason string) {
	m.met.quicHandshakes.Inc()
	if reason == "" {
		return
	}
	if !slices.Contains(reasons, reason) {
		reason = ReasonOther
	}
	m.met.quicErrors.WithLabelValues(reason).Inc()
}

// AlertReason classifies a TLS alert (RFC 8446 section 6) that ended a
// handshake, sent by the client or by us, into one of the Reason
// constants: what a QUIC connection close carries in place of the error.
func AlertReason(alert uint8) string {
	switch alert {
	case 112: // unrecognized_name
		return ReasonUnknownSNI
	case 40, 71: // handshake_failure, insufficient_security
		return ReasonNoSharedCipher
	case 120: // no_application_protocol
		return ReasonNoALPN
	case 70: // protocol_version
		return ReasonProtocolVersion
	case 42, 43, 44, 45, 46, 48: // bad, unsupported, revoked, expired, unknown certificate; unknown_ca
		return ReasonBadCertificate
	}
	return ReasonOther
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
	case strings.Contains(msg, "unsupported application protocols"),
		strings.Contains(msg, "did not request an application protocol"):
		return ReasonNoALPN
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
