package telemetry

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// otelParse is what the OpenTelemetry TraceContext propagator reads.
func otelParse(v string) (trace.SpanContext, bool) {
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": v})
	sc := trace.SpanContextFromContext(ctx)
	return sc, sc.IsValid()
}

var traceparents = []string{
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-04",          // reserved flag in version 00
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",         // version 00 ends at the flags
	"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-whatever", // later versions may go on
	"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
	"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	"fe-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	"00-00000000000000000000000000000000-00f067aa0ba902b7-01", // zero trace id
	"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // zero span id
	"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // upper case
	"00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
	"0-04bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	"",
	"garbage",
}

func TestParseTraceparentMatchesOTel(t *testing.T) {
	for _, v := range traceparents {
		want, wok := otelParse(v)
		got, ok := ParseTraceparent([]byte(v))
		if ok != wok || (ok && !got.Equal(want)) {
			t.Errorf("%q: got %v %v, OpenTelemetry reads %v %v", v, got, ok, want, wok)
		}
	}
}

func TestParseTraceparentAllocatesNothing(t *testing.T) {
	v := []byte(traceparents[0])
	if n := testing.AllocsPerRun(100, func() { ParseTraceparent(v) }); n != 0 {
		t.Fatalf("ParseTraceparent allocates %v times", n)
	}
}

// FuzzTraceparentMatchesOTel: the hand-written parser (it runs on every
// request while tracing is on) accepts and reads what the OpenTelemetry
// propagator does.
func FuzzTraceparentMatchesOTel(f *testing.F) {
	for _, v := range traceparents {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		want, wok := otelParse(v)
		got, ok := ParseTraceparent([]byte(v))
		if ok != wok || (ok && !got.Equal(want)) {
			t.Fatalf("%q: got %v %v, OpenTelemetry reads %v %v", v, got, ok, want, wok)
		}
	})
}
