package gateway

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/valyala/fasthttp"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/evloop"
	"github.com/edgegate/edgegate/internal/testotlp"
	"github.com/edgegate/edgegate/telemetry"
)

// withTracing turns tracing on, exporting to url over OTLP/HTTP, with the
// batch processor sending every 50ms (the SDK reads its schedule from the
// environment) so that tests do not wait its default 5s.
func withTracing(t *testing.T, url string, ratio float64, accept string) func(*Config) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	return func(c *Config) {
		c.Tracing.Enabled, c.Tracing.Endpoint, c.Tracing.SampleRatio, c.Tracing.AcceptTraceparent = true, url, ratio, accept
	}
}

const (
	incomingTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	incomingSpan  = "00f067aa0ba902b7"
	tpSampled     = "00-" + incomingTrace + "-" + incomingSpan + "-01"
	tpNotSampled  = "00-" + incomingTrace + "-" + incomingSpan + "-00"
)

func spansNamed(spans []testotlp.Span, name string) []testotlp.Span {
	var out []testotlp.Span
	for _, s := range spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// one returns the only span named name, failing the test otherwise.
func one(t *testing.T, spans []testotlp.Span, name string) testotlp.Span {
	t.Helper()
	got := spansNamed(spans, name)
	if len(got) != 1 {
		t.Fatalf("%d spans named %s, want 1:\n%s", len(got), name, testotlp.Format(spans))
	}
	return got[0]
}

// TestTraceImageMiss: an image miss, asked with a traceparent from a
// trusted proxy, is one trace that goes on from the caller's: the
// server span (its parent the caller's span) and under it, in order, the
// existence HEAD, the source GET, the probe, the render and the
// write-back PUT, all with the caller's trace id, with bounded attributes.
func TestTraceImageMiss(t *testing.T) {
	rcv, url := testotlp.NewHTTP(t)
	jpg, _ := demo.SampleJPEG(800, 600)
	key := putObject(t, "traced.jpg", jpg, "image/jpeg")
	g := startGateway(t, demoRules(t), withImages(func(c *ImagesConfig) { c.StoreVariants = true }),
		withTracing(t, url, 0, telemetry.AcceptTrusted),
		func(c *Config) { c.Geo.TrustedProxies = []string{"127.0.0.0/8", "::1"} })
	resp, body := get(t, g.base+"/img/thumbnail/"+key, "traceparent", tpSampled)
	if resp.StatusCode != 200 || resp.Header.Get("X-Cache") != "MISS" {
		t.Fatalf("status %d X-Cache %q: %.200s", resp.StatusCode, resp.Header.Get("X-Cache"), body)
	}
	spans := rcv.Wait(t, 20*time.Second, func(s []testotlp.Span) bool { return len(spansNamed(s, spanPut)) > 0 })
	srv := one(t, spans, spanImage)
	if srv.TraceID != incomingTrace || srv.ParentID != incomingSpan {
		t.Fatalf("server span in trace %s under %s, want the caller's %s under %s", srv.TraceID, srv.ParentID, incomingTrace, incomingSpan)
	}
	want := []string{spanHead, spanGet, spanProbe, spanResize, spanPut}
	var steps []testotlp.Span
	for _, name := range want {
		var s testotlp.Span
		if name == spanGet { // the stored variant's GET (a 404) comes first
			for _, g := range spansNamed(spans, spanGet) {
				if g.Attrs["edgegate.object"] == "source" {
					s = g
				}
			}
		} else {
			s = one(t, spans, name)
		}
		if s.TraceID != incomingTrace || s.ParentID != srv.SpanID {
			t.Fatalf("%s: trace %s parent %s, want trace %s under the server span %s:\n%s", name, s.TraceID, s.ParentID, incomingTrace, srv.SpanID, testotlp.Format(spans))
		}
		steps = append(steps, s)
	}
	if !sort.SliceIsSorted(steps, func(i, j int) bool { return steps[i].Start.Before(steps[j].Start) }) {
		t.Fatalf("steps out of order, want %v:\n%s", want, testotlp.Format(spans))
	}
	for name, attrs := range map[string]map[string]string{
		spanImage: {"http.route": spanImage, "http.response.status_code": "200", "edgegate.cache": "MISS",
			"edgegate.rule": "assets", "edgegate.region": "global", "edgegate.region_source": "default", "aws.s3.bucket": demo.Bucket},
		spanHead:   {"aws.s3.bucket": demo.Bucket, "edgegate.exists": "true"},
		spanProbe:  {"image.format": "jpeg", "image.width": "800"},
		spanResize: {"image.output_format": "jpeg"},
		spanPut:    {"aws.s3.bucket": demo.Bucket, "edgegate.object": "variant"},
	} {
		s := one(t, spans, name)
		for k, v := range attrs {
			if s.Attrs[k] != v {
				t.Errorf("%s: %s = %q, want %q", name, k, s.Attrs[k], v)
			}
		}
		for k, v := range s.Attrs {
			if strings.Contains(v, "traced.jpg") || strings.Contains(v, "127.0.0.1") {
				t.Errorf("%s: attribute %s carries a key or an address: %q", name, k, v)
			}
		}
	}
	exported := regexp.MustCompile(`(?m)^edgegate_tracing_spans_total\{outcome="exported"\} [1-9]`)
	waitFor(t, 10*time.Second, "edgegate_tracing_spans_total{outcome=\"exported\"} > 0", func() bool {
		_, m := get(t, g.admin+"/metrics")
		return exported.Match(m)
	})
}

// TestTraceRoute: a /r/ request's span, on the event loops and on
// fasthttp: its first request waits for the existence HEAD (the HEAD is
// its child, and reaches S3 with its traceparent), the next is answered
// from memory; an accepted traceparent parents it and decides its
// sampling (its tracestate is carried on), one from a peer that is not
// trusted does neither.
func TestTraceRoute(t *testing.T) {
	for _, loops := range []int{0, -1} {
		name := map[int]string{0: "event loops", -1: "fasthttp"}[loops]
		t.Run(name, func(t *testing.T) {
			rcv, url := testotlp.NewHTTP(t)
			rel := putObject(t, "route.bin", []byte("x"), "application/octet-stream")
			g := startGateway(t, demoRules(t), withTracing(t, url, 1, telemetry.AcceptTrusted), func(c *Config) {
				c.EventLoops = loops
				c.Geo.TrustedProxies = []string{"127.0.0.0/8", "::1"}
			})
			for i := range 2 {
				if resp, body := get(t, g.base+"/r/"+rel, "traceparent", tpSampled, "tracestate", "vendor=a1"); resp.StatusCode != 302 {
					t.Fatalf("request %d: status %d: %s", i, resp.StatusCode, body)
				}
			}
			spans := rcv.Wait(t, 10*time.Second, func(s []testotlp.Span) bool { return len(spansNamed(s, spanRoute)) >= 2 })
			routes := spansNamed(spans, spanRoute)
			head := one(t, spans, spanHead)
			for _, r := range routes {
				if r.TraceID != incomingTrace || r.ParentID != incomingSpan || r.Attrs["http.response.status_code"] != "302" ||
					r.Attrs["edgegate.rule"] != "assets" || r.Attrs["edgegate.region_source"] != "default" || r.TraceState != "vendor=a1" {
					t.Fatalf("route span not under the caller's or without its answer:\n%s", testotlp.Format(spans))
				}
			}
			if head.ParentID != routes[0].SpanID && head.ParentID != routes[1].SpanID {
				t.Fatalf("the HEAD is not a route span's child:\n%s", testotlp.Format(spans))
			}

			// Not sampled by the caller: not recorded, whatever the ratio.
			before := len(rcv.Spans())
			get(t, g.base+"/r/"+rel, "traceparent", tpNotSampled)
			// From an untrusted peer: a new trace, recorded by the ratio.
			g2 := startGateway(t, demoRules(t), withTracing(t, url, 1, telemetry.AcceptTrusted), func(c *Config) { c.EventLoops = loops })
			get(t, g2.base+"/r/"+rel, "traceparent", tpNotSampled)
			spans = rcv.Wait(t, 10*time.Second, func(s []testotlp.Span) bool { return len(spansNamed(s[before:], spanRoute)) >= 1 })
			fresh := spansNamed(spans[before:], spanRoute)
			if len(fresh) != 1 || fresh[0].TraceID == incomingTrace || fresh[0].ParentID != "" {
				t.Fatalf("want one new trace from the untrusted peer, nothing from the unsampled caller:\n%s", testotlp.Format(spans[before:]))
			}
		})
	}
}

// TestTracedButUnsampledAllocatesNothing: with tracing on, a request that
// is not sampled (the ratio says no, or its trusted traceparent does)
// costs the cached route path no allocation, on the loops and on fasthttp.
func TestTracedButUnsampledAllocatesNothing(t *testing.T) {
	_, url := testotlp.NewHTTP(t)
	g := startGateway(t, demoRules(t), withGeo(t), withTracing(t, url, 0, telemetry.AcceptTrusted))
	for _, tp := range []string{"", tpNotSampled} {
		hdr := ""
		if tp != "" {
			hdr = "Traceparent: " + tp + "\r\n"
		}
		raw := []byte("GET /r/map-tiles.zip?region=uk-london HTTP/1.1\r\nHost: x\r\n" + hdr + "\r\n")
		var r evloop.Request
		if _, ok := r.Parse(raw); !ok {
			t.Fatal("request not parsed")
		}
		r.Peer = netip.MustParseAddr("127.0.0.1")
		h := loopHandler{g.srv}
		dst := make([]byte, 0, 4096)
		h.ServeBlocking(dst, &r) // warm-up
		allocs := testing.AllocsPerRun(200, func() {
			r.Parse(raw)
			h.Serve(dst[:0], &r)
		})
		checkAllocs(t, allocs, 0, "loops, traceparent "+tp)

		var req fasthttp.Request
		req.SetRequestURI("/r/map-tiles.zip?region=uk-london")
		if tp != "" {
			req.Header.Set("Traceparent", tp)
		}
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}, nil)
		fh := g.srv.Handler()
		fh(&ctx)
		allocs = testing.AllocsPerRun(200, func() {
			ctx.Response.Reset()
			fh(&ctx)
		})
		if ctx.Response.StatusCode() != 302 {
			t.Errorf("fasthttp, traceparent %q: status %d", tp, ctx.Response.StatusCode())
		}
		checkAllocs(t, allocs, 0, "fasthttp, traceparent "+tp)
	}
}

