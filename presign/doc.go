// Package presign turns (bucket, key, TTL) into a URL a client can fetch
// without credentials: an S3 SigV4 presigned GET URL ([Signer.Sign]) or a
// CDN URL, optionally CloudFront-signed ([Signer.SignCDN]).
//
// It owns URL signing only: which bucket and key to sign is decided by the
// caller (package rules via package gateway), and how to reach a bucket
// (region, endpoint, path-style) and the AWS credentials come from package
// store. It knows nothing of HTTP requests.
//
// # Window-aligned signing
//
// Signatures are stamped with the current time floored to [Config.Window]
// (default 60 s) and made valid for TTL + Window, so a URL handed out at any
// moment of a window is valid for at least the TTL, and every request for
// the same object in one window gets byte-for-byte the same URL. That makes
// the URLs cacheable downstream and lets the Signer cache them itself until
// the window ends: after warm-up, a Sign is a map lookup that allocates
// nothing.
//
// The validity is capped at SigV4's 7 days (X-Amz-Expires ≤ 604800, so a
// 7-day TTL loses up to one window) and, for temporary credentials, at the
// credentials' own expiry. Temporary credentials are refreshed in the
// background before they lapse, never on the request path; [Signer.Close]
// stops that refresher.
//
// # Signing
//
// The SigV4 query signer is a small one of this package's own (sigv4.go):
// the signing key is derived once per (credentials, day, region) and the URL
// is built in one buffer. FuzzSignMatchesSDK proves it produces exactly the
// URL the AWS SDK's S3 presigner produces; the integration tests prove a real
// S3 server (versitygw) accepts it and rejects tampered, expired and
// wrongly-keyed URLs.
package presign
