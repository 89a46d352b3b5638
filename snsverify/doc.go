// Package snsverify reads the messages Amazon SNS POSTs to an HTTPS
// subscription and proves they come from SNS: message parsing (Parse),
// and signature verification (Verifier.Verify) for SignatureVersion 1
// (SHA1withRSA) and 2 (SHA256withRSA) over the string AWS documents for
// Notification, SubscriptionConfirmation and UnsubscribeConfirmation.
// The signing certificate is fetched only over https from a host that
// matches the configured SNS host pattern (sns.<region>.amazonaws.com by
// default) and cached, a bounded number of them; messages whose Timestamp
// is older than Config.MaxAge are refused, as are unsigned ones.
//
// It knows nothing of what a message carries (S3 events, the gateway) nor
// of HTTP servers; confirming a subscription (GET SubscribeURL) is the
// caller's, through Verifier.URLAllowed.
package snsverify