// BenchmarkLoopHandlerTracing is BenchmarkLoopHandlerGeoIP with tracing
// off, and on at ratios 0.01 and 1, exporting over OTLP/HTTP to a receiver
// that reads and discards the spans (its decoding is the collector's cost,
// not ours). The spans made, ended and exported during the run are in
// the figure: the benchmark flushes the exporter before it stops the
// timer. Compare ns/op (or, load-independent, instructions under
// callgrind: see BENCHMARKS.md) of the three.
func BenchmarkLoopHandlerTracing(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	b.Cleanup(sink.Close)
	rulesYAML, err := os.ReadFile("../examples/rules.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		ratio float64 // < 0: tracing off
	}{{"off", -1}, {"ratio=0.01", 0.01}, {"ratio=1", 1}} {
		b.Run(bc.name, func(b *testing.B) {
			mut := []func(*Config){withGeo(b)}
			if bc.ratio >= 0 {
				mut = append(mut, func(c *Config) {
					c.Tracing.Enabled, c.Tracing.Endpoint, c.Tracing.SampleRatio = true, sink.URL, bc.ratio
				})
			}
			g := startGatewayTB(b, rulesYAML, mut...)
			loopGeoIPRequests(b, g.srv)
			if g.srv.tracing != nil {
				if err := g.srv.tracing.ForceFlush(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
		})
	}
}

// TestTraceEventUnderItsPOST: an upload event POSTed with a traceparent
// from a trusted peer is processed on the sender's trace (the event span
// the POST's span's child, its HEAD under it), sampled as the sender
// said even at ratio 0; one from an untrusted peer starts its own trace,
// which ratio 0 does not record.
func TestTraceEventUnderItsPOST(t *testing.T) {
	rcv, url := testotlp.NewHTTP(t)
	jpg, _ := demo.SampleJPEG(640, 480)
	key := putObject(t, "traced-event.jpg", jpg, "image/jpeg")
	for _, trusted := range []bool{true, false} {
		g := startGateway(t, demoRules(t), withImages(func(c *ImagesConfig) { c.StoreVariants = true }),
			withTracing(t, url, 0, telemetry.AcceptTrusted), func(c *Config) {
				c.Events.Eager = []string{"global/test-img/**"}
				if trusted {
					c.Geo.TrustedProxies = []string{"127.0.0.0/8", "::1"}
				}
			})
		req, _ := http.NewRequest(http.MethodPost, g.admin+"/events/s3",
			strings.NewReader(eventBody("s3:ObjectCreated:Put", demo.Bucket, "global/"+key)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Traceparent", tpSampled)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("event POST: %d", resp.StatusCode)
		}
		waitFor(t, 20*time.Second, "the event to be processed", func() bool {
			return testutil.ToFloat64(g.srv.metrics.eventsProcessed) >= 1
		})
		if !trusted {
			g.srv.tracing.ForceFlush(context.Background())
			if ev := spansNamed(rcv.Spans(), spanEvent); len(ev) != 1 {
				t.Fatalf("untrusted peer's traceparent: %d event spans in all, want only the trusted run's:\n%s", len(ev), testotlp.Format(rcv.Spans()))
			}
			continue
		}
		spans := rcv.Wait(t, 10*time.Second, func(s []testotlp.Span) bool { return len(spansNamed(s, spanEvent)) >= 1 })
		ev := one(t, spans, spanEvent)
		if ev.TraceID != incomingTrace || ev.ParentID != incomingSpan {
			t.Fatalf("event span not under the POST's traceparent:\n%s", testotlp.Format(spans))
		}
		var heads int
		for _, s := range spansNamed(spans, spanHead) {
			if s.ParentID == ev.SpanID {
				heads++
			}
		}
		if heads == 0 {
			t.Fatalf("no HEAD under the event span:\n%s", testotlp.Format(spans))
		}
	}
}
