package telemetry

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Tracing is a running tracer: the exporter, the batch span processor and
// the sampler. A nil *Tracing is tracing off: every method is safe on it
// and does nothing. Safe for concurrent use.
type Tracing struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
	root   sdktrace.Sampler // the ratio sampler new traces are decided by
	accept string
}

// New builds the exporter and the TracerProvider from cfg (validated
// here too). It returns nil, nil when tracing is off. It does not contact
// the collector: spans are batched and sent in the background, and a
// collector that is down costs dropped spans, never a waiting request.
// version is the service.version resource attribute.
func New(ctx context.Context, cfg Config, version string) (*Tracing, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Enabled {
		return nil, nil
	}
	tg, err := cfg.endpoint()
	if err != nil {
		return nil, err
	}
	var exp sdktrace.SpanExporter
	switch cfg.Protocol {
	case ProtocolGRPC:
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(tg.host), otlptracegrpc.WithHeaders(cfg.Headers)}
		if tg.plaintext {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		exp, err = otlptracegrpc.New(ctx, opts...)
	default:
		opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(tg.host), otlptracehttp.WithURLPath(tg.path),
			otlptracehttp.WithHeaders(cfg.Headers)}
		if tg.plaintext {
			opts = append(opts, otlptracehttp.WithInsecure())
		}
		exp, err = otlptracehttp.New(ctx, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP %s exporter: %w", cfg.Protocol, err)
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", cfg.ServiceName),
		attribute.String("service.version", version),
	)
	root := sdktrace.TraceIDRatioBased(cfg.SampleRatio)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sdktrace.ParentBased(root)),
		sdktrace.WithIDGenerator(idGenerator{}),
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
	)
	return &Tracing{tp: tp, tracer: tp.Tracer(scope), root: root, accept: cfg.AcceptTraceparent}, nil
}

// AcceptFrom says whether a request's traceparent parents its span, given
// whether its peer is a trusted proxy (tracing.accept_traceparent). The
// caller asks only when the request has one.
func (t *Tracing) AcceptFrom(trustedPeer bool) bool {
	if t == nil {
		return false
	}
	switch t.accept {
	case AcceptAny:
		return true
	case AcceptTrusted:
		return trustedPeer
	}
	return false
}

// AcceptsOnlyTrusted reports whether AcceptFrom depends on the peer, so
// that the caller can skip the trust check otherwise.
func (t *Tracing) AcceptsOnlyTrusted() bool { return t != nil && t.accept == AcceptTrusted }

// Tracer returns the tracer for spans that start outside a request (upload
// events), sampled by the provider's sampler; nil when tracing is off.
func (t *Tracing) Tracer() trace.Tracer {
	if t == nil {
		return nil
	}
	return t.tracer
}

// Shutdown sends the spans still queued, within ctx, and stops the
// exporter. Spans ended after it are dropped.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	if err := t.tp.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("telemetry: shutdown: %w", err)
	}
	return nil
}
