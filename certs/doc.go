// Package certs owns edgegate's TLS certificates: PEM files (several, picked
// by SNI, reloaded when they change, the old pair kept when a new file is
// bad) and ACME-managed certificates through caddyserver/certmagic (HTTP-01
// and TLS-ALPN-01, issuance only for the configured names, renewal, OCSP
// stapling, certmagic's rate-limit-aware retries), stored with their locks
// in a directory or in the S3 bucket a fleet shares, so N gateways starting
// together make one issuance.
//
// It gives the TLS listener a *tls.Config (TLSConfig) whose GetCertificate
// picks the certificate for a ClientHello, a handler for the HTTP-01
// challenge (HTTPChallenge), handshake accounting (ObserveHandshake),
// metrics and a status listing (Status).
//
// It does not own listeners, ALPN dispatch or HTTP serving (package gateway
// does), and it never writes an ACME client (certmagic and acmez do).
//
// Files: config.go (Config, Validate), check.go (Check, for `edgegate
// check`), files.go (loading and reloading PEM pairs), manager.go (Manager:
// New, TLSConfig, Start, Status, Close), acme.go (certmagic setup, events,
// HTTPChallenge), storage.go (certmagic Storage on the S3 bucket),
// handshake.go (ObserveHandshake), metrics.go, zaplog.go (certmagic's zap
// logs into slog).
package certs
