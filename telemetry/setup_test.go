package telemetry

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/edgegate/edgegate/internal/testotlp"
)

func newTracing(t *testing.T, protocol, endpoint string, ratio float64, accept string) *Tracing {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Enabled, cfg.Protocol, cfg.Endpoint, cfg.SampleRatio, cfg.AcceptTraceparent = true, protocol, endpoint, ratio, accept
	cfg.Headers = map[string]string{"x-tenant": "edge"}
	tr, err := New(context.Background(), cfg, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Shutdown(context.Background()) })
	return tr
}

func TestOffIsNil(t *testing.T) {
	tr, err := New(context.Background(), DefaultConfig(), "test")
	if err != nil || tr != nil {
		t.Fatalf("New(defaults) = %v, %v; want nil, nil", tr, err)
	}
	if d := tr.Sample([]byte(traceparents[0])); d.Sampled() {
		t.Fatal("a nil Tracing sampled a request")
	}
	if tr.AcceptFrom(true) || tr.Tracer() != nil || tr.Shutdown(context.Background()) != nil {
		t.Fatal("a nil Tracing is not inert")
	}
}

// TestExportOverHTTPAndGRPC: a sampled request's span and its child reach
// a real OTLP receiver over each protocol, flushed by Shutdown, with the
// service name and the parent linking them.
func TestExportOverHTTPAndGRPC(t *testing.T) {
	for _, protocol := range []string{ProtocolHTTP, ProtocolGRPC} {
		t.Run(protocol, func(t *testing.T) {
			var rcv *testotlp.Receiver
			var url string
			if protocol == ProtocolGRPC {
				rcv, url = testotlp.NewGRPC(t)
			} else {
				rcv, url = testotlp.NewHTTP(t)
			}
			tr := newTracing(t, protocol, url, 1, AcceptAny)
			d := tr.Sample(nil)
			if !d.Sampled() {
				t.Fatal("ratio 1 did not sample")
			}
			ctx, span := tr.Start(context.Background(), d, "request", trace.WithSpanKind(trace.SpanKindServer))
			_, child := Child(ctx, "s3.HeadObject", trace.SpanKindClient)
			child.End()
			span.End()
			if err := tr.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			spans := rcv.Wait(t, 10*time.Second, func(s []testotlp.Span) bool { return len(s) == 2 })
			byName := map[string]testotlp.Span{}
			for _, s := range spans {
				byName[s.Name] = s
			}
			root, kid := byName["request"], byName["s3.HeadObject"]
			if root.TraceID != d.traceID.String() || kid.TraceID != root.TraceID || kid.ParentID != root.SpanID || root.ParentID != "" {
				t.Fatalf("want request (trace %s) → s3.HeadObject; got\n%s", d.traceID, testotlp.Format(spans))
			}
			if root.Service != "edgegate" {
				t.Fatalf("service.name %q", root.Service)
			}
		})
	}
}

// TestSampleAgreesWithProvider: every request Sample decides to record is
// recorded by the provider's own sampler (the ratio on the same trace id,
// or the parent's flag), and the ratio holds.
func TestSampleAgreesWithProvider(t *testing.T) {
	_, url := testotlp.NewHTTP(t)
	tr := newTracing(t, ProtocolHTTP, url, 0.25, AcceptAny)
	const n = 20000
	sampled := 0
	for range n {
		d := tr.Sample(nil)
		if !d.Sampled() {
			continue
		}
		sampled++
		_, span := tr.Start(context.Background(), d, "r")
		if !span.IsRecording() || span.SpanContext().TraceID() != d.traceID {
			t.Fatalf("Sample recorded trace %s, the provider gave %v recording=%v", d.traceID, span.SpanContext().TraceID(), span.IsRecording())
		}
		span.End()
	}
	if sampled < n*20/100 || sampled > n*30/100 {
		t.Fatalf("ratio 0.25 sampled %d of %d", sampled, n)
	}
	for _, tc := range []struct {
		tp   string
		want bool
	}{{traceparents[0], true}, {traceparents[1], false}} {
		d := tr.Sample([]byte(tc.tp))
		if d.Sampled() != tc.want {
			t.Fatalf("%s: sampled %v", tc.tp, d.Sampled())
		}
		if !tc.want {
			continue
		}
		_, span := tr.Start(context.Background(), d.WithTraceState([]byte("vendor=a1,other=b2")), "r")
		sc := span.SpanContext()
		if sc.TraceState().String() != "vendor=a1,other=b2" {
			t.Fatalf("tracestate %q not carried", sc.TraceState())
		}
		if !span.IsRecording() || sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Fatalf("the parent's trace was not continued: %v", sc)
		}
		span.End()
	}
}

