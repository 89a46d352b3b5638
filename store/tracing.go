package store

import (
	"context"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// traceMiddleware puts the W3C traceparent of the span in an operation's
// context on each of its attempts, so that S3 (or a proxy in front of it)
// can join its side to the gateway's trace. A context without a valid span
// (tracing off, or the request not sampled) sends nothing and costs one
// context lookup. It runs after signing: the header is not part of the
// signature, so a server that rewrites or drops it cannot break one.
func traceMiddleware(st *middleware.Stack) error {
	return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("edgegate.traceparent", func(ctx context.Context,
		in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		if trace.SpanContextFromContext(ctx).IsValid() {
			if req, ok := in.Request.(*smithyhttp.Request); ok {
				propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(req.Header))
			}
		}
		return next.HandleFinalize(ctx, in)
	}), middleware.After)
}
