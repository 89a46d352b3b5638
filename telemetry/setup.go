package telemetry

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

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
	bound  uint64           // root's bound (ratioBound): Sample drops below it without root
	accept string
	queue  *queue
}

// Stats counts what became of the recorded spans.
type Stats struct {
	Exported uint64 // sent and accepted by the collector
	Failed   uint64 // sent, and the export failed (after the exporter's retries)
	Dropped  uint64 // not sent: max_queue spans were waiting
}

// Stats returns the counts so far; zero when tracing is off. Safe for
// concurrent use.
func (t *Tracing) Stats() Stats {
	if t == nil {
		return Stats{}
	}
	return Stats{Exported: t.queue.exported.Load(), Failed: t.queue.failed.Load(), Dropped: t.queue.dropped.Load()}
}

// queue bounds the spans between their end and their export (the batch
// processor's queue and the batch being built or sent) and counts them:
// the batch processor drops silently when its queue is full, so the spans
// are counted in (OnEnd) and out (ExportSpans) around it, and one that
// would pass max_queue is dropped here, counted. Safe for concurrent use.
type queue struct {
	sdktrace.SpanProcessor // the batch processor
	exp                    sdktrace.SpanExporter
	max                    int64
	waiting                atomic.Int64
	exported, failed       atomic.Uint64
	dropped                atomic.Uint64
}

func (q *queue) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return // the batch processor exports sampled spans only
	}
	if q.waiting.Add(1) > q.max {
		q.waiting.Add(-1)
		q.dropped.Add(1)
		return
	}
	q.SpanProcessor.OnEnd(s)
}

// queueExporter is the exporter the batch processor sends to.
type queueExporter struct{ q *queue }

func (e queueExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	n := len(spans)
	e.q.waiting.Add(-int64(n))
	err := e.q.exp.ExportSpans(ctx, spans)
	if err != nil {
		e.q.failed.Add(uint64(n))
	} else {
		e.q.exported.Add(uint64(n))
	}
	return err
}

func (e queueExporter) Shutdown(ctx context.Context) error { return e.q.exp.Shutdown(ctx) }

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
	q := &queue{exp: exp, max: int64(cfg.MaxQueue)}
	// Its own queue is never the one that fills: q holds at most as many.
	q.SpanProcessor = sdktrace.NewBatchSpanProcessor(queueExporter{q}, sdktrace.WithMaxQueueSize(cfg.MaxQueue))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sdktrace.ParentBased(root)),
		sdktrace.WithIDGenerator(idGenerator{}),
		sdktrace.WithSpanProcessor(q),
		sdktrace.WithResource(res),
	)
	return &Tracing{tp: tp, tracer: tp.Tracer(scope), root: root, bound: ratioBound(cfg.SampleRatio), accept: cfg.AcceptTraceparent, queue: q}, nil
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

// ForceFlush sends the spans ended so far and waits for the export,
// within ctx; tracing goes on. For benchmarks and tests that must count
// the export in their figure.
func (t *Tracing) ForceFlush(ctx context.Context) error {
	if t == nil {
		return nil
	}
	if err := t.tp.ForceFlush(ctx); err != nil {
		return fmt.Errorf("telemetry: flush: %w", err)
	}
	return nil
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