// TestUnsampledCostsNothing: with tracing on, deciding not to record a
// request allocates nothing, with or without a traceparent, and a child
// of no recorded span is nothing too.
func TestUnsampledCostsNothing(t *testing.T) {
	_, url := testotlp.NewHTTP(t)
	tr := newTracing(t, ProtocolHTTP, url, 0, AcceptAny)
	notSampled := []byte(traceparents[1])
	ctx := context.Background()
	n := testing.AllocsPerRun(1000, func() {
		if tr.Sample(nil).Sampled() || tr.Sample(notSampled).Sampled() {
			panic("sampled")
		}
		_, s := Child(ctx, "x", trace.SpanKindClient)
		s.End()
	})
	if n != 0 {
		t.Fatalf("an unsampled decision allocates %v times", n)
	}
}

func TestAcceptFrom(t *testing.T) {
	_, url := testotlp.NewHTTP(t)
	for _, tc := range []struct {
		accept           string
		trusted, untrust bool
	}{{AcceptAny, true, true}, {AcceptTrusted, true, false}, {AcceptNever, false, false}} {
		tr := newTracing(t, ProtocolHTTP, url, 0, tc.accept)
		if tr.AcceptFrom(true) != tc.trusted || tr.AcceptFrom(false) != tc.untrust {
			t.Errorf("%s: from trusted %v, from others %v", tc.accept, tr.AcceptFrom(true), tr.AcceptFrom(false))
		}
	}
}

// TestQueueDropsAndCounts: with the collector stalled, spans past
// max_queue are dropped at once (ending a span never waits) and counted;
// every span is either exported or counted dropped.
func TestQueueDropsAndCounts(t *testing.T) {
	release := make(chan struct{})
	rcv, url := testotlp.NewHTTP(t)
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		proxy, _ := http.NewRequest(r.Method, url+r.URL.Path, r.Body)
		proxy.Header = r.Header
		resp, err := http.DefaultClient.Do(proxy)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	defer stall.Close()
	cfg := DefaultConfig()
	cfg.Enabled, cfg.Endpoint, cfg.SampleRatio, cfg.MaxQueue = true, stall.URL, 1, 8
	tr, err := New(context.Background(), cfg, "test")
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	start := time.Now()
	for range n {
		_, span := tr.Start(context.Background(), tr.Sample(nil), "r")
		span.End()
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("ending %d spans took %v with the collector stalled", n, took)
	}
	if st := tr.Stats(); st.Dropped == 0 {
		t.Fatalf("nothing dropped past max_queue 8 with the collector stalled: %+v", st)
	}
	close(release)
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := tr.Stats()
	if st.Exported+st.Dropped != n || st.Failed != 0 || int(st.Exported) != len(rcv.Spans()) {
		t.Fatalf("stats %+v, receiver has %d spans; want exported + dropped = %d", st, len(rcv.Spans()), n)
	}
}

// BenchmarkSample is what tracing on costs a request that is not recorded:
// the ratio's draw, or reading its traceparent.
func BenchmarkSample(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Enabled, cfg.Endpoint = true, "http://127.0.0.1:1"
	tr, err := New(context.Background(), cfg, "test")
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	for _, bc := range []struct{ name, tp string }{{"ratio", ""}, {"traceparent", traceparents[1]}} {
		tp := []byte(bc.tp)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tr.Sample(tp)
			}
		})
	}
}

// Sample's early drop uses the SDK ratio sampler's own rule: for every
// ratio, a trace id it drops early is one the SDK sampler drops, and one it
// keeps the SDK keeps (edges: 0, tiny, 1 and above).
func TestRatioBoundAgreesWithSDK(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, ratio := range []float64{0, 1e-9, 0.01, 0.25, 0.5, 0.999999, 1, 2} {
		root, bound := sdktrace.TraceIDRatioBased(ratio), ratioBound(ratio)
		edges := []uint64{0, 1, bound<<1 - 2, bound<<1 - 1, bound << 1, bound<<1 + 1, math.MaxUint64}
		for i := range 20000 + len(edges) {
			lo := r.Uint64()
			if i < len(edges) {
				lo = edges[i]
			}
			early := lo>>1 < bound
			sdk := root.ShouldSample(sdktrace.SamplingParameters{ParentContext: context.Background(),
				TraceID: newTraceIDEndingIn(lo)}).Decision == sdktrace.RecordAndSample
			if early != sdk {
				t.Fatalf("ratio %v, low half %#x: early %v, SDK %v", ratio, lo, early, sdk)
			}
		}
	}
}
