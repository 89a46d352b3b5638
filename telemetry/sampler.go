package telemetry

import (
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Decision is a request's sampling decision, made before any span or
// context exists. The zero Decision is "not sampled".
type Decision struct {
	parent  trace.SpanContext // the accepted remote parent; invalid for a new trace
	traceID trace.TraceID     // a new trace's id, the one the ratio was decided on
	sampled bool
}

// Sampled reports whether the request is recorded.
func (d Decision) Sampled() bool { return d.sampled }

// Sample decides whether a request is recorded, without allocating: a
// valid traceparent (which the caller passes only when AcceptFrom allows
// it; nil otherwise) decides by its sampled flag, as the TracerProvider's
// parent-based sampler will; else a new trace id is drawn and the ratio
// sampler decides on it, and Start gives the trace that id, so the
// provider's sampler (the same one) agrees. Safe for concurrent use; on a
// nil *Tracing it returns the zero Decision.
func (t *Tracing) Sample(traceparent []byte) Decision {
	if t == nil {
		return Decision{}
	}
	if len(traceparent) > 0 {
		if sc, ok := ParseTraceparent(traceparent); ok {
			return Decision{parent: sc, sampled: sc.IsSampled()}
		}
	}
	// The SDK's ratio sampler keeps a trace whose id's last 8 bytes,
	// shifted right once, are under its bound: draw those first and drop
	// most requests without the rest of an id or a call into the SDK.
	lo := rand.Uint64()
	if lo>>1 >= t.bound {
		return Decision{}
	}
	var d Decision
	d.traceID = newTraceIDEndingIn(lo)
	r := t.root.ShouldSample(sdktrace.SamplingParameters{ParentContext: context.Background(), TraceID: d.traceID})
	d.sampled = r.Decision == sdktrace.RecordAndSample
	return d
}

// WithTraceState returns d with its accepted parent's tracestate header
// value, which W3C trace context has a participant pass on unchanged (in
// the span context, so the S3 calls' traceparent carries it too). A value
// that does not parse is ignored, as TraceContext ignores it. For sampled
// decisions only: it allocates.
func (d Decision) WithTraceState(v []byte) Decision {
	if !d.parent.IsValid() || len(v) == 0 {
		return d
	}
	if ts, err := trace.ParseTraceState(string(v)); err == nil {
		d.parent = d.parent.WithTraceState(ts)
	}
	return d
}

// Start starts a sampled request's span, the root of its part of the
// trace: under the accepted remote parent, or in the new trace Sample drew.
// ctx carries the request's other values (it must hold no span). It is
// for sampled decisions only.
func (t *Tracing) Start(ctx context.Context, d Decision, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if d.parent.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, d.parent)
	} else {
		ctx = context.WithValue(ctx, presetTraceID{}, d.traceID)
	}
	return t.tracer.Start(ctx, name, opts...)
}

// presetTraceID is the context key under which Start hands idGenerator
// the trace id Sample decided on.
type presetTraceID struct{}

// idGenerator makes random ids (as the SDK's does), except that a new
// trace takes the id preset in its context by Start. Safe for concurrent
// use.
type idGenerator struct{}

func (idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	tid, ok := ctx.Value(presetTraceID{}).(trace.TraceID)
	if !ok || !tid.IsValid() {
		tid = newTraceID()
	}
	return tid, newSpanID()
}

func (idGenerator) NewSpanID(context.Context, trace.TraceID) trace.SpanID { return newSpanID() }

func newTraceID() trace.TraceID {
	var tid trace.TraceID
	for !tid.IsValid() {
		binary.NativeEndian.PutUint64(tid[:8], rand.Uint64())
		binary.NativeEndian.PutUint64(tid[8:], rand.Uint64())
	}
	return tid
}

// newTraceIDEndingIn returns a random valid trace id whose last 8 bytes
// are lo (big-endian, as the ratio sampler reads them).
func newTraceIDEndingIn(lo uint64) trace.TraceID {
	var tid trace.TraceID
	binary.BigEndian.PutUint64(tid[8:], lo)
	for !tid.IsValid() {
		binary.NativeEndian.PutUint64(tid[:8], rand.Uint64())
	}
	return tid
}

// ratioBound is the SDK ratio sampler's bound for ratio: a trace is kept
// when its id's last 8 bytes, big-endian, shifted right once, are below it
// (sdktrace.TraceIDRatioBased; every trace at 1 and above).
func ratioBound(ratio float64) uint64 {
	switch {
	case ratio >= 1:
		return math.MaxUint64
	case ratio <= 0:
		return 0
	}
	return uint64(ratio * (1 << 63))
}

func newSpanID() trace.SpanID {
	var sid trace.SpanID
	for !sid.IsValid() {
		binary.NativeEndian.PutUint64(sid[:], rand.Uint64())
	}
	return sid
}
