package gateway

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/edgegate/edgegate/internal/h2serve"
)

// HTTP/2 on the TLS listener (internal/h2serve) answers a header list past
// 8 KiB with a JSON 431, and counts it in
// edgegate_h2_refused_total{reason="headers_too_large"}; a route answer
// on the same connection is the one HTTP/1.1 gets.
func TestH2HeaderLimitCounted(t *testing.T) {
	g := startTLSGateway(t)
	c, err := tls.Dial("tcp", strings.TrimPrefix(g.https, "https://"), &tls.Config{RootCAs: g.pool, ServerName: "localhost", NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fr := http2.NewFramer(c, c)
	io.WriteString(c, http2.ClientPreface)
	fr.WriteSettings()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	send := func(id uint32, path string, extra ...hpack.HeaderField) {
		hb.Reset()
		for _, f := range append([]hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"},
			{Name: ":authority", Value: "localhost"}, {Name: ":path", Value: path}}, extra...) {
			enc.WriteField(f)
		}
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true})
	}
	send(1, "/r/map-tiles.zip?region=uk", hpack.HeaderField{Name: "x-big", Value: strings.Repeat("b", 9000)})
	send(3, "/r/map-tiles.zip?region=egypt-cairo")
	status := map[uint32]string{}
	loc := map[uint32]string{}
	bodies := map[uint32]string{}
	var cur uint32
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		switch f.Name {
		case ":status":
			status[cur] = f.Value
		case "location":
			loc[cur] = f.Value
		}
	})
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for done := 0; done < 2; {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("read: %v (so far %v)", err, status)
		}
		switch f := f.(type) {
		case *http2.HeadersFrame:
			cur = f.StreamID
			dec.Write(f.HeaderBlockFragment())
			if f.StreamEnded() {
				done++
			}
		case *http2.DataFrame:
			bodies[f.StreamID] += string(f.Data())
			if f.StreamEnded() {
				done++
			}
		case *http2.RSTStreamFrame:
			t.Fatalf("stream %d reset: %v", f.StreamID, f.ErrCode)
		}
	}
	if status[1] != "431" || !strings.Contains(bodies[1], `"status":431`) {
		t.Errorf("big header list: %s %q", status[1], bodies[1])
	}
	if status[3] != "302" || !strings.Contains(loc[3], "egypt/cairo/map-tiles.zip") {
		t.Errorf("route: %s %q", status[3], loc[3])
	}
	_, body := get(t, g.admin+"/metrics")
	if !strings.Contains(string(body), `edgegate_h2_refused_total{reason="headers_too_large"} 1`) {
		t.Errorf("metrics: no headers_too_large count:\n%s", grepLines(string(body), "edgegate_h2_"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// On HTTP/2 too, a cached route request is answered inline (Fast) without
// an allocation.
func TestH2RouteAllocatesNothing(t *testing.T) {
	g := startGateway(t, demoRules(t), withGeo(t))
	h := &h2Handler{s: g.srv, h: g.srv.Handler(), name: "edgegate"}
	for _, tc := range []struct {
		name, path string
		hdr        []string
		loc        string
	}{
		{"query region", "/r/map-tiles.zip?region=uk-london", nil, "/uk/london/map-tiles.zip?"},
		{"geoip", "/r/map-tiles.zip", []string{"x-forwarded-for", ipCairo}, "/egypt/cairo/map-tiles.zip?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req h2serve.Request
			req.Method, req.Scheme, req.Authority, req.Path = []byte("GET"), []byte("https"), []byte("x"), []byte(tc.path)
			req.Peer = netip.MustParseAddrPort("127.0.0.1:1")
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				req.AppendHeader(tc.hdr[i], tc.hdr[i+1])
			}
			var resp h2serve.Response
			h.Slow(&req, &resp) // warm-up: existence checks and the URL cache fill
			var ok bool
			allocs := testing.AllocsPerRun(200, func() {
				resp.Reset()
				ok = h.Fast(&req, &resp)
			})
			if !ok || resp.Status != 302 {
				t.Fatalf("Fast %v, status %d", ok, resp.Status)
			}
			checkAllocs(t, allocs, 0, "cached HTTP/2 route request")
		})
	}
}

// tls.http2's limits: defaults on, bounds checked, and applied.
func TestH2ConfigBounds(t *testing.T) {
	base := "listen_tls: 127.0.0.1:8443\ntls: {certificates: [{cert_file: c.pem, key_file: k.pem}], http2: "
	for _, tc := range []struct{ name, http2, wantErr string }{
		{"defaults", "{}", ""},
		{"set", "{max_concurrent_streams: 1000, max_header_bytes: 1024, reset_budget: 1, control_budget: 1000000}", ""},
		{"streams negative", "{max_concurrent_streams: -1}", "tls.http2.max_concurrent_streams"},
		{"streams too many", "{max_concurrent_streams: 1001}", "tls.http2.max_concurrent_streams"},
		{"header bytes too small", "{max_header_bytes: 1023}", "tls.http2.max_header_bytes"},
		{"header bytes too large", "{max_header_bytes: 1048577}", "tls.http2.max_header_bytes"},
		{"reset budget negative", "{reset_budget: -5}", "tls.http2.reset_budget"},
		{"control budget too large", "{control_budget: 1000001}", "tls.http2.control_budget"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig("test.yaml", []byte("rules: rules.yaml\n"+base+tc.http2+"}\n"))
			if err == nil {
				err = cfg.Validate()
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := h2serve.New(cfg.h2serveConfig(time.Minute), nil); err != nil {
					t.Fatalf("h2serve refuses a valid config: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one naming %q", err, tc.wantErr)
			}
		})
	}
	g := startTLSGateway(t, func(c *Config) { c.TLS.HTTP2.MaxHeaderBytes = 2048 })
	c, err := tls.Dial("tcp", strings.TrimPrefix(g.https, "https://"), &tls.Config{RootCAs: g.pool, ServerName: "localhost", NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fr := http2.NewFramer(c, c)
	io.WriteString(c, http2.ClientPreface)
	fr.WriteSettings()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: "localhost"}, {Name: ":path", Value: "/r/map-tiles.zip?region=uk"}, {Name: "x-big", Value: strings.Repeat("b", 3000)}} {
		enc.WriteField(f)
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true})
	var status string
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		if f.Name == ":status" {
			status = f.Value
		}
	})
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for status == "" {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if h, ok := f.(*http2.HeadersFrame); ok {
			dec.Write(h.HeaderBlockFragment())
		}
	}
	if status != "431" {
		t.Fatalf("3000-byte header list with max_header_bytes 2048: %s", status)
	}
}
