package gateway

// The gateway's spans (package telemetry): what is a span, its name and
// its attributes. Attribute values are bounded: rule, region, bucket,
// status, sizes, cache status, never a key or an address.

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/edgegate/edgegate/resize"
	"github.com/edgegate/edgegate/store"
	"github.com/edgegate/edgegate/telemetry"
)

// Span names: the server spans after their route templates, the others
// after the S3 operation or the image step.
const (
	spanRoute  = "/r/{key}"
	spanImage  = "/img/{spec}/{key}"
	spanEvent  = "s3 event"
	spanHead   = "s3.HeadObject"
	spanGet    = "s3.GetObject"
	spanPut    = "s3.PutObject"
	spanProbe  = "image.probe"
	spanResize = "image.resize"
)

// sample decides whether a request is recorded: by its traceparent when
// tracing.accept_traceparent accepts it from this peer, else by the
// ratio. Tracing off, it is the zero Decision at the cost of a nil check;
// on, it allocates nothing.
func (s *Server) sample(sc *scratch, peer netip.Addr) telemetry.Decision {
	if s.tracing == nil {
		return telemetry.Decision{}
	}
	tp := sc.hdrs.traceparent
	if len(tp) > 0 && !s.tracing.AcceptFrom(s.tracing.AcceptsOnlyTrusted() && s.ipres.Trusted(peer)) {
		tp = nil
	}
	return s.tracing.Sample(tp)
}

// routeSpan is a /r/ request's span: nothing unless the request is
// sampled. Waiting for S3 (the off-loop and fasthttp paths), the span is
// started before decide, so that the HEADs are its children; answered
// from memory (noWait) it is made when the answer is, with the request's
// start time, so a request the loop then runs off-loop leaves no span.
type routeSpan struct {
	dec   telemetry.Decision
	start time.Time
	ctx   context.Context // with span; nil until started
	span  trace.Span
}

// traceRoute samples a /r/ request and, unless in.noWait, starts its span.
func (s *Server) traceRoute(bg context.Context, sc *scratch, in *routeIn) routeSpan {
	if s.tracing == nil {
		return routeSpan{}
	}
	return s.traceRouteOn(bg, sc, in)
}

func (s *Server) traceRouteOn(bg context.Context, sc *scratch, in *routeIn) routeSpan {
	rs := routeSpan{dec: s.sample(sc, in.peer)}
	if !rs.dec.Sampled() {
		return rs
	}
	rs.dec = rs.dec.WithTraceState(sc.hdrs.tracestate)
	rs.start = time.Now()
	if !in.noWait {
		rs.ctx, rs.span = s.tracing.Start(bg, rs.dec, spanRoute, trace.WithSpanKind(trace.SpanKindServer))
	}
	return rs
}

// context is what the route's S3 calls carry: the span's, or bg.
func (rs *routeSpan) context(bg context.Context) context.Context {
	if rs.ctx != nil {
		return rs.ctx
	}
	return bg
}

// endRouteSpan ends a sampled /r/ request's span (making it first when
// the answer came from memory) with the decision and the answer. The
// attributes go in with one call (at Start when the span is made here):
// each SetAttributes call grows the span's slice again and allocates its
// own argument, which was most of a sampled request's garbage.
func (s *Server) endRouteSpan(rs *routeSpan, in *routeIn, d *Decision, out *routeOut) {
	attrs := make([]attribute.KeyValue, 0, 7)
	attrs = append(attrs, attribute.String("http.request.method", string(in.method)), attribute.String("http.route", spanRoute))
	attrs = appendDecision(attrs, d)
	attrs = append(attrs, attribute.Int("http.response.status_code", out.status))
	span := rs.span
	if span == nil {
		_, span = s.tracing.Start(context.Background(), rs.dec, spanRoute,
			trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(rs.start), trace.WithAttributes(attrs...))
	} else {
		span.SetAttributes(attrs...)
	}
	if out.err != nil {
		failStatus(span, out.status, out.err)
	}
	span.End()
}

// setDecision records what decide chose, as far as it got.
func setDecision(span trace.Span, d *Decision) {
	if !span.IsRecording() {
		return
	}
	var buf [4]attribute.KeyValue
	if a := appendDecision(buf[:0], d); len(a) > 0 {
		span.SetAttributes(a...)
	}
}

// appendDecision appends what decide chose, as far as it got: region and
// its source, rule and bucket.
func appendDecision(attrs []attribute.KeyValue, d *Decision) []attribute.KeyValue {
	if d.Region != nil {
		attrs = append(attrs, attribute.String("edgegate.region", d.Region.Name), attribute.String("edgegate.region_source", d.RegionSource))
	}
	if d.Route != nil {
		attrs = append(attrs, attribute.String("edgegate.rule", d.Route.Name), attribute.String("aws.s3.bucket", d.Bucket))
	}
	return attrs
}

