// Package telemetry owns edgegate's OpenTelemetry traces: the `tracing:`
// configuration, the TracerProvider (OTLP over HTTP or gRPC, batched, a
// parent-based ratio sampler, W3C trace context), and the few calls the
// request paths make.
//
// Tracing is off by default, and off it costs nothing: New returns a nil
// *Tracing, whose methods are safe to call and do nothing. On, a request's
// sampling is decided first (Tracing.Sample: the request's own traceparent,
// or the ratio), without allocating and without a context.Context, so that
// an unsampled request pays a few nanoseconds; only a sampled one gets a
// context and spans (Tracing.Start), and only a recorded span gets children
// (Child), so the code under it starts spans unconditionally.
//
// It knows nothing of HTTP servers, routes or S3; package gateway decides
// what a span is and which attributes it carries, and package store puts
// the traceparent on S3 requests.
//
// One file per job:
//
//	config.go       Config: defaults, Validate
//	setup.go        New, Shutdown: the exporter and the TracerProvider
//	sampler.go      Sample, Decision, Start: sampling decided before any span
//	propagation.go  ParseTraceparent: W3C traceparent without allocating
//	span.go         Child: a span under a recorded one, or nothing
package telemetry
