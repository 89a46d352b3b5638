package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// scope is the instrumentation scope of edgegate's spans.
const scope = "github.com/edgegate/edgegate"

// Child starts a span under ctx's span when that one is recorded, and
// otherwise returns ctx and its (non-recording) span unchanged, so that
// code below a request can start spans unconditionally: an unsampled
// request, or one with tracing off, gets no span and no allocation.
// Callers guard attribute calls with span.IsRecording() (a variadic call
// allocates its slice); End is always safe.
// (Options are built only for a recorded parent: a variadic argument
// would allocate on every call.)
func Child(ctx context.Context, name string, kind trace.SpanKind) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, parent
	}
	return parent.TracerProvider().Tracer(scope).Start(ctx, name, trace.WithSpanKind(kind))
}

// Fail marks a recorded span failed with err (recorded as an exception
// event). A nil err or a non-recording span is left alone.
func Fail(span trace.Span, err error) {
	if err == nil || !span.IsRecording() {
		return
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}