// failStatus marks a server span failed for a 5xx answer (a 4xx is the
// client's mistake, per the HTTP semantic conventions), recording the
// cause, and names any refusal.
func failStatus(span trace.Span, status int, e *Error) {
	if status < http.StatusInternalServerError {
		return
	}
	if e.Err != nil {
		span.RecordError(e.Err)
	}
	span.SetStatus(codes.Error, e.Msg)
}

// startImageSpan samples an /img/ request and starts its span; bg and its
// non-recording span when the request is not recorded.
func (s *Server) startImageSpan(bg context.Context, sc *scratch, peer netip.Addr, method []byte) (context.Context, trace.Span) {
	dec := s.sample(sc, peer)
	if !dec.Sampled() {
		return bg, trace.SpanFromContext(bg)
	}
	dec = dec.WithTraceState(sc.hdrs.tracestate)
	ctx, span := s.tracing.Start(bg, dec, spanImage, trace.WithSpanKind(trace.SpanKindServer))
	span.SetAttributes(attribute.String("http.request.method", string(method)), attribute.String("http.route", spanImage))
	return ctx, span
}

// endImageSpan ends an /img/ request's span with its answer: status,
// X-Cache, body size.
func endImageSpan(span trace.Span, status int, xcache []byte, bytes int, e *Error) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.Int("http.response.status_code", status), attribute.Int("http.response.body.size", bytes))
	if len(xcache) > 0 {
		span.SetAttributes(attribute.String("edgegate.cache", string(xcache)))
	}
	if e != nil {
		failStatus(span, status, e)
	} else if status >= http.StatusInternalServerError {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}

// endS3Span ends an S3 call's span: the bucket, what was read or written
// (source, variant), its size, and the error; a missing object is an
// answer, not an error.
func endS3Span(span trace.Span, bucket, object string, size int, err error) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String("rpc.system", "aws-api"), attribute.String("rpc.service", "S3"),
		attribute.String("aws.s3.bucket", bucket))
	if object != "" {
		span.SetAttributes(attribute.String("edgegate.object", object))
	}
	if size > 0 {
		span.SetAttributes(attribute.Int("edgegate.bytes", size))
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		telemetry.Fail(span, err)
	}
	span.End()
}

// endHeadSpan ends an existence check's span.
func endHeadSpan(span trace.Span, bucket string, m store.Meta, err error) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.Bool("edgegate.exists", m.Exists))
	endS3Span(span, bucket, "", int(m.Size), err)
}

// endProbeSpan ends a source's probe: what its header says, or why it
// cannot be rendered.
func endProbeSpan(span trace.Span, info resize.Info, err error) {
	if !span.IsRecording() {
		return
	}
	if err == nil {
		span.SetAttributes(attribute.String("image.format", info.Format.String()),
			attribute.Int("image.width", info.Width), attribute.Int("image.height", info.Height))
	}
	telemetry.Fail(span, err)
	span.End()
}

// endResizeSpan ends a render: the output format and size, or the error.
func endResizeSpan(span trace.Span, f resize.Format, size int, err error) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String("image.output_format", f.String()), attribute.Int("edgegate.bytes", size))
	telemetry.Fail(span, err)
	span.End()
}

// detachSpan returns a context that carries only ctx's recorded span, for
// background work the request started (a write-back) and must not cancel.
func detachSpan(ctx context.Context) context.Context {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return context.Background()
	}
	return trace.ContextWithSpan(context.Background(), span)
}

// startEventSpan starts the span of one upload event's processing: under
// the POST's accepted traceparent (sampled as it says), else a new trace
// sampled by the ratio; ctx and its non-recording span when tracing is
// off.
func (s *Server) startEventSpan(ctx context.Context, j eventJob) (context.Context, trace.Span) {
	if s.tracing == nil {
		return ctx, trace.SpanFromContext(ctx)
	}
	if j.parent.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, j.parent)
	}
	return s.tracing.Tracer().Start(ctx, spanEvent, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("aws.s3.bucket", j.bucket)))
}

// registerTracingMetrics exports what became of the recorded spans
// (zeros with tracing off): edgegate_tracing_spans_total{outcome}.
func (s *Server) registerTracingMetrics() {
	desc := prometheus.NewDesc("edgegate_tracing_spans_total",
		"Recorded spans by outcome: exported (the collector took them), failed (the export failed after retries), dropped (tracing.max_queue spans were waiting).",
		[]string{"outcome"}, nil)
	s.metrics.reg.MustRegister(tracingCollector{t: s.tracing, desc: desc})
}

// tracingCollector reads telemetry.Stats at scrape time.
type tracingCollector struct {
	t    *telemetry.Tracing
	desc *prometheus.Desc
}

func (c tracingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c tracingCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.t.Stats()
	for _, o := range []struct {
		name string
		n    uint64
	}{{"exported", st.Exported}, {"failed", st.Failed}, {"dropped", st.Dropped}} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(o.n), o.name)
	}
}
