package telemetry

import "go.opentelemetry.io/otel/trace"

// ParseTraceparent reads a W3C traceparent header value
// (version-traceid-parentid-flags, lower-case hex) into a remote
// SpanContext, without allocating: it runs on every request while tracing
// is on. It accepts exactly what go.opentelemetry.io/otel/propagation's
// TraceContext accepts (FuzzTraceparentMatchesOTel): version 00 with
// nothing after the flags and no reserved flag bits, a later version (up
// to fe) with anything after them, non-zero ids. The tracestate header is
// not read. ok is false for a value TraceContext would ignore.
func ParseTraceparent(v []byte) (sc trace.SpanContext, ok bool) {
	// 00-<32 hex>-<16 hex>-<2 hex>: 55 bytes; a later version may go on.
	if len(v) < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return sc, false
	}
	ver, vok := hexByte(v[0], v[1])
	if !vok || ver == 0xff {
		return sc, false
	}
	var cfg trace.SpanContextConfig
	for i := range cfg.TraceID {
		b, ok := hexByte(v[3+2*i], v[4+2*i])
		if !ok {
			return sc, false
		}
		cfg.TraceID[i] = b
	}
	for i := range cfg.SpanID {
		b, ok := hexByte(v[36+2*i], v[37+2*i])
		if !ok {
			return sc, false
		}
		cfg.SpanID[i] = b
	}
	flags, fok := hexByte(v[53], v[54])
	if !fok {
		return sc, false
	}
	if len(v) > 55 {
		// Anything may follow a later version's flags, after a '-';
		// version 00 ends there (TraceContext cuts at each '-', so it
		// takes a lone trailing one too).
		if v[55] != '-' || ver == 0 && len(v) > 56 {
			return sc, false
		}
	}
	if ver == 0 && flags > 3 {
		return sc, false
	}
	cfg.TraceFlags = trace.TraceFlags(flags) & (trace.FlagsSampled | trace.FlagsRandom)
	cfg.Remote = true
	sc = trace.NewSpanContext(cfg)
	return sc, sc.IsValid()
}

// hexByte decodes two lower-case hex digits.
func hexByte(hi, lo byte) (byte, bool) {
	h, ok1 := unhex(hi)
	l, ok2 := unhex(lo)
	return h<<4 | l, ok1 && ok2
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
